/**
 * The upstream request's framing is the gateway's own. A recording backend
 * frames what it actually receives, as a server would: a Content-Length copied
 * from the client with no body behind it swallows the start of the next
 * request on that pooled connection, and whatever follows is read as a request
 * of its own — one that never passed edge auth.
 */
import { describe, expect, test } from "bun:test";
import { rawConnection, statusLines } from "../helpers/raw-http";
import { useRecordedProxy } from "../helpers/recorded-proxy";

const HOST = "app.example.test";
const suite = useRecordedProxy(HOST, {
  env: { BASE_DOMAIN: "example.test", PROXY_REQUEST_TIMEOUT: "2" },
  configure: async (gw) => {
    const auth = { auth_enabled: true, auth_mode: "forward", auth_excluded_paths: ["/public/*"] };
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, auth)).status).toBe(200);
  },
  ready: { path: "/private", status: 401 },
});
const received = suite.backend.requests;
const { requestLines } = suite;

const connect = () => rawConnection(suite.gw.gateway.httpPort);
const SMUGGLED = `GET /private?SMUGGLED HTTP/1.1\r\nHost: ${HOST}\r\nX-Auth-User-Name: admin\r\nX-Forwarded-For: 6.6.6.6\r\nContent-Length: 0\r\n\r\n`;
const carrier = (smuggled: string) => `POST /public/echo HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: text/plain\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`;

describe("a body the gateway does not forward is never announced upstream", () => {
  for (const method of ["GET", "HEAD", "OPTIONS", "DELETE"]) {
    test(`${method} with a body on an auth-excluded path cannot smuggle a request past edge auth`, async () => {
      // How many bytes the gateway puts in front of the carrier's body upstream: the attacker's Content-Length.
      received.length = 0;
      const calibrate = await connect();
      expect(statusLines(await calibrate.send(carrier(SMUGGLED)))).toEqual(["HTTP/1.1 200"]);
      calibrate.close();
      const upstreamHead = received[0]!.head.length + 4;

      received.length = 0;
      const client = await connect();
      const first = await client.send(`${method} /public/hello HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: ${upstreamHead}\r\n\r\n${"x".repeat(upstreamHead)}`);
      expect(statusLines(first)).toEqual(["HTTP/1.1 200"]);
      expect(statusLines(await client.send(carrier(SMUGGLED)))).toEqual(["HTTP/1.1 200"]);
      client.close();

      // The backend framed exactly the two requests the client sent, the second with its body whole.
      expect(requestLines()).toEqual([`${method} /public/hello`, "POST /public/echo"]);
      // Bun.serve drops GET and HEAD bodies; other methods' bodies go upstream with their own length.
      if (method === "GET" || method === "HEAD") expect(received[0]!.head.toLowerCase()).not.toMatch(/content-length|transfer-encoding/);
      else expect(received[0]!.body.length).toBe(upstreamHead);
      expect(received[1]!.body.toString("latin1")).toBe(SMUGGLED);
    });
  }

  test("GET with a chunked body: no framing header upstream, the next request intact", async () => {
    received.length = 0;
    const client = await connect();
    await client.send(`GET /public/a HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    await client.send(`GET /public/b HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    client.close();
    expect(requestLines()).toEqual(["GET /public/a", "GET /public/b"]);
    expect(received[0]!.head.toLowerCase()).not.toMatch(/content-length|transfer-encoding/);
  });

  test("a WebSocket handshake with a body does not announce it to the backend", async () => {
    received.length = 0;
    const client = await connect();
    await client.send(
      `GET /public/ws HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
        `Sec-WebSocket-Version: 13\r\nContent-Length: 5\r\n\r\nhello`,
    );
    client.close();
    expect(requestLines()).toEqual(["GET /public/ws"]);
    expect(received[0]!.head.toLowerCase()).not.toContain("content-length");
  });
});

describe("bodies the gateway forwards carry the length of the bytes it sends", () => {
  test("POST without a body says Content-Length: 0; GET without one sends no framing", async () => {
    received.length = 0;
    const client = await connect();
    await client.send(`POST /public/p HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    await client.send(`GET /public/g HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    client.close();
    expect(requestLines()).toEqual(["POST /public/p", "GET /public/g"]);
    expect(received[0]!.head.toLowerCase()).toContain("\r\ncontent-length: 0");
    expect(received[1]!.head.toLowerCase()).not.toMatch(/content-length|transfer-encoding/);
  });

  test("small and large uploads arrive whole, with one Content-Length each", async () => {
    for (const size of [10, 200_000]) {
      received.length = 0;
      const res = await suite.gw.get(HOST, "/public/upload", { method: "PUT", body: "z".repeat(size) });
      expect(res.status).toBe(200);
      expect(received[0]!.head.toLowerCase().match(/content-length: *\d+/g)).toEqual([`content-length: ${size}`]);
      expect(received[0]!.body.length).toBe(size);
    }
  });

  test("a chunked upload goes upstream chunked, never with the client's framing headers", async () => {
    received.length = 0;
    const client = await connect();
    await client.send(`POST /public/c HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
    client.close();
    expect(received[0]!.head.toLowerCase().match(/transfer-encoding: *chunked/g)?.length).toBe(1);
    expect(received[0]!.head.toLowerCase()).not.toContain("content-length");
  });
});
