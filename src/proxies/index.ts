/**
 * The forwarding engine: what the dispatcher calls once it has picked a
 * ForwardTarget for a request. One engine per gateway process; it owns the
 * keep-alive connections to backends.
 */
import type { Server, WebSocketHandler } from "bun";
import { createHttpForwarder } from "./http-forward";
import { Deadlines } from "./http1/deadlines";
import { PoolSet } from "./http1/pool";
import type { ForwardContext, ForwardTarget } from "./forward-target";
import type { ForwardingOptions } from "./options";
import { createWebSocketProxy, isWebSocketUpgrade, type WebSocketProxyData } from "./websocket";
import { dispatchRequest, type UpstreamRequest } from "./http1/client";

export { parseCidrList, type CidrList } from "./cidr";
export { upstreamErrorResponse, upstreamFailureOf, prefersJson, type UpstreamFailure } from "./errors";
export { forwardTarget, type ForwardContext, type ForwardTarget } from "./forward-target";
export { rewriteResponseHeaders, upstreamRequestHeaders, visitUpstreamRequestHeaders } from "./headers";
export { DEFAULT_FORWARDING_OPTIONS, type ForwardingOptions } from "./options";
export type { WebSocketProxyData } from "./websocket";

export interface ForwardingEngine {
  /** Forwards one HTTP request (not a WebSocket upgrade). Never throws: backend failures become error responses. */
  forward(request: Request, target: ForwardTarget, context: ForwardContext): Promise<Response>;
  /** True if the request asks for a WebSocket upgrade. */
  isWebSocketUpgrade(request: Request): boolean;
  /**
   * Connects the backend WebSocket, then upgrades the client; resolves to
   * undefined when upgraded, else to an error Response (502/504 when the backend
   * cannot be reached). Asynchronous because the backend's answer (reachable?
   * which subprotocol?) must be known before the client's 101 is sent.
   */
  upgradeWebSocket(
    request: Request,
    server: Server<WebSocketProxyData>,
    target: ForwardTarget,
    context: ForwardContext,
  ): Promise<Response | undefined>;
  /** Pass to Bun.serve({ websocket }) of every listener that may upgrade. */
  readonly websocket: WebSocketHandler<WebSocketProxyData>;
  /**
   * Sends a request whose head (and body) the caller has written itself, on
   * the same keep-alive connections; `request` answers the client (the raw
   * edge, dispatcher/raw-edge).
   */
  send(target: ForwardTarget, request: UpstreamRequest): void;
  /** Its timeouts, and the open-stream counts of the gateway's metrics. */
  readonly options: ForwardingOptions;
  /** Closes pooled backend connections and relayed WebSockets. */
  close(): void;
}

export function createForwardingEngine(options: ForwardingOptions): ForwardingEngine {
  const requestDeadlines = new Deadlines(options.requestTimeoutMs);
  const pools = new PoolSet(options.connectTimeoutMs, requestDeadlines);
  const forward = createHttpForwarder(pools, options.streams);
  const websockets = createWebSocketProxy(options);
  return {
    forward,
    send: (target, request) => dispatchRequest(pools.forUrl(target.url), request),
    options,
    isWebSocketUpgrade,
    upgradeWebSocket: websockets.upgrade,
    websocket: websockets.websocket,
    close() {
      pools.close();
      requestDeadlines.close();
      websockets.close();
    },
  };
}
