/**
 * Before any worker binds with SO_REUSEPORT, the supervisor makes sure each
 * port is free: an exclusive bind fails while anything (another gateway, its
 * workers) holds the port, so a second supervisor is refused as a lone gateway
 * is. Ports set to 0 (any) become the free port found, so every worker binds
 * the same one.
 */
import type { TCPSocketListener } from "bun";
import type { Config } from "../core/config";
import { listenOrExplain } from "../dispatcher/listen";
import type { WorkerPorts } from "./worker-env";

export function checkAndResolvePorts(config: Config): WorkerPorts {
  const wanted: [keyof WorkerPorts, string, number | null][] = [
    ["HTTP_PORT", config.serverHost, config.httpPort],
    ["HTTPS_PORT", config.serverHost, config.httpsPort],
    ["API_PORT", config.apiBind, config.apiPort],
    ["PROXY_PROTOCOL_PORT", config.serverHost, config.proxyProtocolPort],
    ["METRICS_PORT", config.metricsBind, config.metricsPort],
  ];
  const held: TCPSocketListener<undefined>[] = [];
  const ports: Partial<Record<keyof WorkerPorts, number>> = {};
  try {
    // All held at once: two settings of 0 must not get the same free port.
    for (const [setting, hostname, port] of wanted) {
      if (port === null) continue;
      const probe = listenOrExplain(setting, () => Bun.listen({ hostname, port, socket: { data() {} } }));
      held.push(probe);
      ports[setting] = probe.port;
    }
  } finally {
    for (const probe of held) probe.stop(true);
  }
  return ports as WorkerPorts;
}
