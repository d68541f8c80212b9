/**
 * The PROXY protocol relay over real loopback sockets: who the upstream is
 * told the client is, what is refused (and that nothing of it is forwarded),
 * deadlines, backpressure both ways, half-close and shutdown.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { encodeProxyHeaderV1, encodeProxyHeaderV2 } from "../../native-tls/proxy-protocol";
import {
  DEFAULT_HIGH_WATER_BYTES,
  startProxyProtocolRelay,
  type ProxyProtocolRelay,
  type RelayedClient,
  type RelayedConnection,
  type RelayOptions,
  type RelayRejection,
} from "../../native-tls/relay";
import { proxyHeader, rawExchange } from "../helpers/proxy-protocol-client";

/** An upstream that records, per connection, the bytes it got and who the registry says the client is. */
interface Accepted {
  bytes: Uint8Array[];
  client: RelayedClient | undefined;
  remotePort: number;
  socket: Socket<Accepted>;
}

function recordingUpstream(lookup: () => ProxyProtocolRelay | undefined) {
  const accepted: Accepted[] = [];
  const listener: TCPSocketListener<Accepted> = Bun.listen<Accepted>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        const entry: Accepted = { bytes: [], client: undefined, remotePort: socket.remotePort, socket };
        socket.data = entry;
        accepted.push(entry);
      },
      data(socket, chunk) {
        // As a listener would per request: the relay registered the client before its first byte.
        if (socket.data.bytes.length === 0) socket.data.client = lookup()?.registry.lookup(socket.remotePort);
        socket.data.bytes.push(new Uint8Array(chunk));
      },
    },
  });
  return { listener, accepted, text: (i: number) => Buffer.concat(accepted[i]?.bytes ?? []).toString("latin1") };
}

interface Harness {
  relay: ProxyProtocolRelay;
  upstream: ReturnType<typeof recordingUpstream>;
  rejections: RelayRejection[];
  relayed: RelayedConnection[];
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function harness(options: Partial<RelayOptions> = {}): Harness {
  let relay: ProxyProtocolRelay | undefined;
  const upstream = recordingUpstream(() => relay);
  const rejections: RelayRejection[] = [];
  const relayed: RelayedConnection[] = [];
  relay = startProxyProtocolRelay({
    hostname: "127.0.0.1",
    port: 0,
    upstream: { hostname: "127.0.0.1", port: upstream.listener.port },
    isTrusted: () => true,
    onReject: (r) => rejections.push(r),
    onRelay: (c) => relayed.push(c),
    ...options,
  });
  cleanups.push(() => {
    relay!.stop(true);
    upstream.listener.stop(true);
  });
  return { relay, upstream, rejections, relayed };
}

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await Bun.sleep(2);
  }
}

/** Opens a connection, sends `bytes`, and keeps it open; resolves once connected. */
async function openConnection(port: number, bytes: Uint8Array | string, received: { text: string } = { text: "" }) {
  const closed = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_s, chunk) => void (received.text += chunk.toString("latin1")),
      close: () => closed.resolve(),
      error: () => closed.resolve(),
    },
  });
  socket.write(bytes);
  cleanups.push(() => socket.terminate());
  return { socket, received, closed: closed.promise };
}

const concat = (...parts: (Uint8Array | string)[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : p)));

