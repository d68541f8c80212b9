/**
 * Retiring a Bun.serve without failing a keep-alive client's next request.
 *
 * Bun's stop(false) closes idle keep-alive connections at once, and busy ones
 * right after their current response, without saying so: a client that has
 * just sent its next request on such a connection sees it closed or reset
 * under it. So a server that is going away first answers every response with
 * `Connection: close` for a while (Bun writes the header and closes the
 * connection after that response; the client knows not to send on it again),
 * and only then stops. Both the certificate swap (TlsServerSet retiring a
 * generation) and the gateway's shutdown use this.
 *
 * The handler is swapped with reload(), so a server that is not draining runs
 * its own handler with no check on its hot path. Requests already being
 * handled keep the handler they started with.
 */
import type { Server, WebSocketHandler } from "bun";

export interface ServerHandlers<WS> {
  fetch(request: Request, server: Server<WS>): Response | undefined | Promise<Response | undefined>;
  /** The server's WebSocket handler, if it has one: reload() needs it again. */
  readonly websocket?: WebSocketHandler<WS>;
}

/**
 * From now on every response `server` sends says `Connection: close`.
 * `onRequest`, if given, is told of each request that arrives meanwhile.
 */
export function answerWithConnectionClose<WS>(server: Server<WS>, handlers: ServerHandlers<WS>, onRequest?: () => void): void {
  const { fetch, websocket } = handlers;
  const closing = async (request: Request, current: Server<WS>) => {
    onRequest?.();
    const response = await fetch(request, current);
    return response && closingConnection(response);
  };
  // Bun's types want a WebSocket handler whenever WS is not undefined; a server started without one gets none again.
  server.reload((websocket ? { fetch: closing, websocket } : { fetch: closing }) as Parameters<Server<WS>["reload"]>[0]);
}

/** `response` with `Connection: close` (a copy when its headers are immutable). */
export function closingConnection(response: Response): Response {
  // A 101 (WebSocket) never reaches here: upgrades return undefined.
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    // Immutable headers (a Response from fetch()): copy them.
    const copy = new Response(response.body, response);
    copy.headers.set("connection", "close");
    return copy;
  }
}
