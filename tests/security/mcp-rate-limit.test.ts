/**
 * Attacks on an MCP endpoint's rate limits, as raw bytes over a socket
 * (docs/mcp.md, "Rate limits"): each tries to get more calls of a limited
 * tool past the edge than the budget allows, or to spend someone else's.
 * Every test uses users of its own, so budgets of its own; the limit is 2
 * calls of `add` a minute.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { rawConnection, statusLines } from "../helpers/raw-http";
import { useRecordedProxy } from "../helpers/recorded-proxy";
import { MINUTE, outsideWindowEdge } from "../helpers/rate-windows";

const HOST = "limited.example.test";
const RESOURCE = `https://${HOST}/mcp`;

const suite = useRecordedProxy(HOST, {
  env: { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "*" },
  configure: async (gw) => {
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/resource`, { resource_endpoint: "/mcp" })).status).toBe(200);
    // Plain HTTP computes http://…/mcp as the resource: the https one is accepted explicitly.
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, { auth_enabled: true, auth_mode: "forward", auth_allowed_audiences: [RESOURCE] })).status).toBe(200);
    const limits = [
      { tool: "add", per_minute: 2 },
      { tool: "other", per_minute: 100 },
    ];
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/mcp-policy`, { mcp_rate_limits: limits })).status).toBe(200);
  },
  ready: { path: "/mcp", status: 401 },
});

const mint = async (username: string) => (await suite.gw.api("POST", "/api/v1/oauth/test-tokens", { resource: RESOURCE, username, scope: "mcp:read" })).json.access_token as string;
const call = (tool: string, id: number | null = 1) => JSON.stringify({ jsonrpc: "2.0", ...(id === null ? {} : { id }), method: "tools/call", params: { name: tool, arguments: {} } });
const ADD = call("add");

// Limits per minute: no test's calls (each well under 4 s) may straddle two windows; the hook may wait that long.
beforeEach(() => outsideWindowEdge(MINUTE, 4_000), 10_000);

const request = (token: string | null, body: string, extra = "") =>
  `POST /mcp HTTP/1.1\r\nHost: ${HOST}\r\n${token ? `Authorization: Bearer ${token}\r\n` : ""}Content-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** Raw bytes on a fresh connection; the status lines answered. */
async function send(bytes: string, wait = 150): Promise<string[]> {
  const connection = await rawConnection(suite.gw.gateway.httpPort);
  const answer = await connection.send(bytes, wait);
  connection.close();
  return statusLines(answer);
}
const post = (token: string | null, body: string, extra = "") => send(request(token, body, extra));
const backendCalls = (tool: string) => suite.backend.requests.filter((r) => r.body.toString("latin1").includes(`"name":"${tool}"`)).length;

