/**
 * PROXY protocol senders for tests: a stand-in load balancer that puts a
 * header in front of every connection it passes on (so fetch and WebSocket
 * clients can reach a PROXY protocol listener), and a raw exchange for
 * headers that are wrong on purpose.
 */
import type { Socket, TCPSocketListener } from "bun";
import { encodeProxyHeaderV1, encodeProxyHeaderV2 } from "../../native-tls/proxy-protocol";

export interface ClientAddress {
  readonly address: string;
  readonly port: number;
}

/** The header a load balancer would send for `client` (v1 text or v2 binary). */
export function proxyHeader(version: 1 | 2, client: ClientAddress, destination: ClientAddress = { address: "192.0.2.1", port: 443 }): Uint8Array {
  const v6 = client.address.includes(":");
  const dest = v6 && !destination.address.includes(":") ? { address: "2001:db8::443", port: destination.port } : destination;
  return version === 1
    ? encodeProxyHeaderV1({ family: v6 ? "tcp6" : "tcp4", source: client, destination: dest })
    : encodeProxyHeaderV2({ command: "proxy", family: v6 ? "tcp6" : "tcp4", source: client, destination: dest });
}

interface Pair {
  upstream: Socket<Pair> | undefined;
  pending: Uint8Array[];
  client: Socket<Pair>;
}

export interface HeaderSender {
  readonly port: number;
  stop(): void;
}

/**
 * Listens on a free loopback port; each accepted connection is passed to
 * 127.0.0.1:targetPort after `header()` (a new one per connection).
 */
export function startHeaderSender(targetPort: number, header: () => Uint8Array): HeaderSender {
  const open = new Set<Pair>();
  const upstreamHandlers = {
    open(socket: Socket<Pair>) {
      const pair = socket.data;
      pair.upstream = socket;
      socket.write(header());
      for (const chunk of pair.pending) socket.write(chunk);
      pair.pending = [];
    },
    data(socket: Socket<Pair>, chunk: Uint8Array) {
      socket.data.client.write(chunk);
    },
    close(socket: Socket<Pair>) {
      socket.data.client.end();
    },
    connectError(socket: Socket<Pair>) {
      socket.data.client.end();
    },
    error() {},
  };
  const listener: TCPSocketListener<Pair> = Bun.listen<Pair>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        const pair: Pair = { upstream: undefined, pending: [], client };
        client.data = pair;
        open.add(pair);
        Bun.connect<Pair>({ hostname: "127.0.0.1", port: targetPort, data: pair, socket: upstreamHandlers }).catch(() => {});
      },
      data(client, chunk) {
        const pair = client.data;
        if (pair.upstream) pair.upstream.write(chunk);
        else pair.pending.push(chunk);
      },
      close(client) {
        open.delete(client.data);
        client.data.upstream?.end();
      },
      error() {},
    },
  });
  return {
    port: listener.port,
    stop() {
      listener.stop(true);
      for (const pair of open) pair.upstream?.terminate();
    },
  };
}

export interface RawExchange {
  /** Everything the server sent. */
  readonly received: string;
  /** The server closed the connection (rather than the timeout ending the wait). */
  readonly closed: boolean;
  readonly elapsedMs: number;
}

/**
 * Connects to 127.0.0.1:port, sends `parts` (with `gapMs` between them), and
 * collects what comes back until the server closes or `timeoutMs` passes.
 */
export function rawExchange(port: number, parts: readonly (string | Uint8Array)[], options: { gapMs?: number; timeoutMs?: number } = {}): Promise<RawExchange> {
  const started = performance.now();
  return new Promise((resolve) => {
    let received = "";
    let done = false;
    const finish = (closed: boolean, socket?: Socket<unknown>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket?.terminate();
      resolve({ received, closed, elapsedMs: performance.now() - started });
    };
    let current: Socket<unknown> | undefined;
    const timer = setTimeout(() => finish(false, current), options.timeoutMs ?? 3_000);
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        async open(socket) {
          current = socket;
          for (const [i, part] of parts.entries()) {
            if (i > 0 && options.gapMs) await Bun.sleep(options.gapMs);
            if (done) return;
            socket.write(part);
          }
        },
        data(_socket, chunk) {
          received += chunk.toString();
        },
        close: () => finish(true),
        error: () => finish(true),
      },
    }).catch(() => finish(true));
  });
}

/** A raw HTTP/1.1 request with `Connection: close`, for a response read until the server closes. */
export function httpRequest(host: string, path = "/", headers: Record<string, string> = {}): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n${lines.join("")}\r\n`;
}

/** The JSON body of a raw HTTP response. */
export function jsonBody(response: string): any {
  const start = response.indexOf("\r\n\r\n");
  if (!response.startsWith("HTTP/1.1 200") || start < 0) throw new Error(`not a 200 response: ${JSON.stringify(response.slice(0, 200))}`);
  return JSON.parse(response.slice(start + 4));
}
