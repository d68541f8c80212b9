/**
 * The source-token relay on real sockets, without a container engine: token
 * port allocations written to a real Redis (as the Docker service manager
 * writes them, relay_upstream naming where the container answers) are bound
 * by the in-process gateway, which checks the token and relays to a local
 * backend. Raw sockets for the framing cases: a recording backend frames what
 * it receives itself, so a request smuggled past the relay would show up there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hashApiToken } from "../../src/core/api-token";
import { PortRepository, type PortAllocation } from "../../src/storage/port-repository";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { preChosenPort } from "../helpers/ports";
import { rawConnection, startRecordingBackend, statusLines } from "../helpers/raw-http";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

const TOKEN = "relay-token-aaaaaaaa";
const OTHER_TOKEN = "relay-token-bbbbbbbb";

let redis: TestRedis;
let gw: TestGateway;
let ports: PortRepository;
/** Paths the backend received. */
const reached: string[] = [];
const echo = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    const url = new URL(req.url);
    reached.push(url.pathname);
    return Response.json({ backend: "container", path: url.pathname + url.search, host: req.headers.get("host"), headers: Object.fromEntries(req.headers) });
  },
});
const recording = startRecordingBackend();

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis);
  ports = new PortRepository(redis.client);
});

afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  echo.stop(true);
  recording.stop();
});

function allocation(service: string, name: string, port: number, token: string | null, upstream: string | null): PortAllocation {
  return {
    service_name: service,
    port_name: name,
    host_port: port,
    container_port: 8080,
    bind_address: "127.0.0.1",
    protocol: "tcp",
    source_token_hash: token === null ? null : hashApiToken(token),
    require_token: token !== null,
    owner_token_hash: null,
    description: "",
    allocated_at: new Date().toISOString(),
    relay_upstream: upstream,
  };
}

