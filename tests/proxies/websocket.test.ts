/**
 * WebSocket passthrough against a real Bun backend: frames, pings, close codes,
 * subprotocols, header rules, failures before the upgrade, and backpressure.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { forwardTarget } from "../../src/proxies";
import { closedPort } from "../helpers/ports";
import { rawExchange, startGateway } from "./harness";

type BackendData = { headers: Record<string, string>; path: string; route: string };
const seen: { headers?: Record<string, string>; path?: string; pings: string[]; closes: [number, string][] } = { pings: [], closes: [] };
let floodSent = 0;
let floodReceived = 0;
let sinkSocket: import("bun").ServerWebSocket<BackendData> | undefined;

const backend = Bun.serve<BackendData>({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request, server) {
    const url = new URL(request.url);
    const route = url.pathname.replace(/^\/ws-base/, "");
    if (route === "/forbidden") return new Response("no", { status: 403 });
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    const headers: Record<string, string> = {};
    if (offered.includes("chat.v2")) headers["sec-websocket-protocol"] = "chat.v2";
    const data = { headers: Object.fromEntries(request.headers), path: url.pathname + url.search, route };
    return server.upgrade(request, { data, headers }) ? undefined : new Response("upgrade failed", { status: 400 });
  },
  websocket: {
    open(ws) {
      seen.headers = ws.data.headers;
      seen.path = ws.data.path;
      if (ws.data.route === "/flood") flood(ws);
      if (ws.data.route === "/sink") {
        sinkSocket = ws;
        ws.pause();
      }
    },
    drain(ws) {
      if (ws.data.route === "/flood") flood(ws);
    },
    message(ws, message) {
      if (ws.data.route === "/sink") {
        floodReceived += typeof message === "string" ? message.length : message.byteLength;
        return;
      }
      if (message === "close-me") return ws.close(4002, "backend says bye");
      if (message === "ping-me") return void ws.ping("from-backend");
      ws.send(message);
    },
    ping(_ws, data) {
      seen.pings.push(data.toString());
    },
    close(_ws, code, reason) {
      seen.closes.push([code, reason]);
    },
  },
});

const FLOOD_FRAME = 256 * 1024;
const FLOOD_LIMIT = 256 * 1024 * 1024;
/** Sends until the socket reports backpressure (or the limit); resumes on drain. */
function flood(ws: import("bun").ServerWebSocket<BackendData>) {
  const frame = new Uint8Array(FLOOD_FRAME);
  while (floodSent < FLOOD_LIMIT) {
    const status = ws.send(frame);
    if (status === 0) throw new Error("backend dropped a frame");
    floodSent += FLOOD_FRAME;
    if (status === -1) return;
  }
}

const gateway = startGateway(
  forwardTarget(`http://127.0.0.1:${backend.port}/ws-base`, { requestHeaders: { "x-tenant": "blue" } }),
);
afterAll(async () => {
  await gateway.stop();
  await backend.stop(true);
});
const wsUrl = (path: string) => `ws://127.0.0.1:${gateway.port}${path}`;

function connect(path: string, protocols?: string[], headers?: Record<string, string>): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl(path), { protocols, headers } as Bun.WebSocketOptions);
  ws.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = (event) => reject(new Error((event as ErrorEvent).message));
  });
}
const nextMessage = (ws: WebSocket) => new Promise<unknown>((resolve) => ws.addEventListener("message", (e) => resolve(e.data), { once: true }));
const closed = (ws: WebSocket) => new Promise<CloseEvent>((resolve) => ws.addEventListener("close", (e) => resolve(e), { once: true }));
const until = async (what: string, check: () => boolean, ms = 3_000) => {
  for (const deadline = Date.now() + ms; !check(); await Bun.sleep(10)) if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
};