describe("more calls than the budget", () => {
  test("the plain attempt: the third call is 429 and never reaches the backend", async () => {
    const token = await mint("plain");
    suite.backend.requests.length = 0;
    expect([...(await post(token, ADD)), ...(await post(token, ADD)), ...(await post(token, ADD))]).toEqual(["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 429"]);
    expect(backendCalls("add")).toBe(2);
  });

  test("all at once on parallel connections (a race): exactly the budget gets through", async () => {
    const token = await mint("racer");
    suite.backend.requests.length = 0;
    const answers = (await Promise.all(Array.from({ length: 8 }, () => post(token, ADD)))).flat().sort();
    expect(answers).toEqual([...Array(2).fill("HTTP/1.1 200"), ...Array(6).fill("HTTP/1.1 429")]);
    expect(backendCalls("add")).toBe(2);
  });

  test("a batch counts each call: three in one body are refused whole, two fit", async () => {
    const token = await mint("batch");
    suite.backend.requests.length = 0;
    const batch = (n: number) => `[${Array.from({ length: n }, (_, i) => call("add", i + 1)).join(",")}]`;
    expect(await post(token, batch(3))).toEqual(["HTTP/1.1 429"]);
    expect(backendCalls("add")).toBe(0);
    expect(await post(token, batch(2))).toEqual(["HTTP/1.1 200"]);
    expect(await post(token, ADD)).toEqual(["HTTP/1.1 429"]);
  });

  test("notifications count: a tools/call without an id is still a call", async () => {
    const token = await mint("notify");
    expect([...(await post(token, call("add", null))), ...(await post(token, call("add", null))), ...(await post(token, ADD))]).toEqual(["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 429"]);
  });

  test("spelling the name with escapes is the same tool", async () => {
    const token = await mint("escaped");
    const escaped = ADD.replace('"name":"add"', '"name":"\\u0061dd"');
    expect([...(await post(token, escaped)), ...(await post(token, escaped)), ...(await post(token, ADD))]).toEqual(["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 429"]);
  });

  test("a tools/call without a name counts against every tool's limit", async () => {
    const token = await mint("nameless");
    const nameless = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: {} });
    expect([...(await post(token, nameless)), ...(await post(token, nameless)), ...(await post(token, ADD))]).toEqual(["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 429"]);
  });

  test.each([
    ["chunked, so the edge does not read it", "chunker", (body: string) => ({ extra: "Transfer-Encoding: chunked\r\n", body: `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`, chunked: true })],
    ["padded past the read bound", "padder", (body: string) => ({ extra: "", body: body.replace("{}}}", `{},"pad":"${"x".repeat(70_000)}"}}`), chunked: false })],
  ])("a body %s counts against every limit: it cannot hide a call", async (_, user, shape) => {
    const token = await mint(user);
    expect([...(await post(token, ADD)), ...(await post(token, ADD))]).toEqual(["HTTP/1.1 200", "HTTP/1.1 200"]);
    suite.backend.requests.length = 0;
    const { extra, body, chunked } = shape(ADD);
    const head = `POST /mcp HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n${extra}${chunked ? "" : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n`;
    expect(await send(head + body)).toEqual(["HTTP/1.1 429"]);
    expect(suite.backend.requests).toHaveLength(0);
  });
});

describe("someone else's budget", () => {
  test("without a token or with a bad one: 401 before anything is counted", async () => {
    expect(await post(null, ADD)).toEqual(["HTTP/1.1 401"]);
    expect(await post("not-a-token", ADD)).toEqual(["HTTP/1.1 401"]);
    expect(await post(`${(await mint("victim")).slice(0, -4)}AAAA`, ADD)).toEqual(["HTTP/1.1 401"]);
    // The victim's whole budget is left.
    const victim = await mint("victim");
    expect([...(await post(victim, ADD)), ...(await post(victim, ADD))]).toEqual(["HTTP/1.1 200", "HTTP/1.1 200"]);
  });

  test("a second user's exhausted budget is theirs alone; one user's new tokens share theirs", async () => {
    const mallory = await mint("mallory");
    expect([...(await post(mallory, ADD)), ...(await post(mallory, ADD)), ...(await post(mallory, ADD))]).toEqual(["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 429"]);
    expect(await post(await mint("mallory"), ADD)).toEqual(["HTTP/1.1 429"]);
    const alice = await mint("alice");
    expect([...(await post(alice, ADD)), ...(await post(alice, ADD))]).toEqual(["HTTP/1.1 200", "HTTP/1.1 200"]);
  });

  test("identity headers from the client are not who is counted", async () => {
    const token = await mint("spoofer");
    expect([...(await post(token, ADD)), ...(await post(token, ADD))]).toEqual(["HTTP/1.1 200", "HTTP/1.1 200"]);
    const spoof = "X-Auth-User: fresh\r\nX-Auth-User-Id: 99\r\nX-Forwarded-For: 203.0.113.1\r\nX-Real-IP: 203.0.113.1\r\nMcp-Session-Id: new-session\r\n";
    expect(await post(token, ADD, spoof)).toEqual(["HTTP/1.1 429"]);
  });
});