/** What a plain request to the port gets: a status, or "refused" when nothing listens. */
async function probe(port: number, headers: Record<string, string> = {}): Promise<number | "refused"> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/probe`, { headers, signal: AbortSignal.timeout(1_000) })).status;
  } catch {
    return "refused";
  }
}

/** Claims a token port as the Docker service manager does and waits until this gateway serves it. */
async function tokenPort(service: string, name: string, token: string, upstream: string | null, repo = ports): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = preChosenPort();
    const claimed = await repo.claim(allocation(service, name, port, token, upstream));
    if (!claimed.ok && attempt < 5) continue;
    expect(claimed.ok).toBe(true);
    return port;
  }
}

const echoHost = () => `127.0.0.1:${echo.port}`;
const recordingHost = () => recording.url.replace("http://", "");

describe("a token port answers only with its token", () => {
  let port: number;
  let other: number;
  beforeAll(async () => {
    port = await tokenPort("shop", "web", TOKEN, echoHost());
    other = await tokenPort("shop", "admin", OTHER_TOKEN, echoHost());
    expect(await within(2_000, async () => (await probe(port)) === 401 && (await probe(other)) === 401)).toBe(true);
  });

  test("no token → 401 JSON with a Bearer challenge; the backend is never reached", async () => {
    reached.length = 0;
    const res = await fetch(`http://127.0.0.1:${port}/secret`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toStartWith("Bearer ");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const body = (await res.json()) as any;
    expect(body.error).toBe("unauthorized");
    expect(body.detail).toContain("X-Source-Token");
    // A request with the token after it shows the backend is reachable, and that it saw only that one.
    expect(await probe(port, { "x-source-token": TOKEN })).toBe(200);
    expect(reached).toEqual(["/probe"]);
  });

  test("no other process can share the port (the relay's socket is bound without SO_REUSEPORT)", () => {
    expect(() => Bun.serve({ hostname: "127.0.0.1", port, reusePort: true, fetch: () => new Response("stolen") }).stop(true)).toThrow();
  });

  test("Authorization: Bearer <token> → the backend answers; it does not see that Authorization; X-Forwarded-* are the gateway's", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/path?q=1`, {
      headers: { authorization: `Bearer ${TOKEN}`, "x-forwarded-for": "6.6.6.6", "x-forwarded-proto": "https", "x-real-ip": "6.6.6.6", host: "shop.example.test:1234" },
    });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as any;
    expect(seen.backend).toBe("container");
    expect(seen.path).toBe("/path?q=1");
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen.headers["x-forwarded-proto"]).toBe("http");
    expect(seen.headers["x-real-ip"]).toBe("127.0.0.1");
    // The client's Host goes on: the relay stands in for the container's own port.
    expect(seen.host).toBe("shop.example.test:1234");
  });

  test("X-Source-Token → the backend answers without it (nor an underscore spelling); the backend's own Authorization goes on", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      headers: { "x-source-token": TOKEN, x_source_token: TOKEN, authorization: "Basic dXNlcjpwdw==" },
    });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as any;
    expect(seen.headers["x-source-token"]).toBeUndefined();
    expect(seen.headers["x_source_token"]).toBeUndefined();
    expect(seen.headers.authorization).toBe("Basic dXNlcjpwdw==");
  });

  test("a wrong token of the same length, another port's token, the stored hash, a Basic scheme → 401", async () => {
    const wrong = TOKEN.slice(0, -1) + "b";
    expect(wrong.length).toBe(TOKEN.length);
    const refused: Record<string, string>[] = [
      { "x-source-token": wrong },
      { authorization: `Bearer ${wrong}` },
      { authorization: `Bearer ${OTHER_TOKEN}` },
      { "x-source-token": OTHER_TOKEN },
      { "x-source-token": hashApiToken(TOKEN) },
      { authorization: `Basic ${TOKEN}` },
    ];
    for (const headers of refused) {
      expect(await probe(port, headers)).toBe(401);
    }
    // Each port has its own token.
    expect(await probe(other, { "x-source-token": OTHER_TOKEN })).toBe(200);
    expect(await probe(other, { "x-source-token": TOKEN })).toBe(401);
  });

  test("a token change applies within 100 ms: the old token 401, the new one 200", async () => {
    const changedAt = performance.now();
    await ports.update(port, "shop", "web", (held) => ({ ...held, source_token_hash: hashApiToken("relay-token-cccccccc") }));
    expect(await within(100, async () => (await probe(port, { "x-source-token": TOKEN })) === 401)).toBe(true);
    expect(performance.now() - changedAt).toBeLessThan(150);
    expect(await probe(port, { "x-source-token": "relay-token-cccccccc" })).toBe(200);
  });

  test("a token port whose container does not run → 503 JSON after the token check (401 before it)", async () => {
    const stopped = await tokenPort("idle", "web", TOKEN, null);
    expect(await within(2_000, async () => (await probe(stopped)) === 401)).toBe(true);
    const res = await fetch(`http://127.0.0.1:${stopped}/`, { headers: { "x-source-token": TOKEN } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).detail).toContain("not running");
    // The container starts: relay_upstream set, answered from then on.
    await ports.update(stopped, "idle", "web", (held) => ({ ...held, relay_upstream: echoHost() }));
    expect(await within(1_000, async () => (await probe(stopped, { "x-source-token": TOKEN })) === 200)).toBe(true);
  });

  test("released (service deleted): the listener closes and the port is bindable again", async () => {
    const gone = await tokenPort("brief", "web", TOKEN, echoHost());
    expect(await within(2_000, async () => (await probe(gone)) === 401)).toBe(true);
    await ports.releaseService("brief");
    expect(await within(1_000, async () => (await probe(gone)) === "refused")).toBe(true);
    const listener = Bun.listen({ hostname: "127.0.0.1", port: gone, socket: { data() {} } });
    listener.stop(true);
  });

  test("the token removed: the gateway lets go of the port (the engine publishes it again)", async () => {
    const plain = await tokenPort("plain", "web", TOKEN, echoHost());
    expect(await within(2_000, async () => (await probe(plain)) === 401)).toBe(true);
    await ports.update(plain, "plain", "web", (held) => ({ ...held, source_token_hash: null, require_token: false }));
    expect(await within(1_000, async () => (await probe(plain)) === "refused")).toBe(true);
  });
});

describe("WebSocket", () => {
  test("the handshake needs the token (401 without, the backend never asked); with it, frames are relayed and the backend does not see the token", async () => {
    const handshakes: Record<string, string>[] = [];
    const wsBackend = Bun.serve<undefined>({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, server) {
        handshakes.push(Object.fromEntries(req.headers));
        return server.upgrade(req) ? undefined : new Response("no upgrade", { status: 400 });
      },
      websocket: { message: (ws, message) => void ws.send(`echo:${message}`) },
    });
    try {
      const port = await tokenPort("sockets", "ws", TOKEN, `127.0.0.1:${wsBackend.port}`);
      expect(await within(2_000, async () => (await probe(port)) === 401)).toBe(true);

      const refused = await fetch(`http://127.0.0.1:${port}/ws`, {
        headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
      });
      expect(refused.status).toBe(401);
      expect(handshakes).toEqual([]);

      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { "x-source-token": TOKEN } } as never);
      const reply = await new Promise<string>((resolve, reject) => {
        ws.onopen = () => ws.send("ping");
        ws.onmessage = (event) => resolve(String(event.data));
        ws.onerror = () => reject(new Error("websocket failed"));
      });
      ws.close();
      expect(reply).toBe("echo:ping");
      expect(handshakes).toHaveLength(1);
      expect(handshakes[0]!["x-source-token"]).toBeUndefined();
      expect(handshakes[0]!["x-forwarded-for"]).toBe("127.0.0.1");
    } finally {
      wsBackend.stop(true);
    }
  });
});

