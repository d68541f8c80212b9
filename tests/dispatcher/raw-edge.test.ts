/**
 * The raw edge (HTTP_ENGINE=raw, dispatcher/raw-edge) over real sockets:
 * pipelined requests answered in order, smuggling attempts refused before
 * anything is forwarded, the hand-over of a connection to the internal
 * Bun.serve keeping the client's address (also one from a PROXY header),
 * edge auth decided in the fast lane with the same result as on Bun.serve,
 * HTTP/1.0 clients getting a body they can read, the backend connection
 * failing under the fast lane (a stale pooled connection, none at all), and
 * the header lines a connection reuses never outliving a changed header,
 * token or proxy config.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { proxyHeader, rawExchange } from "../helpers/proxy-protocol-client";
import { rawConnection, startRecordingBackend, statusLines } from "../helpers/raw-http";
import { startRawBackend } from "../proxies/harness";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const HOST = "raw.example.test";
const STREAM_HOST = "raw-stream.example.test";
const WS_HOST = "raw-ws.example.test";

/** Echoes text frames, prefixed with the X-Real-IP the handshake carried. */
const wsBackend = Bun.serve<{ realIp: string | null }>({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request, server) {
    return server.upgrade(request, { data: { realIp: request.headers.get("x-real-ip") } }) ? undefined : new Response("not a handshake", { status: 426 });
  },
  websocket: {
    message(ws, message) {
      ws.send(`${ws.data.realIp} ${String(message)}`);
    },
  },
});

const backend = startRecordingBackend();
let sizedAnswers = 0;
/** Answers with a chunked body of three pieces, or a Server-Sent Events stream on /events. */
const streamingBackend = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const url = new URL(request.url);
    // /wait/N answers "N" after N ms: pipelined behind it, a quicker request must still be answered second.
    if (url.pathname.startsWith("/wait/")) {
      const ms = Number(url.pathname.slice(6));
      await Bun.sleep(ms);
      return new Response(String(ms));
    }
    if (url.pathname.startsWith("/size/")) {
      sizedAnswers++;
      return new Response("x".repeat(Number(url.pathname.slice(6))));
    }
    const pieces = ["one,", "two,", "three"];
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const piece = pieces.shift();
        if (piece === undefined) return controller.close();
        await Bun.sleep(5);
        controller.enqueue(new TextEncoder().encode(piece));
      },
    });
    return new Response(body, { headers: { "content-type": new URL(request.url).pathname === "/events" ? "text/event-stream" : "text/plain" } });
  },
});

let redis: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "alice" });
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: HOST, target_url: backend.url })).status).toBe(201);
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: STREAM_HOST, target_url: streamingBackend.url.href })).status).toBe(201);
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: WS_HOST, target_url: wsBackend.url.href })).status).toBe(201);
  for (let i = 0; i < 100 && (await gw.get(HOST, "/")).status !== 200; i++) await Bun.sleep(20);
  for (let i = 0; i < 100 && (await gw.get(STREAM_HOST, "/")).status !== 200; i++) await Bun.sleep(20);
});

afterAll(async () => {
  await gw?.stop();
  backend.stop();
  streamingBackend.stop(true);
  wsBackend.stop(true);
  await redis?.stop();
});

const requestLines = () => backend.requests.map((r) => r.head.slice(0, r.head.indexOf(" HTTP/1.1")));
const headerOf = (head: string, name: string) => new RegExp(`\\r\\n${name}: *([^\\r]*)`, "i").exec(head)?.[1];

async function oneWrite(bytes: string | Uint8Array, port = gw.gateway.httpPort) {
  backend.requests.length = 0;
  const exchange = await rawExchange(port, [bytes], { timeoutMs: 1_500 });
  await Bun.sleep(30);
  return exchange;
}

