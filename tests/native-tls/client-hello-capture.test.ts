/**
 * Real ClientHellos: a raw TCP listener records the first bytes that openssl
 * s_client, Bun's node:tls and Bun's fetch send, and the parser must read the
 * SNI and ALPN each client was asked to send.
 */
import { afterAll, describe, expect, test } from "bun:test";
import tls from "node:tls";
import { parseClientHello, type ClientHelloResult } from "../../native-tls/tls/client-hello";

interface Capture {
  readonly bytes: Uint8Array;
  readonly result: ClientHelloResult;
}

let pending: ((capture: Capture) => void) | undefined;

/** Collects each connection's bytes until the parser stops asking for more, then closes it. */
const listener = Bun.listen<{ buffer: Uint8Array; done: boolean }>({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(socket) {
      socket.data = { buffer: new Uint8Array(0), done: false };
    },
    data(socket, chunk) {
      const state = socket.data;
      if (state.done) return;
      const buffer = new Uint8Array(state.buffer.length + chunk.length);
      buffer.set(state.buffer);
      buffer.set(chunk, state.buffer.length);
      state.buffer = buffer;
      const result = parseClientHello(buffer);
      if (result.kind === "incomplete") return;
      state.done = true;
      socket.end();
      pending?.({ bytes: buffer, result });
    },
  },
});
afterAll(() => listener.stop(true));

/** Runs `client` against the listener and returns what the first connection sent. */
async function capture(client: (port: number) => () => void): Promise<Capture> {
  let timer: Timer | undefined;
  const captured = new Promise<Capture>((resolve, reject) => {
    pending = resolve;
    timer = setTimeout(() => reject(new Error("no ClientHello within 10 s")), 10_000);
  });
  const stop = client(listener.port);
  try {
    return await captured;
  } finally {
    clearTimeout(timer);
    pending = undefined;
    stop();
  }
}

function openssl(...args: string[]): (port: number) => () => void {
  return (port) => {
    const child = Bun.spawn(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, ...args], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
    return () => child.kill();
  };
}

function hello(capture: Capture) {
  if (capture.result.kind !== "hello") throw new Error(`expected a ClientHello, got ${JSON.stringify(capture.result)}`);
  expect(capture.result.recordBytes).toBe(capture.bytes.length);
  return capture.result;
}

describe("ClientHellos from real clients", () => {
  test("openssl s_client, TLS 1.3 with SNI and ALPN", async () => {
    const h = hello(await capture(openssl("-servername", "x.example.com", "-alpn", "h2,http/1.1")));
    expect(h.serverName).toBe("x.example.com");
    expect(h.alpn).toEqual(["h2", "http/1.1"]);
    expect(h.legacyVersion).toBe(0x0303);
    expect(h.supportedVersions).toContain(0x0304);
  });

  test("openssl s_client, TLS 1.2 only, mixed-case SNI", async () => {
    const h = hello(await capture(openssl("-tls1_2", "-servername", "MiXeD.Example.COM", "-alpn", "http/1.1")));
    expect(h.serverName).toBe("mixed.example.com");
    expect(h.alpn).toEqual(["http/1.1"]);
    expect(h.supportedVersions).not.toContain(0x0304);
  });

  test("openssl s_client without SNI", async () => {
    const h = hello(await capture(openssl("-noservername")));
    expect(h.serverName).toBeUndefined();
    expect(h.alpn).toEqual([]);
  });

  test("Bun node:tls connect", async () => {
    const h = hello(
      await capture((port) => {
        const socket = tls.connect({ host: "127.0.0.1", port, servername: "bun.example.com", ALPNProtocols: ["h2", "http/1.1"], rejectUnauthorized: false });
        socket.on("error", () => {});
        return () => socket.destroy();
      }),
    );
    expect(h.serverName).toBe("bun.example.com");
    expect(h.alpn).toEqual(["h2", "http/1.1"]);
    expect(h.supportedVersions).toContain(0x0304);
  });

  test("Bun fetch with a server name, and to an IP literal (which must carry no SNI)", async () => {
    const fetchFrom = (tlsOptions: { serverName?: string }) => (port: number) => {
      fetch(`https://127.0.0.1:${port}/`, { tls: { rejectUnauthorized: false, ...tlsOptions } }).catch(() => {});
      return () => {};
    };
    const named = hello(await capture(fetchFrom({ serverName: "fetch.example.com" })));
    expect(named.serverName).toBe("fetch.example.com");
    expect(named.alpn).toContain("http/1.1");
    const literal = hello(await capture(fetchFrom({})));
    expect(literal.serverName).toBeUndefined();
  });
});