describe("framing: a request smuggled inside another never reaches the backend", () => {
  const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  const H = `Host: x\r\nX-Source-Token: ${TOKEN}\r\n`;
  const probes: Record<string, string> = {
    "CL.TE": `POST /a HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    "TE.CL": `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`,
    "two Content-Lengths": `POST /a HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    "obs-fold Transfer-Encoding": `POST /a HTTP/1.1\r\n${H}X-Pad: 1\r\n chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    "GET with a body holding a request": `GET /a HTTP/1.1\r\n${H}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
  };
  let port: number;
  beforeAll(async () => {
    port = await tokenPort("framed", "web", TOKEN, recordingHost());
    expect(await within(2_000, async () => (await probe(port)) === 401)).toBe(true);
  });

  for (const [name, bytes] of Object.entries(probes)) {
    test(name, async () => {
      recording.requests.length = 0;
      const client = await rawConnection(port);
      const answer = await client.send(bytes, 300);
      client.close();
      // Either refused (400 or closed), or /a alone forwarded and the trailing bytes answered as a request of their own, without a token.
      for (const line of statusLines(answer)) expect(["HTTP/1.1 200", "HTTP/1.1 400", "HTTP/1.1 401"]).toContain(line);
      const lines = recording.requests.map((r) => r.head.split("\r\n")[0]!);
      expect(lines.every((l) => l.startsWith("POST /a ") || l.startsWith("GET /a "))).toBe(true);
      for (const request of recording.requests) {
        expect(request.body.toString("latin1")).not.toContain("smuggled");
        expect(request.head.toLowerCase()).not.toContain("x-source-token");
      }
    });
  }

  test("raw TCP (not HTTP) gets an HTTP error or a closed connection, never the backend", async () => {
    recording.requests.length = 0;
    for (const bytes of ["SSH-2.0-OpenSSH_9.2\r\n", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", `*1\r\n$4\r\nPING\r\n`]) {
      const client = await rawConnection(port);
      const answer = await client.send(bytes, 300);
      client.close();
      for (const line of statusLines(answer)) expect(line).toMatch(/^HTTP\/1\.1 4\d\d/);
    }
    expect(recording.requests).toEqual([]);
  });

  test("a keep-alive connection: after one request with the token, the next one without it is refused", async () => {
    recording.requests.length = 0;
    const client = await rawConnection(port);
    expect(statusLines(await client.send(`GET /first HTTP/1.1\r\n${H}\r\n`))).toEqual(["HTTP/1.1 200"]);
    expect(statusLines(await client.send("GET /second HTTP/1.1\r\nHost: x\r\n\r\n"))).toEqual(["HTTP/1.1 401"]);
    client.close();
    expect(recording.requests.map((r) => r.head.split(" ")[1])).toEqual(["/first"]);
  });
});

describe("several nodes on one machine", () => {
  test("a node starting with token ports in Redis binds them; a sibling retries (EADDRINUSE) and serves once the first one stops", async () => {
    const shared = await startTestRedis();
    const repo = new PortRepository(shared.client);
    const port = await tokenPort("cluster", "web", TOKEN, echoHost(), repo);
    const first = await startTestGateway(shared);
    const secondLog: string[] = [];
    let second: TestGateway | undefined;
    try {
      expect(await within(2_000, async () => (await probe(port, { "x-source-token": TOKEN })) === 200)).toBe(true);
      second = await startTestGateway(shared, {}, { logLines: secondLog });
      expect(secondLog.some((line) => line.includes("port in use, retrying") && line.includes(String(port)))).toBe(true);
      await first.stop();
      expect(await within(3_000, async () => (await probe(port, { "x-source-token": TOKEN })) === 200)).toBe(true);
      expect(secondLog.some((line) => line.includes("serving a token port") && line.includes(String(port)))).toBe(true);
    } finally {
      await second?.stop();
      await first.stop().catch(() => {});
      await shared.stop();
    }
    expect(await probe(port)).toBe("refused");
  }, 30_000);
});