describe("pipelining", () => {
  test("requests pipelined in one write, POSTs among them, are all forwarded and answered in order", async () => {
    const post = (path: string) => `POST ${path} HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 2\r\n\r\n{}`;
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
    const { received } = await oneWrite(post("/pay") + get("/status") + post("/pay-again") + `GET /last HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
    expect(statusLines(received)).toEqual(["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 200"]);
    expect(requestLines()).toEqual(["POST /pay", "GET /status", "POST /pay-again", "GET /last"]);
    // Each answer carries its own request's id, in the order the requests came.
    const ids = [...received.matchAll(/x-request-id: ([^\r]+)/g)].map((m) => m[1]!);
    expect(ids).toEqual(backend.requests.map((r) => headerOf(r.head, "x-request-id")!));
  });

  test("a slow answer pipelined before a quick one is still sent first", async () => {
    const get = (ms: number) => `GET /wait/${ms} HTTP/1.1\r\nHost: ${STREAM_HOST}\r\n\r\n`;
    const { received } = await rawExchange(gw.gateway.httpPort, [get(150) + get(0) + get(50)], { timeoutMs: 1_000 });
    const bodies = received.split(/\r\n\r\n/).slice(1).map((rest) => rest.split("HTTP/1.1")[0]);
    expect(bodies).toEqual(["150", "0", "50"]);
  });

  test("a client that pipelines without reading gets no more forwarded than it reads", async () => {
    sizedAnswers = 0;
    const count = 400;
    const request = `GET /size/60000 HTTP/1.1\r\nHost: ${STREAM_HOST}\r\n\r\n`;
    let received = 0;
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: gw.gateway.httpPort,
      socket: {
        data(_socket, chunk) {
          received += chunk.length;
        },
      },
    });
    // 24 MB of answers: far more than the kernel's socket buffers hold while the client does not read.
    socket.pause();
    socket.write(request.repeat(count));
    await Bun.sleep(700);
    const forwardedWhileStalled = sizedAnswers;
    expect(forwardedWhileStalled).toBeLessThan(count);
    socket.resume();
    for (let i = 0; i < 400 && sizedAnswers < count; i++) await Bun.sleep(10);
    expect(sizedAnswers).toBe(count);
    for (let i = 0; i < 400 && received < count * 60_000; i++) await Bun.sleep(10);
    expect(received).toBeGreaterThan(count * 60_000);
    socket.end();
  });

  test("a request split across writes, byte by byte, is framed as one", async () => {
    backend.requests.length = 0;
    const request = `POST /slow HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`;
    const { received } = await rawExchange(gw.gateway.httpPort, [...request], { gapMs: 1 });
    expect(statusLines(received)).toEqual(["HTTP/1.1 200"]);
    expect(requestLines()).toEqual(["POST /slow"]);
    expect(backend.requests[0]!.body.toString()).toBe("hello");
  });
});

describe("heads the raw edge refuses: an error, the connection closed, nothing forwarded", () => {
  const cases: Record<string, string> = {
    "Transfer-Encoding beside Content-Length": `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
    "two different Content-Lengths": `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}GET /smuggled HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
    "a bare LF ending a header line": `GET / HTTP/1.1\r\nHost: ${HOST}\nX-Smuggle: 1\r\n\r\n`,
    "obs-fold": `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Folded: a\r\n b\r\n\r\n`,
    "whitespace before the colon": `GET / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length : 5\r\n\r\nhello`,
    "Transfer-Encoding other than chunked": `POST / HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
  };
  for (const [name, bytes] of Object.entries(cases)) {
    test(name, async () => {
      const { received, closed } = await oneWrite(bytes);
      expect(statusLines(received)).toHaveLength(1);
      expect(received).toMatch(/^HTTP\/1\.1 (400|501) /);
      expect(received.toLowerCase()).toContain("x-content-type-options: nosniff");
      expect(received).toContain('"error"');
      expect(closed).toBe(true);
      expect(requestLines()).toEqual([]);
    });
  }

  test("a head over 32 KiB: 431", async () => {
    const { received, closed } = await oneWrite(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Big: ${"a".repeat(40_000)}\r\n\r\n`);
    expect(statusLines(received)).toEqual(["HTTP/1.1 431"]);
    expect(closed).toBe(true);
    expect(requestLines()).toEqual([]);
  });

  test("a refused head after a good one: the good one is answered first, and nothing after the bad one is read", async () => {
    const { received, closed } = await oneWrite(
      `GET /first HTTP/1.1\r\nHost: ${HOST}\r\n\r\nGET /bad HTTP/1.1\r\nHost: ${HOST}\r\nHost: other.example.test\r\n\r\nGET /never HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
    );
    expect(statusLines(received)).toEqual(["HTTP/1.1 200", "HTTP/1.1 400"]);
    expect(received).toContain("Host header");
    expect(closed).toBe(true);
    expect(requestLines()).toEqual(["GET /first"]);
  });
});

describe("what the fast lane hands to Bun.serve", () => {
  test("a chunked upload after a fast-lane request on the same connection: both forwarded, the client's address kept", async () => {
    backend.requests.length = 0;
    const header = proxyHeader(2, { address: "192.0.2.55", port: 5_555 });
    const requests = `GET /fast HTTP/1.1\r\nHost: ${HOST}\r\n\r\nPOST /relayed HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n`;
    const exchange = await rawExchange(gw.gateway.proxyProtocolPort, [header, requests], { timeoutMs: 1_500 });
    expect(statusLines(exchange.received)).toEqual(["HTTP/1.1 200", "HTTP/1.1 200"]);
    expect(requestLines()).toEqual(["GET /fast", "POST /relayed"]);
    for (const request of backend.requests) {
      expect(headerOf(request.head, "x-real-ip")).toBe("192.0.2.55");
      expect(headerOf(request.head, "x-forwarded-for")).toBe("192.0.2.55");
    }
  });

  test("a request for an unknown host behind a fast-lane one: dispatch answers it (404), nothing more is forwarded", async () => {
    const { received } = await oneWrite(`GET /first HTTP/1.1\r\nHost: ${HOST}\r\n\r\nGET /health HTTP/1.1\r\nHost: unknown.example.test\r\nConnection: close\r\n\r\n`);
    expect(statusLines(received)).toEqual(["HTTP/1.1 200", "HTTP/1.1 404"]);
    expect(requestLines()).toEqual(["GET /first"]);
  });

  test("a client-sent X-Auth-* or X-Forwarded-* header never reaches the backend from the fast lane", async () => {
    await oneWrite(`GET /spoof HTTP/1.1\r\nHost: ${HOST}\r\nX-Auth-User-Name: admin\r\nX_Auth_User_Name: admin\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nConnection: close\r\n\r\n`);
    const head = backend.requests[0]!.head;
    expect(head.toLowerCase()).not.toContain("x-auth-user-name");
    expect(head.toLowerCase()).not.toContain("x_auth_user_name");
    expect(head).not.toContain("6.6.6.6");
    expect(headerOf(head, "x-forwarded-for")).toBe("127.0.0.1");
  });
});

describe("answers a client can read", () => {
  test("an HTTP/1.0 client gets a streamed body without chunked framing, ended by the close", async () => {
    const { received, closed } = await rawExchange(gw.gateway.httpPort, [`GET / HTTP/1.0\r\nHost: ${STREAM_HOST}\r\n\r\n`]);
    expect(closed).toBe(true);
    const [head, body] = received.split("\r\n\r\n");
    expect(head!.toLowerCase()).not.toContain("transfer-encoding");
    expect(head!.toLowerCase()).toContain("connection: close");
    expect(body).toBe("one,two,three");
  });

  test("an HTTP/1.1 client gets it chunked, and the connection stays usable", async () => {
    const connection = await rawConnection(gw.gateway.httpPort);
    const first = await connection.send(`GET / HTTP/1.1\r\nHost: ${STREAM_HOST}\r\n\r\n`, 200);
    expect(first.toLowerCase()).toContain("transfer-encoding: chunked");
    expect(first).toContain("5\r\nthree\r\n0\r\n\r\n");
    const second = await connection.send(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 200);
    expect(statusLines(second)).toEqual(["HTTP/1.1 200"]);
    connection.close();
  });

  test("HEAD keeps no body, and the next request on the connection is framed right", async () => {
    const connection = await rawConnection(gw.gateway.httpPort);
    const answer = await connection.send(`HEAD / HTTP/1.1\r\nHost: ${HOST}\r\n\r\nGET /after-head HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 200);
    // A HEAD answer announces the GET's length but carries no body: the next status line follows its head at once.
    expect(answer.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    expect(answer).toMatch(/content-length: 2\r\n\r\nHTTP\/1\.1 200 /);
    connection.close();
  });
});

describe("WebSocket handshakes the fast lane tunnels", () => {
  /** A masked client text frame (RFC 6455 §5.2), payload under 126 bytes. */
  const textFrame = (text: string) => {
    const payload = Buffer.from(text);
    const mask = Buffer.from([1, 2, 3, 4]);
    return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
  };
  const handshake = (host: string) =>
    `GET /socket HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Real-IP: 6.6.6.6\r\n\r\n`;

  test("a frame sent right behind the handshake, before the 101, reaches the backend; the answer carries a request id", async () => {
    const { received } = await rawExchange(gw.gateway.httpPort, [Buffer.concat([Buffer.from(handshake(WS_HOST)), textFrame("early")])], { timeoutMs: 800 });
    expect(received).toStartWith("HTTP/1.1 101 ");
    expect(received.toLowerCase()).toContain("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=");
    expect(received).toMatch(/x-request-id: \S+/);
    // The backend's echo frame: the client's address as the gateway set it (never the client's own X-Real-IP), then the text.
    expect(received).toContain("127.0.0.1 early");
    expect(received).not.toContain("6.6.6.6");
  });

  test("a backend that is not listening: 502 from the gateway, and the connection closes", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = closed.port;
    closed.stop(true);
    const host = "raw-ws-gone.example.test";
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: host, target_url: `http://127.0.0.1:${port}` })).status).toBe(201);
    for (let i = 0; i < 100 && (await gw.get(host, "/")).status === 404; i++) await Bun.sleep(20);
    const exchange = await rawExchange(gw.gateway.httpPort, [handshake(host)], { timeoutMs: 2_000 });
    expect(statusLines(exchange.received)).toEqual(["HTTP/1.1 502"]);
    expect(exchange.closed).toBe(true);
  });
});

describe("the backend connection behind the fast lane", () => {
  /** A proxy host on a fresh backend, once the gateway serves it. */
  async function proxyTo(host: string, url: string): Promise<void> {
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: host, target_url: url })).status).toBe(201);
    for (let i = 0; i < 100 && (await rawExchange(gw.gateway.httpPort, [`HEAD / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`])).received.includes(" 404 "); i++) await Bun.sleep(20);
  }

  /** Each connection answers its first request and closes on its second, unanswered: an idle timeout racing the reuse. */
  const racingBackend = () =>
    startRawBackend((socket, request) => {
      if (request.index === 1) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      else socket.end();
    });

  test("a pooled connection the backend closes as it is reused: the GET is sent again on a new one, the client sees only answers", async () => {
    const racing = racingBackend();
    try {
      const host = "raw-stale.example.test";
      await proxyTo(host, racing.url);
      const before = racing.connections();
      const client = await rawConnection(gw.gateway.httpPort);
      for (let i = 0; i < 4; i++) expect(statusLines(await client.send(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`))).toEqual(["HTTP/1.1 200"]);
      client.close();
      // Every GET after the first found its pooled connection closed under it and went out again on a new one.
      expect(racing.connections() - before).toBe(4);
    } finally {
      racing.stop();
    }
  });

  test("the same race on a POST: not sent twice, 502", async () => {
    const racing = racingBackend();
    try {
      const host = "raw-stale-post.example.test";
      await proxyTo(host, racing.url);
      const client = await rawConnection(gw.gateway.httpPort);
      const post = (body: string) => client.send(`POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      expect(statusLines(await post("a"))).toEqual(["HTTP/1.1 200"]);
      const connections = racing.connections();
      expect(statusLines(await post("b"))).toEqual(["HTTP/1.1 502"]);
      expect(racing.connections()).toBe(connections);
      client.close();
    } finally {
      racing.stop();
    }
  });

  test("a backend that is not listening: the fast lane answers 502 itself", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = closed.port;
    closed.stop(true);
    const host = "raw-gone.example.test";
    await proxyTo(host, `http://127.0.0.1:${port}`);
    const exchange = await rawExchange(gw.gateway.httpPort, [`GET / HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`], { timeoutMs: 2_000 });
    expect(statusLines(exchange.received)).toEqual(["HTTP/1.1 502"]);
    expect(exchange.received).toContain('"error":"bad_gateway","detail":"the upstream service refused the connection"');
  });
});

test("a header line slipped in before a repeated header block on one connection counts: both framings refused, nothing more forwarded", async () => {
  const block = `Host: ${HOST}\r\nContent-Length: 5\r\n\r\n`;
  backend.requests.length = 0;
  const connection = await rawConnection(gw.gateway.httpPort);
  expect(statusLines(await connection.send(`POST /first HTTP/1.1\r\n${block}hello`, 200))).toEqual(["HTTP/1.1 200"]);
  // The same block's bytes end this head too; the Transfer-Encoding line before them must not be read past.
  const refused = await connection.send(`POST /second HTTP/1.1\r\nTransfer-Encoding: chunked\r\n${block}0\r\n\r\n`, 200);
  expect(statusLines(refused)).toEqual(["HTTP/1.1 400"]);
  expect(refused).toContain("both Transfer-Encoding and Content-Length");
  expect(connection.closed).toBe(true);
  expect(requestLines()).toEqual(["POST /first"]);
});

test("Expect: 100-continue, as the first header or a later one: the client is told to go on before it sends its body", async () => {
  for (const headers of [`Expect: 100-continue\r\nHost: ${HOST}\r\n`, `Host: ${HOST}\r\nExpect: 100-continue\r\n`]) {
    backend.requests.length = 0;
    const connection = await rawConnection(gw.gateway.httpPort);
    const interim = await connection.send(`POST /upload HTTP/1.1\r\n${headers}Content-Length: 5\r\n\r\n`, 300);
    expect(statusLines(interim)).toEqual(["HTTP/1.1 100"]);
    const answer = await connection.send("hello", 200);
    connection.close();
    expect(statusLines(answer)).toEqual(["HTTP/1.1 200"]);
    expect(requestLines()).toEqual(["POST /upload"]);
  }
});

describe("edge auth in the fast lane", () => {
  const AUTH_HOST = "raw-auth.example.test";
  const mint = async (username: string) => {
    // Tokens name resources by https (the plain-HTTP audience is listed in auth_allowed_audiences below, as in bench/auth.ts).
    const res = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource: `https://${AUTH_HOST}`, username });
    expect(res.status).toBe(201);
    return res.json.access_token as string;
  };

  test("one connection: a valid token forwarded with the gateway's identity, then no token and a disallowed user refused, in order", async () => {
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: AUTH_HOST, target_url: backend.url })).status).toBe(201);
    expect((await gw.api("POST", `/api/v1/proxy/targets/${AUTH_HOST}/auth`, { auth_enabled: true, auth_mode: "forward", auth_allowed_audiences: [`https://${AUTH_HOST}`] })).status).toBe(200);
    for (let i = 0; i < 100 && (await gw.get(AUTH_HOST, "/")).status !== 401; i++) await Bun.sleep(20);
    const [alice, bob] = [await mint("alice"), await mint("bob")];
    const get = (path: string, token?: string) =>
      `GET ${path} HTTP/1.1\r\nHost: ${AUTH_HOST}\r\n${token ? `Authorization: Bearer ${token}\r\n` : ""}X-Auth-User-Name: mallory\r\n\r\n`;
    backend.requests.length = 0;
    const connection = await rawConnection(gw.gateway.httpPort);
    // The first two pipelined: the fast lane answers alice, then hands the connection over at the refusal.
    const answers = [await connection.send(get("/alice", alice) + get("/anonymous"), 200)];
    // From here on Bun.serve answers this connection (one request at a time: it does not take pipelining behind a pending answer).
    answers.push(await connection.send(get("/bob", bob), 200), await connection.send(get("/alice-again", alice), 200));
    connection.close();
    expect(answers.map(statusLines)).toEqual([["HTTP/1.1 200", "HTTP/1.1 401"], ["HTTP/1.1 403"], ["HTTP/1.1 200"]]);
    expect(requestLines()).toEqual(["GET /alice", "GET /alice-again"]);
    for (const request of backend.requests) {
      expect(headerOf(request.head, "x-auth-user-name")).toBe("alice");
      expect(request.head.toLowerCase()).not.toContain("authorization:");
      expect(request.head).not.toContain("mallory");
    }
  });
});