describe("websocket relay", () => {
  test("text and binary frames echo through; path, query and headers follow the HTTP rules", async () => {
    const ws = await connect("/echo?room=1", undefined, { "x-forwarded-for": "6.6.6.6", "x-auth-user-id": "admin", "x-tenant": "red" });
    expect(seen.path).toBe("/ws-base/echo?room=1");
    expect(seen.headers!["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen.headers!["x-auth-user-id"]).toBeUndefined();
    expect(seen.headers!["x-tenant"]).toBe("blue");
    expect(seen.headers!.host).toBe(`127.0.0.1:${backend.port}`);
    ws.send("hello");
    expect(await nextMessage(ws)).toBe("hello");
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    ws.send(bytes);
    expect(new Uint8Array((await nextMessage(ws)) as ArrayBuffer)).toEqual(bytes);
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
    ws.send(big);
    expect(new Uint8Array((await nextMessage(ws)) as ArrayBuffer)).toEqual(big);
    ws.close();
  });

  test("pings both ways; each side gets its pong", async () => {
    const ws = await connect("/ping");
    const pong = new Promise<string>((resolve) => ws.addEventListener("pong", (e) => resolve(Buffer.from(e.data as ArrayBuffer).toString()), { once: true }));
    ws.ping("from-client");
    expect(await pong).toBe("from-client");
    await until("backend saw the ping", () => seen.pings.includes("from-client"));
    const ping = new Promise<string>((resolve) => ws.addEventListener("ping", (e) => resolve(Buffer.from(e.data as ArrayBuffer).toString()), { once: true }));
    ws.send("ping-me");
    expect(await ping).toBe("from-backend");
    ws.close();
  });

  test("close code and reason: client → backend", async () => {
    const ws = await connect("/close-from-client");
    ws.close(4001, "client says bye");
    await until("backend saw the close", () => seen.closes.some(([c, r]) => c === 4001 && r === "client says bye"));
  });

  test("close code and reason: backend → client", async () => {
    const ws = await connect("/close-from-backend");
    const event = closed(ws);
    ws.send("close-me");
    const { code, reason } = await event;
    expect([code, reason]).toEqual([4002, "backend says bye"]);
  });

  test("subprotocol negotiated with the backend and passed back", async () => {
    const ws = await connect("/proto", ["chat.v1", "chat.v2"]);
    expect(ws.protocol).toBe("chat.v2");
    expect(seen.headers!["sec-websocket-protocol"]).toBe("chat.v1, chat.v2");
    ws.close();
    const plain = await connect("/proto");
    expect(plain.protocol).toBe("");
    plain.close();
  });

  test("backend unreachable: 502 before upgrading, no address in the answer", async () => {
    const port = closedPort();
    const dead = startGateway(`http://127.0.0.1:${port}`);
    try {
      const answer = await rawExchange(
        dead.port,
        "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      expect(answer).toStartWith("HTTP/1.1 502");
      expect(answer).toContain("refused the connection");
      expect(answer).not.toContain(String(port));
    } finally {
      await dead.stop();
    }
  });

  test("backend refuses the handshake: its status reaches the client", async () => {
    const answer = await rawExchange(
      gateway.port,
      "GET /forbidden HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    expect(answer).toStartWith("HTTP/1.1 403");
  });
});

describe("websocket backpressure", () => {
  test("backend → slow client: the backend is held back, then everything arrives", async () => {
    floodSent = 0;
    const ws = await connect("/flood");
    let received = 0;
    ws.addEventListener("message", (e) => (received += (e.data as ArrayBuffer).byteLength));
    ws.pause();
    await Bun.sleep(1_000);
    const heldAt = floodSent;
    // Kernel buffers and a few frames in flight; without backpressure this passes 64 MiB within the second.
    expect(heldAt).toBeLessThan(48 * 1024 * 1024);
    ws.resume();
    await until("all flood frames", () => floodSent === FLOOD_LIMIT && received === FLOOD_LIMIT, 20_000);
    ws.close();
  }, 30_000);

  test("client → slow backend: the client's sends queue up at the client", async () => {
    floodReceived = 0;
    const ws = await connect("/sink");
    await until("backend sink open", () => sinkSocket !== undefined);
    const frame = new Uint8Array(FLOOD_FRAME);
    let sent = 0;
    for (let i = 0; i < 400 && ws.bufferedAmount < 8 * 1024 * 1024; i++) {
      ws.send(frame);
      sent += FLOOD_FRAME;
      await Bun.sleep(2);
    }
    // The gateway stopped reading from the client: its sends piled up locally.
    expect(ws.bufferedAmount).toBeGreaterThan(0);
    expect(sent).toBeLessThan(400 * FLOOD_FRAME);
    sinkSocket!.resume();
    await until("backend received everything", () => floodReceived === sent, 20_000);
    ws.close();
  }, 30_000);
});
