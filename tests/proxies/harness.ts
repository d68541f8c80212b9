/**
 * A minimal gateway around the forwarding engine (what the dispatcher does,
 * minus routing) and small real backends, all on 127.0.0.1 port 0.
 */
import type { Server } from "bun";
import { createForwardingEngine, forwardTarget, type ForwardContext, type ForwardTarget, type ForwardingOptions } from "../../src/proxies";
import type { WebSocketProxyData } from "../../src/proxies/websocket";

export interface TestGateway {
  readonly url: string;
  readonly port: number;
  readonly server: Server<WebSocketProxyData>;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  readonly trustedPeer?: boolean;
  readonly proto?: "http" | "https";
  readonly options?: Partial<ForwardingOptions>;
}

export function startGateway(target: ForwardTarget | string, opts: GatewayOptions = {}): TestGateway {
  const resolved = typeof target === "string" ? forwardTarget(target) : target;
  const engine = createForwardingEngine({ connectTimeoutMs: 5_000, requestTimeoutMs: 10_000, ...opts.options });
  const server: Server<WebSocketProxyData> = Bun.serve<WebSocketProxyData>({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 60,
    // Bun.serve answers 413 to bodies over 128 MiB by default; a gateway must not.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch(request, srv) {
      const context: ForwardContext = {
        clientIp: srv.requestIP(request)?.address ?? "",
        proto: opts.proto ?? "http",
        trustedPeer: opts.trustedPeer ?? false,
      };
      if (engine.isWebSocketUpgrade(request)) return engine.upgradeWebSocket(request, srv, resolved, context);
      return engine.forward(request, resolved, context);
    },
    websocket: engine.websocket,
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port!,
    server,
    async stop() {
      engine.close();
      await server.stop(true);
    },
  };
}

/** What the echo backend saw: method, raw path+query, headers as received. */
export interface Echo {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A Bun.serve backend answering every request with JSON describing it. */
export function startEchoBackend(): { url: string; server: Server<undefined>; stop(): Promise<void> } {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = request.url;
      const echo: Echo = {
        method: request.method,
        path: url.slice(url.indexOf("/", url.indexOf("//") + 2)),
        headers: Object.fromEntries(request.headers),
        body: await request.text(),
      };
      return Response.json(echo, { headers: { "x-backend": "echo" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, server, stop: () => server.stop(true) };
}

/**
 * Sends raw bytes over one TCP connection and collects everything the server
 * writes until it closes or `idleMs` passes without data.
 */
export async function rawExchange(port: number, payload: string | Uint8Array, idleMs = 300, maxMs = 5_000): Promise<string> {
  let text = "";
  let closed = false;
  let last = Date.now();
  const decoder = new TextDecoder();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, chunk) {
        text += decoder.decode(chunk, { stream: true });
        last = Date.now();
      },
      close() {
        closed = true;
      },
    },
  });
  socket.write(payload);
  const deadline = Date.now() + maxMs;
  while (!closed && Date.now() < deadline && Date.now() - last < idleMs) await Bun.sleep(10);
  socket.end();
  return text;
}

export interface RawRequest {
  readonly head: string;
  readonly body: Buffer;
  /** 1 for the first connection the backend accepted, 2 for the next... */
  readonly connection: number;
  /** Requests seen on this connection so far, this one included. */
  readonly index: number;
}

/**
 * A backend speaking raw bytes (Bun.listen), for behaviour Bun.serve would
 * not produce: interim responses, odd framing, closing at the wrong moment.
 * `reply` gets each complete request (Content-Length bodies only).
 */
export function startRawBackend(reply: (socket: import("bun").Socket<{ id: number; buffer: Buffer; index: number }>, request: RawRequest) => void) {
  let connections = 0;
  const closed: number[] = [];
  const listener = Bun.listen<{ id: number; buffer: Buffer; index: number }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { id: ++connections, buffer: Buffer.alloc(0), index: 0 };
      },
      data(socket, chunk) {
        const state = socket.data;
        state.buffer = Buffer.concat([state.buffer, chunk]);
        for (;;) {
          const end = state.buffer.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = state.buffer.toString("latin1", 0, end);
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (state.buffer.length < end + 4 + length) return;
          const body = state.buffer.subarray(end + 4, end + 4 + length);
          state.buffer = state.buffer.subarray(end + 4 + length);
          reply(socket, { head, body, connection: state.id, index: ++state.index });
        }
      },
      close(socket) {
        closed.push(socket.data.id);
      },
    },
  });
  return {
    url: `http://127.0.0.1:${listener.port}`,
    port: listener.port,
    connections: () => connections,
    closed: () => [...closed],
    stop: () => listener.stop(true),
  };
}
