/**
 * Frame relay between an upgraded client (ServerWebSocket) and its backend
 * (WebSocket client). Each direction pauses its reader while the other side
 * has more than HIGH_WATER bytes queued:
 * - backend → client: `send()` returns -1 once the client is backpressured;
 *   the backend is paused until the server's `drain` callback.
 * - client → backend: the client WebSocket has no drain event, so while the
 *   client is paused a short timer polls `bufferedAmount` down to LOW_WATER.
 * Pings are forwarded (each hop already answers its own pong, so pongs are not).
 * Close codes and reasons are passed on; an abnormal end (1006) becomes an
 * abnormal end on the other side.
 */
import type { ServerWebSocket, WebSocketHandler } from "bun";
import type { StreamCounts } from "../metrics/stream-metrics";

const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
const POLL_MS = 5;

export interface WebSocketProxyData {
  readonly backend: WebSocket;
  /** Backend frames that arrived before the client's `open`. */
  pending: (string | Buffer)[] | undefined;
  client: ServerWebSocket<WebSocketProxyData> | undefined;
  drainTimer: ReturnType<typeof setInterval> | undefined;
  closed: boolean;
  /** Told when the client side opens and closes (portcullis_open_websockets). */
  readonly streams: StreamCounts | undefined;
  /** Closes the backend when the client is never upgraded. */
  abandon(): void;
}

export function newRelay(backend: WebSocket, streams?: StreamCounts): WebSocketProxyData {
  const relay: WebSocketProxyData = {
    backend,
    streams,
    pending: [],
    client: undefined,
    drainTimer: undefined,
    closed: false,
    abandon() {
      relay.closed = true;
      if (backend.readyState === WebSocket.OPEN || backend.readyState === WebSocket.CONNECTING) backend.terminate();
    },
  };
  backend.binaryType = "nodebuffer";
  backend.addEventListener("message", (event) => {
    const data = event.data as string | Buffer;
    const client = relay.client;
    if (!client) {
      relay.pending?.push(data);
      return;
    }
    toClient(relay, client, data);
  });
  backend.addEventListener("ping", (event) => relay.client?.ping(event.data as Buffer));
  backend.addEventListener("close", (event) => {
    stopPolling(relay);
    if (relay.closed) return;
    relay.closed = true;
    if (relay.client) passClose(relay.client, event.code, event.reason);
  });
  return relay;
}

function toClient(relay: WebSocketProxyData, client: ServerWebSocket<WebSocketProxyData>, data: string | Buffer): void {
  const status = client.send(data);
  if (status === -1) relay.backend.pause();
  else if (status === 0 && client.readyState === WebSocket.OPEN) {
    // Dropped: past backpressureLimit. Losing a frame silently would corrupt the stream.
    relay.closed = true;
    client.close(1011, "backpressure limit exceeded");
    relay.backend.close(1011, "backpressure limit exceeded");
  }
}

function stopPolling(relay: WebSocketProxyData): void {
  if (relay.drainTimer !== undefined) clearInterval(relay.drainTimer);
  relay.drainTimer = undefined;
}

/** Close codes an endpoint may send (RFC 6455 §7.4): others cannot be relayed as-is. */
function sendable(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

function passClose(to: { close(code?: number, reason?: string): void; terminate(): void }, code: number, reason: string): void {
  try {
    if (code === 1005) to.close();
    else if (sendable(code)) to.close(code, reason);
    else to.terminate();
  } catch {
    to.terminate();
  }
}

export const relayHandler: WebSocketHandler<WebSocketProxyData> = {
  // Room above HIGH_WATER for frames Bun had already read before the pause.
  backpressureLimit: 64 * 1024 * 1024,
  closeOnBackpressureLimit: false,
  perMessageDeflate: false,
  open(ws) {
    const relay = ws.data;
    relay.client = ws;
    // Bun calls close() once for every client it called open() for, however the connection ends.
    relay.streams?.opened("websocket");
    const pending = relay.pending ?? [];
    relay.pending = undefined;
    for (const data of pending) toClient(relay, ws, data);
    // The backend may have closed while the client was being upgraded.
    if (relay.closed || relay.backend.readyState !== WebSocket.OPEN) {
      relay.closed = true;
      ws.close(1011, "upstream closed");
    }
  },
  message(ws, message) {
    const relay = ws.data;
    const backend = relay.backend;
    if (backend.readyState !== WebSocket.OPEN) return;
    backend.send(message);
    if (backend.bufferedAmount > HIGH_WATER && relay.drainTimer === undefined) {
      ws.pause();
      relay.drainTimer = setInterval(() => {
        if (backend.readyState !== WebSocket.OPEN || ws.readyState !== WebSocket.OPEN) return stopPolling(relay);
        if (backend.bufferedAmount > LOW_WATER) return;
        stopPolling(relay);
        ws.resume();
      }, POLL_MS);
    }
  },
  drain(ws) {
    if (ws.data.backend.readyState === WebSocket.OPEN) ws.data.backend.resume();
  },
  ping(ws, data) {
    if (ws.data.backend.readyState === WebSocket.OPEN) ws.data.backend.ping(data);
  },
  close(ws, code, reason) {
    const relay = ws.data;
    relay.streams?.closed("websocket");
    stopPolling(relay);
    if (relay.closed) return;
    relay.closed = true;
    passClose(relay.backend, code, reason);
  },
};
