/**
 * What the edge refuses before anything reaches a backend, over raw sockets:
 * Host headers it cannot route on, and what it answers itself (its own pages
 * say nosniff, error pages never leak internals). Also what Bun.serve's parser
 * does on its own, pinned so a change of Bun is noticed (docs/security.md).
 */
import { describe, expect, test } from "bun:test";
import { rawConnection, statusLines } from "../helpers/raw-http";
import { useRecordedProxy } from "../helpers/recorded-proxy";

const HOST = "app.example.test";
const suite = useRecordedProxy(HOST, {
  env: { BASE_DOMAIN: "example.test" },
  // Port 1 on loopback: nothing listens, so the gateway answers 502 itself.
  configure: async (gw) => {
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: "down.example.test", target_url: "http://127.0.0.1:1" })).status).toBe(201);
  },
});
const backend = suite.backend;

async function raw(port: number, bytes: string): Promise<{ answer: string; closed: boolean }> {
  const connection = await rawConnection(port);
  const answer = await connection.send(bytes);
  const closed = connection.closed;
  connection.close();
  return { answer, closed };
}
const edge = (bytes: string) => raw(suite.gw.gateway.httpPort, bytes);

describe("Host headers the gateway cannot route on are a 400, and reach no backend", () => {
  const cases: Record<string, string> = {
    "two Host lines": `Host: ${HOST}\r\nHost: other.example.test\r\n`,
    "a space": "Host: a b\r\n",
    userinfo: `Host: evil@${HOST}\r\n`,
    "IPv6 literal with trailing junk": "Host: [::1]:80@evil\r\n",
    "a path": `Host: ${HOST}/x\r\n`,
    "a port that is not a number": `Host: ${HOST}:http\r\n`,
  };
  for (const [name, hostLines] of Object.entries(cases)) {
    test(name, async () => {
      backend.requests.length = 0;
      const { answer } = await edge(`GET /x HTTP/1.1\r\n${hostLines}\r\n`);
      expect(statusLines(answer)).toEqual(["HTTP/1.1 400"]);
      expect(answer.toLowerCase()).toContain("x-content-type-options: nosniff");
      expect(answer).toContain("Host header");
      expect(backend.requests).toEqual([]);
    });
  }

  test("a well-formed Host with a port, and an IPv6 literal, are routed as before", async () => {
    expect(statusLines((await edge(`GET / HTTP/1.1\r\nHost: ${HOST}:8080\r\n\r\n`)).answer)).toEqual(["HTTP/1.1 200"]);
    expect(statusLines((await edge("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")).answer)).toEqual(["HTTP/1.1 404"]);
  });

  test("the API port answers a malformed Host with a JSON 400, never a development error page", async () => {
    for (const host of ["<x>", "a b", "x@y"]) {
      const { answer } = await raw(suite.gw.gateway.apiPort, `GET /api/v1/tokens/ HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      expect(statusLines(answer)).toEqual(["HTTP/1.1 400"]);
      expect(answer).toContain('"error":"invalid_request"');
      expect(answer).not.toContain(process.cwd());
      expect(answer.length).toBeLessThan(1_000);
    }
  });
});

describe("bodies the API will not read", () => {
  test("an oversized API body is a JSON 413 like every other error, not Bun's empty one", async () => {
    const { answer } = await raw(
      suite.gw.gateway.apiPort,
      `POST /api/v1/tokens/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${3 * 1024 * 1024}\r\n\r\n{`,
    );
    expect(statusLines(answer)).toEqual(["HTTP/1.1 413"]);
    expect(answer).toContain('"error":"payload_too_large"');
    expect(answer.toLowerCase()).toContain("x-content-type-options: nosniff");
  });
});

describe("the gateway's own answers say nosniff; a backend's are left alone", () => {
  test("unknown host, bad gateway, the API, the OAuth server", async () => {
    const own = [
      await suite.gw.get("nothing.example.test"),
      await suite.gw.get("down.example.test"),
      await fetch(`http://127.0.0.1:${suite.gw.gateway.apiPort}/api/v1/tokens/`),
      await fetch(`http://127.0.0.1:${suite.gw.gateway.apiPort}/health`),
      await suite.gw.get("auth.example.test", "/.well-known/oauth-authorization-server"),
    ];
    expect(own.map((res) => res.status)).toEqual([404, 502, 401, 200, 200]);
    for (const res of own) expect({ url: res.url, nosniff: res.headers.get("x-content-type-options") }).toEqual({ url: res.url, nosniff: "nosniff" });
    expect((await suite.gw.get(HOST)).headers.get("x-content-type-options")).toBeNull();
  });
});

describe("what Bun.serve's parser does before the gateway sees a request", () => {
  test("a lowercase or unknown method: the connection is closed with no answer, and nothing is forwarded", async () => {
    for (const line of ["get / HTTP/1.1", "FOO / HTTP/1.1"]) {
      backend.requests.length = 0;
      const { answer, closed } = await edge(`${line}\r\nHost: ${HOST}\r\n\r\n`);
      expect({ answer, closed }).toEqual({ answer: "", closed: true });
      expect(backend.requests).toEqual([]);
    }
    expect((await suite.gw.get(HOST)).status).toBe(200);
  });

  test("an absolute-form target is routed by Host and reaches the backend in origin form", async () => {
    backend.requests.length = 0;
    const { answer } = await edge(`GET http://elsewhere.example.test/p?q=1 HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    expect(statusLines(answer)).toEqual(["HTTP/1.1 200"]);
    expect(backend.requests.map((r) => r.head.split("\r\n")[0])).toEqual(["GET /p?q=1 HTTP/1.1"]);
    expect(backend.requests[0]!.head).not.toContain("elsewhere");
  });
});
