/**
 * The HTTPS edge on HTTPS_PORT: the same dispatch as HTTP behind TLS, with the
 * certificates from Redis picked by SNI (the self-signed fallback for other
 * names). Certificate changes never fail a request or drop an open stream;
 * how depends on the kernel (see pickTlsListener).
 */
import type { Logger } from "../core/logger";
import type { LiveCertificates } from "../certificates/live-certificates";
import { migratesPendingConnections, TlsListenerSet, TlsServerSet, type TlsListener, type TlsListenerBaseOptions } from "../../native-tls/tls-listener";
import type { WebSocketProxyData } from "../proxies";
import { createDispatch, type DispatchOptions } from "./dispatch";
import { listenOrExplain, SERVE_DEFAULTS } from "./listen";
import type { DrainableListener } from "./shutdown";

export interface HttpsEdgeOptions extends Omit<DispatchOptions, "clientAddress"> {
  readonly hostname: string;
  readonly port: number;
  /** Seconds an idle client connection stays open (CLIENT_IDLE_TIMEOUT). */
  readonly idleTimeoutSeconds: number;
  readonly certificates: LiveCertificates;
  readonly log: Logger;
  /** Behind a PROXY protocol relay (HTTPS_PROXY_PROTOCOL): the client behind the relay's connection. */
  readonly identifyClient?: (peerAddress: string, peerPort: number) => string;
  /** Share the port with the other workers (SO_REUSEPORT). */
  readonly reusePort?: boolean;
}

export interface HttpsEdge extends DrainableListener {
  /** A server from before the last certificate change may still accept a connection. */
  readonly draining: boolean;
  /** Why the latest certificate change could not be applied (the previous set still serves); null when it was. */
  readonly certificateProblem: string | null;
}

/** Changes arriving within this window are applied together: a burst costs one new TLS server. */
const COALESCE_MS = 20;

export function startHttpsEdge(options: HttpsEdgeOptions): HttpsEdge {
  const dispatch = createDispatch({ ...options, clientAddress: (request, server) => listener.clientAddress(request, server) }, "https");
  const listener = listenOrExplain("HTTPS_PORT", () =>
    pickTlsListener(
      {
        hostname: options.hostname,
        port: options.port,
        reusePort: options.reusePort,
        identifyClient: options.identifyClient,
        http: {
          fetch: dispatch,
          websocket: options.engine.websocket,
          idleTimeout: options.idleTimeoutSeconds,
          // Bodies stream through to backends, which set their own limits; Bun's default caps them at 128 MiB.
          maxRequestBodySize: Number.MAX_SAFE_INTEGER,
          error: SERVE_DEFAULTS.error,
        },
      },
      options,
    ),
  );

  let pending: ReturnType<typeof setTimeout> | undefined;
  let certificateProblem: string | null = null;
  const apply = () => {
    pending = undefined;
    try {
      listener.setCertificates(options.certificates.served);
      certificateProblem = null;
    } catch (err) {
      certificateProblem = (err as Error).message;
      // Each certificate was checked on load, so this is Bun refusing the set as a whole: keep serving the previous one.
      options.log.error({ err: (err as Error).message }, "could not apply the new certificates; still serving the previous ones");
    }
  };
  const unsubscribe = options.certificates.onChange(() => {
    pending ??= setTimeout(apply, COALESCE_MS);
  });

  return {
    port: listener.port,
    get draining() {
      return listener.draining;
    },
    get certificateProblem() {
      return certificateProblem;
    },
    get pendingRequests() {
      return listener.pendingRequests;
    },
    drain(onRequest) {
      // Shutting down: a certificate change from now on would only start a server that is about to stop.
      unsubscribe();
      clearTimeout(pending);
      listener.drain(onRequest);
    },
    stop(closeActiveConnections = false) {
      unsubscribe();
      clearTimeout(pending);
      return listener.stop(closeActiveConnections);
    },
  };
}

/**
 * Bun.serve on the port itself (TlsServerSet: as fast as plain HTTP) where
 * the kernel moves connections queued on a retiring SO_REUSEPORT listener to
 * the new one; elsewhere a TCP front that relays to internal TLS servers
 * (TlsListenerSet: the same guarantees, at one extra loopback hop per byte).
 */
function pickTlsListener(base: TlsListenerBaseOptions<WebSocketProxyData>, options: HttpsEdgeOptions): TlsListener<WebSocketProxyData> {
  const certificates = options.certificates.served;
  if (migratesPendingConnections() === true) return new TlsServerSet(base, certificates);
  options.log.warn(
    "net.ipv4.tcp_migrate_req is not 1, so HTTPS runs behind a relay that costs throughput; `sysctl -w net.ipv4.tcp_migrate_req=1` before start makes it faster (docs/operations.md)",
  );
  return new TlsListenerSet(base, certificates);
}
