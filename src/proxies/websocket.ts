/**
 * WebSocket passthrough: the backend connection is opened first, so an
 * unreachable backend is a 502 before the client is upgraded and the backend's
 * chosen subprotocol can be handed back in the client's 101 response. Then
 * frames are relayed both ways, pausing the reading side whenever the writing
 * side has too much queued.
 */
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { UpstreamError, classifyError, upstreamErrorResponse } from "./errors";
import type { ForwardContext, ForwardTarget } from "./forward-target";
import { upstreamRequestHeaders } from "./headers";
import type { ForwardingOptions } from "./options";
import { upstreamPath } from "./request-target";
import { relayHandler, type WebSocketProxyData, newRelay } from "./websocket-relay";

export type { WebSocketProxyData } from "./websocket-relay";

/** Handshake headers the backend client generates itself. */
const HANDSHAKE = ["sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"];

export function isWebSocketUpgrade(request: Request): boolean {
  const upgrade = request.headers.get("upgrade");
  return upgrade !== null && upgrade.toLowerCase() === "websocket" && request.method === "GET";
}

export interface WebSocketProxy {
  upgrade(request: Request, server: Server<WebSocketProxyData>, target: ForwardTarget, context: ForwardContext): Promise<Response | undefined>;
  readonly websocket: WebSocketHandler<WebSocketProxyData>;
  close(): void;
}

export function createWebSocketProxy(options: ForwardingOptions): WebSocketProxy {
  const live = new Set<WebSocket>();
  // The whole backend handshake must fit in the connect timeout (or the request timeout, if shorter).
  const handshakeMs = Math.min(options.connectTimeoutMs, options.requestTimeoutMs);
  const handshakeFailure = options.connectTimeoutMs <= options.requestTimeoutMs ? "connect_timeout" : "request_timeout";

  const upgrade: WebSocketProxy["upgrade"] = async (request, server, target, context) => {
    const accept = request.headers.get("accept");
    const headers = upstreamRequestHeaders(request.headers, target, context);
    for (const name of HANDSHAKE) headers.delete(name);
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
    const scheme = target.url.protocol === "https:" ? "wss://" : "ws://";
    const url = scheme + target.url.host + upstreamPath(target.basePath, request.url);

    let backend: WebSocket;
    try {
      backend = new WebSocket(url, { headers, protocols: offered, perMessageDeflate: false });
    } catch (error) {
      return upstreamErrorResponse(classifyError(error), accept, context.trace?.requestId);
    }
    live.add(backend);
    backend.addEventListener("close", () => live.delete(backend));
    const relay = newRelay(backend, options.streams);
    try {
      await opened(backend, handshakeMs, handshakeFailure);
    } catch (error) {
      relay.abandon();
      return handshakeRejected(error) ?? upstreamErrorResponse(classifyError(error), accept, context.trace?.requestId);
    }
    const upgradeHeaders: Record<string, string> = {};
    if (backend.protocol) upgradeHeaders["sec-websocket-protocol"] = backend.protocol;
    if (context.trace) upgradeHeaders["x-request-id"] = context.trace.requestId;
    if (!server.upgrade(request, { data: relay, headers: upgradeHeaders })) {
      relay.abandon();
      return new Response("WebSocket upgrade failed\n", { status: 400 });
    }
    return undefined;
  };

  return {
    upgrade,
    websocket: relayHandler,
    close() {
      for (const backend of live) backend.terminate();
      live.clear();
    },
  };
}

/**
 * The backend answered the handshake with an HTTP status instead of 101 (Bun's
 * client only reports it in the message): the client gets that status, bodiless.
 */
function handshakeRejected(error: unknown): Response | undefined {
  const match = /Expected 101 status code: (\d{3})/.exec(String((error as Error | undefined)?.message ?? ""));
  const status = match ? Number(match[1]) : 0;
  return status >= 400 && status <= 599 ? new Response(null, { status }) : undefined;
}

/** Resolves when the backend handshake succeeded; rejects with a classified error otherwise. */
function opened(backend: WebSocket, timeoutMs: number, onTimeout: "connect_timeout" | "request_timeout"): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new UpstreamError(onTimeout)), timeoutMs);
    const done = (error?: unknown) => {
      clearTimeout(timer);
      backend.removeEventListener("open", onOpen);
      backend.removeEventListener("error", onError);
      backend.removeEventListener("close", onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onOpen = () => done();
    const onError = (event: Event) => done((event as ErrorEvent).error ?? new UpstreamError("unreachable"));
    const onClose = () => done(new UpstreamError("invalid_response"));
    backend.addEventListener("open", onOpen);
    backend.addEventListener("error", onError);
    backend.addEventListener("close", onClose);
  });
}

export type { ServerWebSocket };