describe("header lines reused on a keep-alive connection (upstream-header-lines.ts)", () => {
  const REUSE_HOST = "raw-reuse.example.test";
  const AUTH_REUSE_HOST = "raw-reuse-auth.example.test";
  const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: ${REUSE_HOST}\r\n${extra}\r\n`;

  beforeAll(async () => {
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: REUSE_HOST, target_url: backend.url, custom_headers: { "X-Config": "one" } })).status).toBe(201);
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: AUTH_REUSE_HOST, target_url: backend.url })).status).toBe(201);
    const auth = { auth_enabled: true, auth_mode: "forward", auth_required_users: ["alice", "carol"], auth_allowed_audiences: [`https://${AUTH_REUSE_HOST}`] };
    expect((await gw.api("POST", `/api/v1/proxy/targets/${AUTH_REUSE_HOST}/auth`, auth)).status).toBe(200);
    for (let i = 0; i < 100 && (await gw.get(REUSE_HOST, "/")).status !== 200; i++) await Bun.sleep(20);
    for (let i = 0; i < 100 && (await gw.get(AUTH_REUSE_HOST, "/")).status !== 401; i++) await Bun.sleep(20);
  });

  test("a header changed between requests goes up changed; the same headers again still get their own request id and span", async () => {
    await oneWrite(get("/1", "X-Note: one\r\n") + get("/2", "X-Note: two\r\n") + get("/3", "X-Note: two\r\nConnection: close\r\n"));
    expect(requestLines()).toEqual(["GET /1", "GET /2", "GET /3"]);
    expect(backend.requests.map((r) => headerOf(r.head, "x-note"))).toEqual(["one", "two", "two"]);
    for (const name of ["x-request-id", "traceparent"]) {
      const values = backend.requests.map((r) => headerOf(r.head, name));
      expect(new Set(values).size).toBe(3);
    }
    // Each request's own ids, once each: the reused lines hold none.
    for (const request of backend.requests) expect(request.head.match(/\r\nx-request-id:/gi)).toHaveLength(1);
  });

  test("two users' tokens on one connection, interleaved: each request goes up with its own identity", async () => {
    const mint = async (username: string) => {
      const res = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource: `https://${AUTH_REUSE_HOST}`, username });
      expect(res.status).toBe(201);
      return res.json.access_token as string;
    };
    const [alice, carol] = [await mint("alice"), await mint("carol")];
    const as = (path: string, token: string) => `GET ${path} HTTP/1.1\r\nHost: ${AUTH_REUSE_HOST}\r\nAuthorization: Bearer ${token}\r\n\r\n`;
    backend.requests.length = 0;
    const connection = await rawConnection(gw.gateway.httpPort);
    // One at a time: the second and third are taken only after the first's token is verified and answered.
    const answers = [await connection.send(as("/alice", alice), 200), await connection.send(as("/carol", carol), 200), await connection.send(as("/alice-again", alice), 200)];
    connection.close();
    expect(answers.map(statusLines)).toEqual([["HTTP/1.1 200"], ["HTTP/1.1 200"], ["HTTP/1.1 200"]]);
    expect(requestLines()).toEqual(["GET /alice", "GET /carol", "GET /alice-again"]);
    expect(backend.requests.map((r) => headerOf(r.head, "x-auth-user-name"))).toEqual(["alice", "carol", "alice"]);
  });

  test("a token revoked while its connection stays open: the next request on that connection is refused", async () => {
    const minted = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource: `https://${AUTH_REUSE_HOST}`, username: "alice" });
    expect(minted.status).toBe(201);
    const as = (path: string) => `GET ${path} HTTP/1.1\r\nHost: ${AUTH_REUSE_HOST}\r\nAuthorization: Bearer ${minted.json.access_token}\r\n\r\n`;
    backend.requests.length = 0;
    const connection = await rawConnection(gw.gateway.httpPort);
    // Twice first: the second request finds the token verified, and its connection remembers it (edge-tokens.ts).
    expect(statusLines(await connection.send(as("/first"), 200))).toEqual(["HTTP/1.1 200"]);
    expect(statusLines(await connection.send(as("/second"), 200))).toEqual(["HTTP/1.1 200"]);
    expect((await gw.api("DELETE", `/api/v1/oauth/sessions/${minted.json.session_id}`)).status).toBe(200);
    // In effect once another connection is refused with it.
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`http://127.0.0.1:${gw.gateway.httpPort}/probe`, { headers: { host: AUTH_REUSE_HOST, authorization: `Bearer ${minted.json.access_token}` } });
      await res.body?.cancel();
      if (res.status === 401) break;
      await Bun.sleep(20);
    }
    const refused = await connection.send(as("/after-revocation"), 200);
    connection.close();
    expect(statusLines(refused)).toEqual(["HTTP/1.1 401"]);
    expect(refused).toContain("token revoked");
    expect(requestLines()).toEqual(["GET /first", "GET /second"]);
  });

  test("a config change between two requests on one connection: the second goes up with the new custom header", async () => {
    backend.requests.length = 0;
    const connection = await rawConnection(gw.gateway.httpPort);
    expect(statusLines(await connection.send(get("/before"), 200))).toEqual(["HTTP/1.1 200"]);
    expect((await gw.api("PUT", `/api/v1/proxy/targets/${REUSE_HOST}`, { custom_headers: { "X-Config": "two" } })).status).toBe(200);
    // The change is in effect once a request on another connection carries it.
    for (let i = 0; i < 100; i++) {
      backend.requests.length = 1;
      await gw.get(REUSE_HOST, "/probe");
      if (headerOf(backend.requests.at(-1)?.head ?? "", "x-config") === "two") break;
      await Bun.sleep(20);
    }
    backend.requests.length = 1;
    expect(statusLines(await connection.send(get("/after"), 200))).toEqual(["HTTP/1.1 200"]);
    connection.close();
    expect(requestLines()).toEqual(["GET /before", "GET /after"]);
    expect(backend.requests.map((r) => headerOf(r.head, "x-config"))).toEqual(["one", "two"]);
  });
});