describe("relayed connections", () => {
  for (const version of [1, 2] as const) {
    test(`v${version}: the bytes after the header come first, and the registry names the header's client`, async () => {
      const { relay, upstream, relayed } = harness();
      const client = { address: "203.0.113.7", port: 40_123 };
      const { received } = await openConnection(relay.port, concat(proxyHeader(version, client), "hello "));
      await until(() => upstream.text(0) === "hello ");
      const accepted = upstream.accepted[0]!;
      expect(accepted.client).toMatchObject({ ...client, version, proxy: { address: "127.0.0.1" } });
      expect(relayed).toHaveLength(1);
      expect(relayed[0]!.upstreamLocalPort).toBe(accepted.remotePort);
      expect(relayed[0]!.upstreamPort).toBe(upstream.listener.port);
      // And the other way.
      accepted.socket.write("world");
      await until(() => received.text === "world");
    });
  }

  test("a header that arrives a byte at a time, with the first payload bytes in the same writes", async () => {
    const { relay, upstream } = harness();
    const client = { address: "2001:db8::7", port: 5_555 };
    const bytes = concat(proxyHeader(2, client), "GET");
    const { socket } = await openConnection(relay.port, bytes.subarray(0, 1));
    for (let i = 1; i < bytes.length; i++) {
      await Bun.sleep(1);
      socket.write(bytes.subarray(i, i + 1));
    }
    await until(() => upstream.text(0) === "GET");
    expect(upstream.accepted[0]!.client).toMatchObject(client);
  });

  test("LOCAL, UNKNOWN and UNIX headers stand for the real peer", async () => {
    const { relay, upstream } = harness();
    const headers = [
      encodeProxyHeaderV2({ command: "local" }),
      encodeProxyHeaderV1({ family: "unknown" }),
      encodeProxyHeaderV2({ command: "proxy", family: "unix", source: { address: "/run/lb.sock", port: 0 }, destination: { address: "/run/gw.sock", port: 0 } }),
    ];
    for (const [i, header] of headers.entries()) {
      const { socket } = await openConnection(relay.port, concat(header, "x"));
      await until(() => upstream.text(i) === "x");
      expect(upstream.accepted[i]!.client).toMatchObject({ address: "127.0.0.1", port: socket.localPort, proxy: { address: "127.0.0.1", port: socket.localPort } });
    }
  });

  test("the registry forgets a connection once it closes", async () => {
    const { relay, upstream } = harness();
    const { socket } = await openConnection(relay.port, concat(proxyHeader(1, { address: "198.51.100.1", port: 1 }), "x"));
    await until(() => upstream.text(0) === "x");
    expect(relay.registry.size).toBe(1);
    socket.end();
    await until(() => relay.registry.size === 0 && relay.connections === 0);
  });

  test("a client that sends its request and then FIN still gets the whole answer", async () => {
    let relay: ProxyProtocolRelay | undefined;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => Response.json({ client: relay!.registry.lookup(srv.requestIP(req)!.port)?.address }),
    });
    cleanups.push(() => server.stop(true));
    relay = startProxyProtocolRelay({ hostname: "127.0.0.1", port: 0, upstream: { hostname: "127.0.0.1", port: server.port! }, isTrusted: () => true });
    cleanups.push(() => relay!.stop(true));
    const response = await new Promise<string>((resolve) => {
      let text = "";
      Bun.connect({
        hostname: "127.0.0.1",
        port: relay!.port,
        allowHalfOpen: true,
        socket: {
          open(socket) {
            socket.write(concat(proxyHeader(1, { address: "192.0.2.55", port: 1234 }), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
            socket.shutdown();
          },
          data: (_s, chunk) => void (text += chunk.toString()),
          end: (socket) => void socket.end(),
          close: () => resolve(text),
        },
      });
    });
    expect(response).toStartWith("HTTP/1.1 200");
    expect(response).toEndWith('{"client":"192.0.2.55"}');
  });
});

