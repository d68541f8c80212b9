/**
 * Pipelined requests and Bun.serve: it closes a connection, unanswered, when a
 * request arrives behind one whose answer is pending. The gateway must never
 * have forwarded a request with side effects whose client then gets nothing
 * (docs/security.md, "Pipelining").
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { rawConnection, startRecordingBackend, statusLines } from "../helpers/raw-http";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const HOST = "app.example.test";
let redis: TestRedis;
let gw: TestGateway;
const backend = startRecordingBackend();
const requestLines = () => backend.requests.map((r) => r.head.slice(0, r.head.indexOf(" HTTP/1.1")));

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test" });
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: HOST, target_url: backend.url })).status).toBe(201);
  for (let i = 0; i < 100 && (await gw.get(HOST)).status !== 200; i++) await Bun.sleep(20);
});
afterAll(async () => {
  await gw?.stop();
  backend.stop();
  await redis?.stop();
});

async function oneWrite(bytes: string) {
  backend.requests.length = 0;
  const connection = await rawConnection(gw.gateway.httpPort);
  const answer = await connection.send(bytes, 300);
  connection.close();
  await Bun.sleep(50);
  return answer;
}

describe("requests pipelined in one write", () => {
  test("POST then GET: the POST is never executed unanswered", async () => {
    const answer = await oneWrite(`POST /pay HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 2\r\n\r\n{}GET /status HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    // Either both are answered in order, or neither reached the backend.
    if (statusLines(answer).length === 2) expect(requestLines()).toEqual(["POST /pay", "GET /status"]);
    else expect({ answer, forwarded: requestLines() }).toEqual({ answer: "", forwarded: [] });
  });

  test("a chunked POST with a trailer: not executed when its client would get a 400 instead of the answer", async () => {
    const answer = await oneWrite(`POST /pay HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Checksum: 1\r\n\r\n`);
    const statuses = statusLines(answer);
    if (statuses[0] === "HTTP/1.1 200") expect(requestLines()).toEqual(["POST /pay"]);
    else expect(requestLines()).toEqual([]);
  });

  test("the same POST alone, or sent after the previous answer, goes through", async () => {
    backend.requests.length = 0;
    const connection = await rawConnection(gw.gateway.httpPort);
    expect(statusLines(await connection.send(`POST /pay HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 2\r\n\r\n{}`))).toEqual(["HTTP/1.1 200"]);
    expect(statusLines(await connection.send(`GET /status HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`))).toEqual(["HTTP/1.1 200"]);
    connection.close();
    expect(requestLines()).toEqual(["POST /pay", "GET /status"]);
  });
});

describe("the API port", () => {
  test("a token-creating POST pipelined with a GET is not executed when Bun drops the connection", async () => {
    const token = (name: string) =>
      `POST /api/v1/tokens/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${GATEWAY_ADMIN}\r\nContent-Type: application/json\r\nContent-Length: ${name.length + 11}\r\n\r\n{"name":"${name}"}`;
    const connection = await rawConnection(gw.gateway.apiPort);
    const answer = await connection.send(token("pipelined") + "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 300);
    connection.close();
    const created = (await gw.api("GET", "/api/v1/tokens/")).json.some((t: { name: string }) => t.name === "pipelined");
    // Answered (then the token exists), or dropped unexecuted.
    expect(created).toBe(statusLines(answer).length > 0);
  });
});
