/**
 * The HTTPS edge on HTTPS_PORT: the same dispatch as HTTP behind TLS, with the
 * certificates from Redis picked by SNI (the self-signed fallback for other
 * names). Certificate changes reach new connections within milliseconds and
 * never touch open ones (see native-tls/tls-listener for how).
 */
import type { Logger } from "../core/logger";
import type { LiveCertificates } from "../certificates/live-certificates";
import { TlsListenerSet } from "../../native-tls/tls-listener";
import type { WebSocketProxyData } from "../proxies";
import { createDispatch, type DispatchOptions } from "./dispatch";
import { listenOrExplain } from "./listen";

export interface HttpsEdgeOptions extends Omit<DispatchOptions, "clientAddress"> {
  readonly hostname: string;
  readonly port: number;
  /** Seconds an idle client connection stays open (CLIENT_IDLE_TIMEOUT). */
  readonly idleTimeoutSeconds: number;
  readonly certificates: LiveCertificates;
  readonly log: Logger;
  /** Behind a PROXY protocol relay (HTTPS_PROXY_PROTOCOL): the client behind the relay's connection. */
  readonly identifyClient?: (peerAddress: string, peerPort: number) => string;
}

export interface HttpsEdge {
  readonly port: number;
  /** Internal TLS servers running (the current one plus any still holding connections from before a change). */
  readonly generationCount: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** Changes arriving within this window are applied together: a burst costs one new internal server. */
const COALESCE_MS = 20;

export function startHttpsEdge(options: HttpsEdgeOptions): HttpsEdge {
  // The internal servers see the front as their peer; the listener knows the client behind each connection.
  const dispatch = createDispatch({ ...options, clientAddress: (request, server) => listener.clientAddress(request, server) }, "https");
  const listener: TlsListenerSet<WebSocketProxyData> = listenOrExplain("HTTPS_PORT", () =>
    new TlsListenerSet<WebSocketProxyData>(
      {
        hostname: options.hostname,
        port: options.port,
        identifyClient: options.identifyClient,
        http: {
          fetch: dispatch,
          websocket: options.engine.websocket,
          idleTimeout: options.idleTimeoutSeconds,
          // Bodies stream through to backends, which set their own limits; Bun's default caps them at 128 MiB.
          maxRequestBodySize: Number.MAX_SAFE_INTEGER,
        },
      },
      options.certificates.served,
    ),
  );

  let pending: ReturnType<typeof setTimeout> | undefined;
  const apply = () => {
    pending = undefined;
    try {
      listener.setCertificates(options.certificates.served);
    } catch (err) {
      // Each certificate was checked on load, so this is Bun refusing the set as a whole: keep serving the previous one.
      options.log.error({ err: (err as Error).message }, "could not apply the new certificates; still serving the previous ones");
    }
  };
  const unsubscribe = options.certificates.onChange(() => {
    pending ??= setTimeout(apply, COALESCE_MS);
  });

  return {
    port: listener.port,
    get generationCount() {
      return listener.generationCount;
    },
    stop(closeActiveConnections = false) {
      unsubscribe();
      clearTimeout(pending);
      return listener.stop(closeActiveConnections);
    },
  };
}
