/**
 * The plain-HTTP edge on HTTP_PORT. API hostnames (localhost, API_HOSTNAME) go
 * to the API app; every other host is looked up in memory, never in Redis.
 */
import type { Server } from "bun";
import { normalizeHost, unknownHostResponse } from "./host";
import { listenOrExplain } from "./listen";

export interface HttpListenerOptions {
  readonly hostname: string;
  readonly port: number;
  readonly apiHostnames: readonly string[];
  readonly api: { fetch(request: Request): Response | Promise<Response> };
}

export function startHttpListener(options: HttpListenerOptions): Server<undefined> {
  const apiHosts = new Set(options.apiHostnames);
  return listenOrExplain("HTTP_PORT", () =>
    Bun.serve({
      hostname: options.hostname,
      port: options.port,
      fetch(request) {
        const host = normalizeHost(request.headers.get("host"));
        if (apiHosts.has(host)) return options.api.fetch(request);
        return unknownHostResponse(host);
      },
    }),
  );
}
