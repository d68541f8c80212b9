/**
 * TlsListenerSet on real sockets: the raw TCP front, the relay to the current
 * internal TLS server, certificate generations retired once their last
 * connection closes, the client's address behind the relay, and what happens
 * to connections that never become TLS.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { connect } from "node:tls";
import { TlsListenerSet, type TlsCertificates } from "../../native-tls/tls-listener";
import { createTestCa, noSniFingerprint, peerCertificate, type IssuedCertificate, type TestCa } from "../helpers/test-ca";

let ca: TestCa;
let fallback: IssuedCertificate;
let first: IssuedCertificate;
let second: IssuedCertificate;
const opened: TlsListenerSet<undefined>[] = [];

beforeAll(async () => {
  ca = await createTestCa();
  [fallback, first, second] = await Promise.all([
    ca.issue("fallback.test", ["fallback.test"]),
    ca.issue("site.test", ["site.test"]),
    ca.issue("site.test", ["site.test"]),
  ]);
});
afterEach(async () => {
  for (const set of opened.splice(0)) await set.stop(true);
});

const tls = (site: IssuedCertificate): TlsCertificates => ({
  fallback: { cert: fallback.fullchain_pem, key: fallback.private_key_pem },
  byServerName: new Map([["site.test", { cert: site.fullchain_pem, key: site.private_key_pem }]]),
});

function start(fetch: (request: Request, server: Bun.Server<undefined>, set: TlsListenerSet<undefined>) => Response | Promise<Response>, options: { helloTimeoutSeconds?: number } = {}) {
  const set: TlsListenerSet<undefined> = new TlsListenerSet<undefined>(
    {
      hostname: "127.0.0.1",
      port: 0,
      helloTimeoutSeconds: options.helloTimeoutSeconds,
      http: { fetch: (request, server) => fetch(request, server, set), websocket: { message() {} }, maxRequestBodySize: Number.MAX_SAFE_INTEGER },
    },
    tls(first),
  );
  opened.push(set);
  return set;
}

const get = (set: TlsListenerSet<undefined>, path = "/", init: RequestInit = {}) =>
  fetch(`https://127.0.0.1:${set.port}${path}`, { ...init, tls: { ca: ca.pem, serverName: "site.test" }, keepalive: false });

/** What a client sees on a raw TCP connection that sends `bytes`, until the server closes. */
function rawExchange(port: number, bytes: string | Uint8Array): Promise<{ reply: string; error?: string }> {
  return new Promise((resolve) => {
    let reply = "";
    let error: string | undefined;
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (socket) => void (bytes.length > 0 && socket.write(bytes)),
        data: (_socket, chunk) => void (reply += chunk.toString("latin1")),
        close: (_socket, err) => resolve({ reply, error: err ? String((err as { code?: string }).code ?? err) : error }),
        error: (_socket, err) => void (error = String((err as { code?: string }).code ?? err)),
      },
    });
  });
}

