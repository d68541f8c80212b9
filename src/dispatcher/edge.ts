/** The plain-HTTP edge on HTTP_PORT. */
import type { WebSocketProxyData } from "../proxies";
import { createDispatch, type DispatchOptions } from "./dispatch";
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
