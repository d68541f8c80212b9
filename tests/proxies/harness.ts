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