describe("refused connections: closed, reported, nothing forwarded", () => {
  test("an untrusted peer, header or not", async () => {
    const { relay, upstream, rejections } = harness({ isTrusted: (address) => address === "10.0.0.1" });
    const reply = await rawExchange(relay.port, [concat(proxyHeader(1, { address: "203.0.113.9", port: 9 }), "GET / HTTP/1.1\r\n\r\n")]);
    expect(reply).toMatchObject({ received: "", closed: true });
    expect(rejections).toEqual([expect.objectContaining({ reason: "untrusted_source", peer: expect.objectContaining({ address: "127.0.0.1" }) })]);
    await Bun.sleep(20);
    expect(upstream.accepted).toHaveLength(0);
  });

  test("malformed headers, with the parser's code", async () => {
    const { relay, upstream, rejections } = harness();
    const cases: [string | Uint8Array, string][] = [
      ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not_proxy_protocol"],
      ["\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "not_proxy_protocol"],
      ["PROXY TCP4 203.0.113.300 192.0.2.1 1 2\r\nGET /", "v1_bad_address"],
      ["PROXY TCP4 203.0.113.3 192.0.2.1 1 2 extra\r\n", "v1_bad_format"],
      ["PROXY UNKNOWN " + "A".repeat(120), "v1_too_long"],
      [concat(encodeProxyHeaderV2({ command: "local" }).subarray(0, 12), Uint8Array.of(0x31, 0x11, 0, 12)), "v2_bad_version"],
    ];
    for (const [bytes, code] of cases) {
      const reply = await rawExchange(relay.port, [bytes]);
      expect(reply).toMatchObject({ received: "", closed: true });
      expect(rejections.at(-1)).toMatchObject({ reason: "malformed_header", code });
    }
    expect(rejections).toHaveLength(cases.length);
    await Bun.sleep(20);
    expect(upstream.accepted).toHaveLength(0);
  });

  test("a header that does not complete within the deadline, while another connection carries on", async () => {
    const { relay, upstream, rejections } = harness({ headerTimeoutMs: 300 });
    const good = await openConnection(relay.port, concat(proxyHeader(1, { address: "192.0.2.10", port: 10 }), "a"));
    await until(() => upstream.text(0) === "a");

    const slow = rawExchange(relay.port, ["PROXY TCP4 192.0.2.", "11 192.0.2.1 11 80"], { gapMs: 100, timeoutMs: 3_000 });
    const silent = rawExchange(relay.port, [], { timeoutMs: 3_000 });
    // The good connection keeps working while the slow ones wait for their deadline.
    for (let i = 0; i < 20; i++) {
      upstream.accepted[0]!.socket.write("ping");
      await until(() => good.received.text.length === 4 * (i + 1));
      await Bun.sleep(10);
    }
    const [slowReply, silentReply] = await Promise.all([slow, silent]);
    for (const reply of [slowReply, silentReply]) {
      expect(reply).toMatchObject({ received: "", closed: true });
      expect(reply.elapsedMs).toBeGreaterThanOrEqual(280);
      expect(reply.elapsedMs).toBeLessThan(1_500);
    }
    expect(rejections.map((r) => r.reason)).toEqual(["header_timeout", "header_timeout"]);
    expect(rejections.map((r) => r.bytesReceived).sort()).toEqual([0, 37]);
    expect(upstream.accepted).toHaveLength(1);
    good.socket.write("b");
    await until(() => upstream.text(0) === "ab");
  });

  test("a peer that leaves before its header is complete", async () => {
    const { relay, rejections } = harness();
    const { socket } = await openConnection(relay.port, "PROXY TCP4 ");
    await Bun.sleep(20);
    socket.end();
    await until(() => rejections.length === 1);
    expect(rejections[0]).toMatchObject({ reason: "closed_before_header", bytesReceived: 11 });
    expect(relay.connections).toBe(0);
  });

  test("an internal listener that is gone", async () => {
    const closedPort = (() => {
      const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      l.stop(true);
      return l.port;
    })();
    const { relay, rejections } = harness({ upstream: { hostname: "127.0.0.1", port: closedPort } });
    const reply = await rawExchange(relay.port, [concat(proxyHeader(1, { address: "192.0.2.1", port: 1 }), "GET /")]);
    expect(reply).toMatchObject({ received: "", closed: true });
    expect(rejections).toEqual([expect.objectContaining({ reason: "upstream_unavailable" })]);
    expect(relay.registry.size).toBe(0);
  });
});

describe("backpressure", () => {
  const TOTAL = 96 * 1024 * 1024;
  const CHUNK = 64 * 1024;
  const pattern = (offset: number) => {
    const chunk = new Uint8Array(CHUNK);
    for (let i = 0; i < CHUNK; i += 4096) chunk[i] = (offset / CHUNK + i) & 0xff;
    return chunk;
  };

  /** Writes TOTAL bytes as fast as the socket takes them; `written` shows progress. */
  function pump(socket: Socket<unknown>, state: { written: number; wake?: () => void }) {
    return (async () => {
      while (state.written < TOTAL) {
        const chunk = pattern(state.written);
        let offset = 0;
        while (offset < chunk.length) {
          const n = socket.write(chunk.subarray(offset));
          if (n < 0) throw new Error("socket closed while writing");
          offset += n;
          state.written += n;
          if (offset < chunk.length) await new Promise<void>((resolve) => (state.wake = resolve));
        }
      }
    })();
  }

  async function plateau(read: () => number): Promise<number> {
    let last = -1;
    while (read() !== last) {
      last = read();
      await Bun.sleep(300);
    }
    return last;
  }

  test("a stalled upstream holds the client back; once it reads, every byte arrives in order", async () => {
    const { relay, upstream } = harness();
    const state: { written: number; wake?: () => void } = { written: 0 };
    const client = await Bun.connect({
      hostname: "127.0.0.1",
      port: relay.port,
      socket: { drain: () => state.wake?.(), data() {}, error() {} },
    });
    cleanups.push(() => client.terminate());
    client.write(proxyHeader(1, { address: "192.0.2.20", port: 20 }));
    await until(() => upstream.accepted.length === 1);
    const accepted = upstream.accepted[0]!;
    accepted.socket.pause();
    const pumping = pump(client, state);

    const stalledAt = await plateau(() => state.written);
    expect(stalledAt).toBeLessThan(TOTAL / 2);
    // What the relay itself holds stays near its high-water mark (plus one read).
    expect(relay.bufferedBytes).toBeLessThanOrEqual(DEFAULT_HIGH_WATER_BYTES + 1024 * 1024);

    accepted.socket.resume();
    await pumping;
    await until(() => accepted.bytes.reduce((n, b) => n + b.length, 0) === TOTAL, 10_000);
    const all = Buffer.concat(accepted.bytes);
    for (let offset = 0; offset < TOTAL; offset += CHUNK * 97) {
      expect(all.subarray(offset, offset + CHUNK).equals(pattern(offset))).toBe(true);
    }
  }, 30_000);

  test("a client that stops reading holds the upstream back", async () => {
    const { relay, upstream } = harness();
    let received = 0;
    const client = await Bun.connect({
      hostname: "127.0.0.1",
      port: relay.port,
      socket: { data: (_s, chunk) => void (received += chunk.length), error() {} },
    });
    cleanups.push(() => client.terminate());
    client.write(proxyHeader(2, { address: "192.0.2.21", port: 21 }));
    await until(() => upstream.accepted.length === 1);
    client.pause();
    const state: { written: number; wake?: () => void } = { written: 0 };
    const accepted = upstream.accepted[0]!;
    // The recording upstream has no drain handler: poll instead.
    const waker = setInterval(() => state.wake?.(), 5);
    cleanups.push(() => clearInterval(waker));
    const pumping = pump(accepted.socket as Socket<unknown>, state);

    expect(await plateau(() => state.written)).toBeLessThan(TOTAL / 2);
    expect(relay.bufferedBytes).toBeLessThanOrEqual(DEFAULT_HIGH_WATER_BYTES + 1024 * 1024);
    client.resume();
    await pumping;
    await until(() => received === TOTAL, 10_000);
  }, 30_000);
});

describe("stop", () => {
  test("stop() leaves open connections alone; stop(true) cuts them", async () => {
    const { relay, upstream } = harness();
    const first = await openConnection(relay.port, concat(proxyHeader(1, { address: "192.0.2.30", port: 30 }), "x"));
    await until(() => upstream.text(0) === "x");
    relay.stop();
    const refused = await rawExchange(relay.port, ["PROXY "], { timeoutMs: 500 });
    expect(refused.closed).toBe(true);
    upstream.accepted[0]!.socket.write("still here");
    await until(() => first.received.text === "still here");
    relay.stop(true);
    await first.closed;
    await until(() => relay.connections === 0 && relay.registry.size === 0);
  });
});

afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
