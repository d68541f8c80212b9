/**
 * Pipelined requests and Bun.serve: it closes a connection, unanswered, when a
 * request arrives behind one whose answer is pending. The gateway must never
 * have forwarded a request with side effects whose client then gets nothing
 * (docs/security.md, "Pipelining").
 */
import { describe, expect, test } from "bun:test";
import { GATEWAY_ADMIN } from "../helpers/gateway-in-process";
import { rawConnection, statusLines } from "../helpers/raw-http";
import { useRecordedProxy } from "../helpers/recorded-proxy";

const HOST = "app.example.test";
const suite = useRecordedProxy(HOST, { env: { BASE_DOMAIN: "example.test" } });
const { backend, requestLines } = suite;

async function oneWrite(bytes: string) {
  backend.requests.length = 0;
  const connection = await rawConnection(suite.gw.gateway.httpPort);
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
    const connection = await rawConnection(suite.gw.gateway.httpPort);
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
    const connection = await rawConnection(suite.gw.gateway.apiPort);
    const answer = await connection.send(token("pipelined") + "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 300);
    connection.close();
    const created = (await suite.gw.api("GET", "/api/v1/tokens/")).json.some((t: { name: string }) => t.name === "pipelined");
    // Answered (then the token exists), or dropped unexecuted.
    expect(created).toBe(statusLines(answer).length > 0);
  });
});