describe("TlsListenerSet", () => {
  test("serves HTTPS through the front, choosing the certificate by SNI", async () => {
    const set = start(() => new Response("hello"));
    const res = await get(set);
    expect(await res.text()).toBe("hello");
    expect((await peerCertificate(set.port, "site.test")).fingerprint256).toBe(first.fingerprint256);
    expect((await peerCertificate(set.port, "other.test")).fingerprint256).toBe(fallback.fingerprint256);
    // No SNI at all (a client connecting to an IP address): the fallback, the first entry of Bun's tls list.
    expect(await noSniFingerprint(set.port)).toBe(fallback.fingerprint256);
  });

  test("the handler learns the real client address, not the relay's", async () => {
    const set = start((request, server, self) => new Response(self.clientAddress(request, server)));
    // A client on another loopback address: the internal server's peer is the relay on 127.0.0.1.
    const reply = await new Promise<string>((resolve, reject) => {
      let text = "";
      const options = { host: "127.0.0.1", port: set.port, localAddress: "127.0.0.7", servername: "site.test", ca: ca.pem };
      const socket = connect(options as Parameters<typeof connect>[0], () =>
        socket.write("GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n"),
      );
      socket.on("data", (chunk) => (text += chunk));
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    expect(reply).toStartWith("HTTP/1.1 200");
    expect(reply.endsWith("\r\n\r\n127.0.0.7")).toBe(true);
  });

  test("identifyClient names the client when something (a PROXY protocol relay) sits in front", async () => {
    const peers: string[] = [];
    const set: TlsListenerSet<undefined> = new TlsListenerSet<undefined>(
      {
        hostname: "127.0.0.1",
        port: 0,
        identifyClient: (address, port) => (peers.push(`${address}:${port}`), "203.0.113.9"),
        http: { fetch: (request, server) => new Response(set.clientAddress(request, server)), websocket: { message() {} } },
      },
      tls(first),
    );
    opened.push(set);
    expect(await (await get(set)).text()).toBe("203.0.113.9");
    expect(peers).toHaveLength(1);
    expect(peers[0]).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  test("a certificate change applies to new connections; the old server stops when its last connection closes", async () => {
    const set = start(() => new Response("ok"));
    // A keep-alive connection opened before the change.
    const early = connect({ host: "127.0.0.1", port: set.port, servername: "site.test", ca: ca.pem });
    await new Promise((resolve) => early.once("secureConnect", resolve));
    expect(early.getPeerCertificate().fingerprint256).toBe(first.fingerprint256);

    set.setCertificates(tls(second));
    expect((await peerCertificate(set.port, "site.test")).fingerprint256).toBe(second.fingerprint256);
    expect(set.generationCount).toBe(2);

    // The early connection still works on its server.
    const answer = new Promise<string>((resolve) => early.once("data", (chunk) => resolve(String(chunk))));
    early.write("GET / HTTP/1.1\r\nHost: site.test\r\n\r\n");
    expect(await answer).toStartWith("HTTP/1.1 200");
    early.destroy();
    for (let i = 0; i < 200 && set.generationCount > 1; i++) await Bun.sleep(5);
    expect(set.generationCount).toBe(1);
  });

  test("certificates Bun refuses throw and leave the previous ones serving", async () => {
    const set = start(() => new Response("ok"));
    expect(() => set.setCertificates({ ...tls(second), fallback: { cert: "not a certificate", key: "nor a key" } })).toThrow();
    expect(set.generationCount).toBe(1);
    expect((await peerCertificate(set.port, "site.test")).fingerprint256).toBe(first.fingerprint256);
  });

  test("large bodies cross the relay intact both ways, with backpressure", async () => {
    const size = 24 * 1024 * 1024;
    const payload = crypto.getRandomValues(new Uint8Array(1024 * 1024));
    const sha = (parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash("sha256")).digest("hex");
    const expected = sha(Array.from({ length: size / payload.length }, () => payload));
    const set = start(async (request) => {
      if (request.method === "POST") return new Response(createHash("sha256").update(new Uint8Array(await request.arrayBuffer())).digest("hex"));
      let sent = 0;
      return new Response(
        new ReadableStream({
          pull(controller) {
            if (sent >= size) return controller.close();
            controller.enqueue(payload);
            sent += payload.length;
          },
        }),
      );
    });
    const upload = new Uint8Array(size);
    for (let at = 0; at < size; at += payload.length) upload.set(payload, at);
    expect(await (await get(set, "/", { method: "POST", body: upload })).text()).toBe(expected);

    // A reader that takes its time: the relay must hold the server back, not buffer 24 MiB.
    const reader = (await get(set, "/download")).body!.getReader();
    const parts: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      if (parts.length % 16 === 0) await Bun.sleep(1);
    }
    expect(sha(parts)).toBe(expected);
  });

  test("plain HTTP gets a 400 naming HTTPS; other non-TLS bytes and bad ClientHellos are dropped", async () => {
    const set = start(() => new Response("ok"));
    const http = await rawExchange(set.port, "GET / HTTP/1.1\r\nHost: site.test\r\n\r\n");
    expect(http.reply).toStartWith("HTTP/1.1 400 Bad Request\r\n");
    expect(http.reply).toContain("expects HTTPS");
    expect((await rawExchange(set.port, "\x00\x01\x02\x03\x04\x05")).reply).toBe("");
    // A handshake record that is not a ClientHello.
    expect((await rawExchange(set.port, new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]))).reply).toBe("");
    expect(set.generationCount).toBe(1);
  });

  test("a client that never completes its ClientHello is disconnected after the hello timeout", async () => {
    const set = start(() => new Response("ok"), { helloTimeoutSeconds: 1 });
    const started = performance.now();
    const silent = await rawExchange(set.port, "\x16\x03\x01");
    expect(silent.reply).toBe("");
    // Bun's socket timer ticks in steps of a few seconds.
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThan(900);
    expect(elapsed).toBeLessThan(9_000);
  }, 15_000);

  test("stop() lets a request in flight finish", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const set = start(async () => (await gate, new Response("finished")));
    opened.splice(opened.indexOf(set), 1);
    const inFlight = get(set);
    await Bun.sleep(50);
    const stopped = set.stop();
    await Bun.sleep(50);
    release();
    expect(await (await inFlight).text()).toBe("finished");
    await stopped;
    expect(await Bun.connect({ hostname: "127.0.0.1", port: set.port, socket: { data() {} } }).then(() => "connected", (err) => err.code)).toBe("ECONNREFUSED");
  });
});