describe("the same request again on one connection reuses edge auth's allow (last-allowed.ts), and nothing else does", () => {
  const HOST_AGAIN = "raw-again.example.test";
  const policy = (users: string[]) => ({
    auth_enabled: true,
    auth_mode: "forward",
    auth_required_users: users,
    auth_excluded_paths: ["/public"],
    auth_allowed_audiences: [`https://${HOST_AGAIN}`],
  });
  const mint = async (username = "alice") => {
    const res = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource: `https://${HOST_AGAIN}`, username });
    expect(res.status).toBe(201);
    return res.json as { access_token: string; session_id: string };
  };
  const as = (path: string, token: string) => `GET ${path} HTTP/1.1\r\nHost: ${HOST_AGAIN}\r\nAuthorization: Bearer ${token}\r\n\r\n`;
  /** Polls on new connections until `token` gets `status`: a change is then in effect on this gateway. */
  const untilAnswered = async (token: string, status: number) => {
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`http://127.0.0.1:${gw.gateway.httpPort}/probe`, { headers: { host: HOST_AGAIN, authorization: `Bearer ${token}` } });
      await res.body?.cancel();
      if (res.status === status) return;
      await Bun.sleep(20);
    }
    throw new Error(`never answered ${status}`);
  };

  beforeAll(async () => {
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: HOST_AGAIN, target_url: backend.url })).status).toBe(201);
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST_AGAIN}/auth`, policy(["alice"]))).status).toBe(200);
    for (let i = 0; i < 100 && (await gw.get(HOST_AGAIN, "/")).status !== 401; i++) await Bun.sleep(20);
  });

  test("its token revoked: the very same request on that connection is refused", async () => {
    const minted = await mint();
    backend.requests.length = 0;
    const connection = await rawConnection(gw.gateway.httpPort);
    for (let i = 0; i < 3; i++) expect(statusLines(await connection.send(as("/same", minted.access_token), 200))).toEqual(["HTTP/1.1 200"]);
    expect((await gw.api("DELETE", `/api/v1/oauth/sessions/${minted.session_id}`)).status).toBe(200);
    await untilAnswered(minted.access_token, 401);
    const refused = await connection.send(as("/same", minted.access_token), 200);
    connection.close();
    expect(statusLines(refused)).toEqual(["HTTP/1.1 401"]);
    expect(refused).toContain("token revoked");
    expect(requestLines()).toEqual(["GET /same", "GET /same", "GET /same"]);
  });

  test("the proxy's allowlist changed to leave its user out: the very same request on that connection is refused", async () => {
    const { access_token: token } = await mint();
    backend.requests.length = 0;
    const connection = await rawConnection(gw.gateway.httpPort);
    try {
      for (let i = 0; i < 2; i++) expect(statusLines(await connection.send(as("/same", token), 200))).toEqual(["HTTP/1.1 200"]);
      expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST_AGAIN}/auth`, policy(["carol"]))).status).toBe(200);
      await untilAnswered(token, 403);
      expect(statusLines(await connection.send(as("/same", token), 200))).toEqual(["HTTP/1.1 403"]);
      expect(requestLines()).toEqual(["GET /same", "GET /same"]);
    } finally {
      connection.close();
      expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST_AGAIN}/auth`, policy(["alice"]))).status).toBe(200);
      await untilAnswered(token, 200);
    }
  });

  test("another user's token, then no token, on the same path right after allowed requests: each decided for itself", async () => {
    const [alice, bob] = [(await mint()).access_token, (await mint("bob")).access_token];
    backend.requests.length = 0;
    const connection = await rawConnection(gw.gateway.httpPort);
    const answers = [];
    for (const token of [alice, alice, bob]) answers.push(await connection.send(as("/same", token), 200));
    // The refusal handed the connection to Bun.serve; the same path without a token is refused there too.
    answers.push(await connection.send(`GET /same HTTP/1.1\r\nHost: ${HOST_AGAIN}\r\n\r\n`, 200));
    connection.close();
    expect(answers.map(statusLines)).toEqual([["HTTP/1.1 200"], ["HTTP/1.1 200"], ["HTTP/1.1 403"], ["HTTP/1.1 401"]]);
    expect(requestLines()).toEqual(["GET /same", "GET /same"]);
  });

  test("the same headers to an excluded path right after an allowed request: forwarded without the identity", async () => {
    const { access_token: token } = await mint();
    backend.requests.length = 0;
    const connection = await rawConnection(gw.gateway.httpPort);
    for (const path of ["/private", "/private", "/public", "/private"]) expect(statusLines(await connection.send(as(path, token), 200))).toEqual(["HTTP/1.1 200"]);
    connection.close();
    expect(requestLines()).toEqual(["GET /private", "GET /private", "GET /public", "GET /private"]);
    expect(backend.requests.map((r) => headerOf(r.head, "x-auth-user-name"))).toEqual(["alice", "alice", undefined, "alice"]);
  });
});
