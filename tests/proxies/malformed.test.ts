/**
 * Hostile or broken input on the client side never crashes the listener: after
 * each case, a normal request through the same gateway still works.
 */
import { afterAll, expect, test } from "bun:test";
import { forwardTarget } from "../../src/proxies";
import { rawExchange, startEchoBackend, startGateway, type Echo } from "./harness";

const backend = startEchoBackend();
const gateway = startGateway(forwardTarget(backend.url + "/base", { preserveHost: true }));
afterAll(async () => {
  await gateway.stop();
  await backend.stop();
});

const CASES: Record<string, string | Uint8Array> = {
  "binary noise": new Uint8Array(4096).map((_, i) => (i * 7919) & 0xff),
  "TLS ClientHello on the plain port": new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]),
  "no Host, HTTP/1.0": "GET /x HTTP/1.0\r\n\r\n",
  "absolute-form target": "GET http://elsewhere.example:9999/abs?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  "asterisk-form OPTIONS": "OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  "CONNECT": "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
  "Content-Length and chunked together": "POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
  "two Content-Lengths": "POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde",
  "negative Content-Length": "POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\nConnection: close\r\n\r\n",
  "bad chunk size": "POST /s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
  "body shorter than Content-Length, then close": "POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\nonly this",
  "header without colon": "GET / HTTP/1.1\r\nHost: h\r\nthis is not a header\r\n\r\n",
  "huge header": `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${"a".repeat(200_000)}\r\nConnection: close\r\n\r\n`,
  "many headers": `GET / HTTP/1.1\r\nHost: h\r\n${Array.from({ length: 500 }, (_, i) => `X-H${i}: ${i}\r\n`).join("")}Connection: close\r\n\r\n`,
  "Connection names Host and X-Forwarded-For": "GET / HTTP/1.1\r\nHost: h\r\nConnection: close, host, x-forwarded-for, x-real-ip\r\n\r\n",
  "Host with odd characters": "GET / HTTP/1.1\r\nHost: [::1]:80@evil\r\nConnection: close\r\n\r\n",
  "websocket upgrade missing key": "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
  "websocket upgrade with POST": "POST /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n",
  "lone LF line endings": "GET /lf HTTP/1.1\nHost: h\nConnection: close\n\n",
  "pipelined requests": "GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
};

for (const [name, payload] of Object.entries(CASES)) {
  test(`survives: ${name}`, async () => {
    const answer = await rawExchange(gateway.port, payload, 200, 3_000);
    expect(answer).not.toContain("smuggled");
    const response = await fetch(gateway.url + "/after", { headers: { host: "client.example" } });
    expect(response.status).toBe(200);
    const echo = (await response.json()) as Echo;
    expect(echo.path).toBe("/base/after");
    expect(echo.headers.host).toBe("client.example");
  });
}

test("Connection cannot be used to drop the gateway's own forwarding headers", async () => {
  const answer = await rawExchange(gateway.port, CASES["Connection names Host and X-Forwarded-For"]!);
  const echo = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as Echo;
  expect(echo.headers["x-forwarded-for"]).toBe("127.0.0.1");
  expect(echo.headers["x-real-ip"]).toBe("127.0.0.1");
  expect(echo.headers.host).toBe("h");
});
