/** The plain-HTTP edge on HTTP_PORT. */
import type { Server, WebSocketHandler } from "bun";
import type { WebSocketProxyData } from "../proxies";
import { createDispatch, type Dispatch, type DispatchOptions } from "./dispatch";
import { listenOrExplain, SERVE_DEFAULTS } from "./listen";
import { drainableServer, type DrainableListener } from "./shutdown";

export interface EdgeOptions extends DispatchOptions {
  readonly hostname: string;
  readonly port: number;
  /** Seconds an idle client connection stays open (CLIENT_IDLE_TIMEOUT). */
  readonly idleTimeoutSeconds: number;
  /** Share the port with the other workers (SO_REUSEPORT); a lone gateway refuses a second bind instead. */
  readonly reusePort?: boolean;
}

export function startHttpEdge(options: EdgeOptions): DrainableListener {
  const dispatch = createDispatch(options, "http");
  const handlers = { fetch: dispatch, websocket: options.engine.websocket };
  const server = listenOrExplain("HTTP_PORT", () =>
    Bun.serve<WebSocketProxyData>({
      ...SERVE_DEFAULTS,
      reusePort: options.reusePort ?? false,
      hostname: options.hostname,
      port: options.port,
      idleTimeout: options.idleTimeoutSeconds,
      // Bodies stream through to backends, which set their own limits; Bun's default caps them at 128 MiB.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      ...handlers,
    }),
  );
  return drainableServer(server, handlers);
}

/**
 * A plain-HTTP Bun.serve on 127.0.0.1 (any free port) behind a listener of
 * the gateway's own: the PROXY protocol relay, or the raw edge's hand-over.
 * Only that listener connects to it, and tells it who the client is.
 */
export function startInternalHttp(handlers: InternalHandlers, idleTimeoutSeconds: number): Server<WebSocketProxyData> {
  return Bun.serve<WebSocketProxyData>({
    ...SERVE_DEFAULTS,
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: idleTimeoutSeconds,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    ...handlers,
  });
}

export interface InternalHandlers {
  readonly fetch: Dispatch;
  readonly websocket: WebSocketHandler<WebSocketProxyData>;
}
