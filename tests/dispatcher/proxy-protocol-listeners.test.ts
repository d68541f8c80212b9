/**
 * The PROXY protocol listeners as the gateway composes them, on real sockets:
 * what is logged (refusals with their reason, nothing on the happy path), what
 * the API is told about the client, TLS passed through untouched for
 * HTTPS_PROXY_PROTOCOL, and PROXY_PROTOCOL_TIMEOUT.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import pino from "pino";
import { ConfigError, parseConfig } from "../../src/core/config";
import { HostTable } from "../../src/dispatcher/host-table";
import { TlsListenerSet } from "../../native-tls/tls-listener";
import {
  relayedClientAddress,
  relayedClientIdentity,
  startProxyProtocolHttp,
  startProxyProtocolPassthrough,
  type ProxyProtocolListener,
} from "../../src/dispatcher/proxy-protocol";
import { LOG_BURST, LOG_WINDOW_MS, rejectionLogger } from "../../src/dispatcher/proxy-protocol-log";
import { ClientRegistry } from "../../native-tls/relay";
import { createForwardingEngine, parseCidrList, type CidrList } from "../../src/proxies";
import { httpRequest, jsonBody, proxyHeader, rawExchange, startHeaderSender } from "../helpers/proxy-protocol-client";
import { tempDir } from "../helpers/temp";

const cidrs = (text: string): CidrList => (parseCidrList(text) as { list: CidrList }).list;
const engine = createForwardingEngine({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  engine.close();
});

/** A pino logger whose lines land in `lines`. */
function memoryLogger() {
  const lines: Record<string, any>[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

/** A PROXY protocol listener whose API answers with the client headers it was given. */
function apiEchoListener(trusted: string, log = memoryLogger().log): ProxyProtocolListener {
  const listener = startProxyProtocolHttp({
    hostname: "127.0.0.1",
    port: 0,
    setting: "PROXY_PROTOCOL_PORT",
    apiHostnames: ["localhost"],
    // Any client: these tests are about which client address the API is told.
    apiAllowedCidrs: cidrs("0.0.0.0/0,::/0"),
    api: { fetch: (req) => Response.json({ realIp: req.headers.get("x-real-ip"), forwardedFor: req.headers.get("x-forwarded-for") }) },
    table: () => new HostTable(new Map()),
    engine,
    trustedProxies: cidrs("198.51.100.0/24"),
    idleTimeoutSeconds: 5,
    trusted: cidrs(trusted),
    headerTimeoutMs: 300,
    log,
  });
  cleanups.push(() => listener.stop(true));
  return listener;
}

describe("logs", () => {
  test("each refusal says why; relayed connections and requests log nothing", async () => {
    const { log, lines } = memoryLogger();
    const open = apiEchoListener("127.0.0.0/8", log);
    const closed = apiEchoListener("10.0.0.0/8", log);
    const good = await rawExchange(open.port, [proxyHeader(1, { address: "203.0.113.1", port: 1 }), httpRequest("localhost")]);
    expect(good.received).toStartWith("HTTP/1.1 200");
    expect(lines).toEqual([]);

    await rawExchange(closed.port, [proxyHeader(1, { address: "203.0.113.2", port: 2 })]);
    await rawExchange(open.port, ["GET / HTTP/1.1\r\n\r\n"]);
    await rawExchange(open.port, ["PROXY TCP4 "]);
    await rawExchange(open.port, []); // sends nothing at all
    // A TCP health check: connects and closes at once (debug level only).
    const tcpCheck = Bun.connect({ hostname: "127.0.0.1", port: open.port, socket: { open: (s) => void s.end(), data() {} } });
    await tcpCheck;
    await Bun.sleep(50);

    const refusals = lines.map((l) => ({ level: l.level, reason: l.reason, code: l.code, listener: l.listener, msg: l.msg }));
    expect(refusals).toEqual([
      { level: 40, reason: "untrusted_source", code: undefined, listener: "PROXY_PROTOCOL_PORT", msg: expect.stringContaining("PROXY_PROTOCOL_TRUSTED_CIDRS") },
      { level: 40, reason: "malformed_header", code: "not_proxy_protocol", listener: "PROXY_PROTOCOL_PORT", msg: expect.stringContaining("malformed") },
      { level: 40, reason: "header_timeout", code: undefined, listener: "PROXY_PROTOCOL_PORT", msg: expect.stringContaining("in time") },
      { level: 40, reason: "header_timeout", code: undefined, listener: "PROXY_PROTOCOL_PORT", msg: expect.stringContaining("in time") },
      { level: 20, reason: "closed_before_header", code: undefined, listener: "PROXY_PROTOCOL_PORT", msg: expect.any(String) },
    ]);
    expect(lines[0]!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  test(`at most ${LOG_BURST} lines per ${LOG_WINDOW_MS / 1000} s and listener, then a count of the rest`, () => {
    const { log, lines } = memoryLogger();
    const report = rejectionLogger(log, "HTTP_PORT");
    const rejection = { reason: "malformed_header", peer: { address: "::1", port: 5 }, detail: "x", bytesReceived: 3 } as const;
    const realNow = Date.now;
    let now = 1_000_000;
    Date.now = () => now;
    try {
      for (let i = 0; i < LOG_BURST + 7; i++) report(rejection);
      expect(lines).toHaveLength(LOG_BURST);
      expect(lines[0]!.peer).toBe("[::1]:5");
      now += LOG_WINDOW_MS;
      report(rejection);
      expect(lines.slice(LOG_BURST).map((l) => [l.suppressed, l.reason])).toEqual([
        [7, undefined],
        [undefined, "malformed_header"],
      ]);
    } finally {
      Date.now = realNow;
    }
  });
});

describe("the API path", () => {
  test("the API is told the header's client, never what the client claims", async () => {
    const listener = apiEchoListener("127.0.0.0/8");
    const reply = await rawExchange(listener.port, [proxyHeader(2, { address: "2001:db8::5", port: 5 }), httpRequest("localhost", "/", { "x-real-ip": "6.6.6.6", "x-forwarded-for": "6.6.6.6" })]);
    expect(jsonBody(reply.received)).toEqual({ realIp: "2001:db8::5", forwardedFor: "2001:db8::5" });
    // A client in TRUSTED_PROXY_CIDRS may pass on what it was told.
    const trusted = await rawExchange(listener.port, [proxyHeader(1, { address: "198.51.100.4", port: 4 }), httpRequest("localhost", "/", { "x-forwarded-for": "192.0.2.9" })]);
    expect(jsonBody(trusted.received)).toEqual({ realIp: "192.0.2.9", forwardedFor: "192.0.2.9, 198.51.100.4" });
  });
});

describe("HTTPS_PROXY_PROTOCOL", () => {
  const dir = tempDir("pp-tls");
  const certificate = async () => {
    const child = Bun.spawn(
      ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
      { stdout: "ignore", stderr: "pipe" },
    );
    expect(await child.exited).toBe(0);
    return { cert: await Bun.file(join(dir, "cert.pem")).text(), key: await Bun.file(join(dir, "key.pem")).text() };
  };

  /** The relay on HTTPS_PORT in front of a TLS listener on `upstreamPort`, and an LB sending client 203.0.113.44. */
  function relayInFront(upstreamPort: number, registry: ClientRegistry) {
    const { log, lines } = memoryLogger();
    const relay = startProxyProtocolPassthrough({
      hostname: "127.0.0.1",
      port: 0,
      upstreamPort,
      registry,
      setting: "HTTPS_PORT",
      trusted: cidrs("127.0.0.1"),
      headerTimeoutMs: 300,
      log,
    });
    cleanups.push(() => relay.stop(true));
    expect(relay.internalPort).toBe(upstreamPort);
    const sender = startHeaderSender(relay.port, () => proxyHeader(2, { address: "203.0.113.44", port: 443 }));
    cleanups.push(() => sender.stop());
    return { relay, sender, lines };
  }

  const insecure = { tls: { rejectUnauthorized: false } } as RequestInit;

  test("TLS passes through the relay untouched to a Bun.serve({ tls }), which reads the client from the registry", async () => {
    const { cert, key } = await certificate();
    const registry = new ClientRegistry();
    const clientAddress = relayedClientAddress(registry);
    const tlsServer = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert, key },
      fetch: (req, server) => Response.json({ client: clientAddress(req, server as never), host: req.headers.get("host") }),
    });
    cleanups.push(() => tlsServer.stop(true));
    const { relay, sender, lines } = relayInFront(tlsServer.port!, registry);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`https://localhost:${sender.port}/`, insecure);
      expect(await res.json()).toEqual({ client: "203.0.113.44", host: `localhost:${sender.port}` });
    }
    // A TLS ClientHello without a header is refused before the TLS listener sees it.
    await expect(fetch(`https://localhost:${relay.port}/`, insecure)).rejects.toThrow();
    await Bun.sleep(20);
    expect(lines.map((l) => [l.listener, l.reason, l.code])).toEqual([["HTTPS_PORT", "malformed_header", "not_proxy_protocol"]]);
  });

  test("in front of the HTTPS edge's TLS listener set, identifyClient names the header's client", async () => {
    const registry = new ClientRegistry();
    const set: TlsListenerSet<undefined> = new TlsListenerSet<undefined>(
      {
        hostname: "127.0.0.1",
        port: 0,
        identifyClient: relayedClientIdentity(registry),
        http: { fetch: (request, server) => new Response(set.clientAddress(request, server)), websocket: { message() {} } },
      },
      { fallback: await certificate(), byServerName: new Map() },
    );
    cleanups.push(() => set.stop(true));
    const { sender } = relayInFront(set.port, registry);
    for (let i = 0; i < 3; i++) expect(await (await fetch(`https://localhost:${sender.port}/`, insecure)).text()).toBe("203.0.113.44");
  });
});

describe("PROXY_PROTOCOL_TIMEOUT", () => {
  test("5 s by default; fractions of a second allowed; nonsense refused", () => {
    expect(parseConfig({}, "/srv").proxyProtocolTimeoutMs).toBe(5_000);
    expect(parseConfig({ PROXY_PROTOCOL_TIMEOUT: "0.3" }, "/srv").proxyProtocolTimeoutMs).toBe(300);
    for (const bad of ["0", "-1", "soon"]) {
      expect(() => parseConfig({ PROXY_PROTOCOL_TIMEOUT: bad }, "/srv")).toThrow(ConfigError);
    }
  });
});
