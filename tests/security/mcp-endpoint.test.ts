/**
 * Attacks on an MCP endpoint's per-tool policy and Origin check, as raw bytes
 * over a socket (docs/security.md, "At an MCP endpoint"): each tries to get a
 * call of a tool the token may not use past the edge, and the recording
 * backend shows whether anything reached it.
 */
import { describe, expect, test } from "bun:test";
import { rawConnection, statusLines } from "../helpers/raw-http";
import { useRecordedProxy } from "../helpers/recorded-proxy";

const HOST = "mcp.example.test";
let reader = "";
let admin = "";

const suite = useRecordedProxy(HOST, {
  env: { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "alice,bob" },
  configure: async (gw) => {
    const resource = `https://${HOST}/mcp`;
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/resource`, { resource_endpoint: "/mcp" })).status).toBe(200);
    // Plain HTTP computes http://…/mcp as the resource: the https one is accepted explicitly.
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, { auth_enabled: true, auth_mode: "forward", auth_allowed_audiences: [resource] })).status).toBe(200);
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/mcp-policy`, { mcp_tool_scopes: { whoami: ["mcp:admin"] } })).status).toBe(200);
    const mint = async (username: string, scope: string) => (await gw.api("POST", "/api/v1/oauth/test-tokens", { resource, username, scope })).json.access_token as string;
    reader = await mint("alice", "mcp:read mcp:write");
    admin = await mint("bob", "mcp:read mcp:write mcp:admin");
  },
  ready: { path: "/mcp", status: 401 },
});

const MARKER = "attack-marker";
const WHOAMI = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{"m":"${MARKER}"}}}`;

/** One raw request on a fresh connection; the status lines answered. */
async function send(head: string, body = ""): Promise<string[]> {
  const connection = await rawConnection(suite.gw.gateway.httpPort);
  const answer = await connection.send(head + body, 150);
  connection.close();
  return statusLines(answer);
}
const post = (path: string, token: string, body: string, extra = "") =>
  send(`POST ${path} HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`, body);
const reachedBackend = () => suite.backend.requests.some((r) => r.body.toString("latin1").includes(MARKER));

describe("a call of a tool the token may not use never reaches the backend", () => {
  test("the plain attempt is a 403, and the same call with the right token goes through", async () => {
    suite.backend.requests.length = 0;
    expect(await post("/mcp", reader, WHOAMI)).toEqual(["HTTP/1.1 403"]);
    expect(reachedBackend()).toBe(false);
    expect(await post("/mcp", admin, WHOAMI)).toEqual(["HTTP/1.1 200"]);
    expect(reachedBackend()).toBe(true);
  });

  test.each([
    ["chunked, so the edge does not read it", (body: string) => ({ extra: "Transfer-Encoding: chunked\r\n", body: `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`, chunked: true })],
    ["padded past the read bound", (body: string) => ({ extra: "", body: body.replace("}}}", `},"pad":"${"x".repeat(70_000)}"}}`), chunked: false })],
  ])("a body %s needs every scope the policy names", async (_, shape) => {
    suite.backend.requests.length = 0;
    const { extra, body, chunked } = shape(WHOAMI);
    const head = `POST /mcp HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: Bearer ${reader}\r\nContent-Type: application/json\r\n${extra}${chunked ? "" : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n`;
    expect(await send(head, body)).toEqual(["HTTP/1.1 403"]);
    expect(reachedBackend()).toBe(false);
  });

  test.each([["/MCP"], ["/mcp/"], ["//mcp"], ["/%6Dcp"], ["/x/..%2Fmcp"], ["/mcp;x=1"], ["/mcp/messages"]])("the endpoint spelled %s", async (path) => {
    suite.backend.requests.length = 0;
    expect(await post(path, reader, WHOAMI)).toEqual(["HTTP/1.1 403"]);
    expect(reachedBackend()).toBe(false);
  });

  test.each([
    ["method named twice, the call first", WHOAMI.replace('"params"', '"method":"tools/list","params"')],
    ["method named twice, the call last", WHOAMI.replace('"method":"tools/call"', '"method":"tools/list","method":"tools/call"')],
    ["an escaped second spelling of method", WHOAMI.replace('"params"', '"\\u006dethod":"tools/list","params"')],
    ["the tool named twice", WHOAMI.replace('"name":"whoami"', '"name":"whoami","name":"add"')],
  ])("%s: 400, whichever one a backend would read", async (_, body) => {
    suite.backend.requests.length = 0;
    expect(await post("/mcp", reader, body)).toEqual(["HTTP/1.1 400"]);
    expect(reachedBackend()).toBe(false);
  });

  test("headers that lie: refused for a 2026-07-28 client, ignored for an older one", async () => {
    suite.backend.requests.length = 0;
    const lies = "Mcp-Method: tools/list\r\nMcp-Name: add\r\n";
    expect(await post("/mcp", admin, WHOAMI, `MCP-Protocol-Version: 2026-07-28\r\n${lies}`)).toEqual(["HTTP/1.1 400"]);
    expect(await post("/mcp", reader, WHOAMI, `MCP-Protocol-Version: 2025-06-18\r\n${lies}`)).toEqual(["HTTP/1.1 403"]);
    // Two Mcp-Method lines, one honest: the client said two things, so it said nothing trustworthy.
    expect(await post("/mcp", admin, WHOAMI, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Method: tools/list\r\nMcp-Name: whoami\r\n")).toEqual(["HTTP/1.1 400"]);
    expect(reachedBackend()).toBe(false);
  });

  test("a batch that hides the call among allowed ones", async () => {
    suite.backend.requests.length = 0;
    const batch = `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},${WHOAMI}]`;
    expect(await post("/mcp", reader, batch)).toEqual(["HTTP/1.1 403"]);
    expect(reachedBackend()).toBe(false);
  });
});

describe("Origin", () => {
  test("a foreign origin is refused before auth, even with a good token; the proxy's own is for auth to decide", async () => {
    suite.backend.requests.length = 0;
    for (const origin of ["null", "http://evil.example", `https://${HOST}.evil.example`, `https://${HOST}:8443`, `ftp://${HOST}`]) {
      expect([origin, await post("/mcp", admin, WHOAMI, `Origin: ${origin}\r\n`)]).toEqual([origin, ["HTTP/1.1 403"]]);
    }
    expect(reachedBackend()).toBe(false);
    expect(await post("/mcp", admin, WHOAMI, `Origin: http://${HOST}\r\n`)).toEqual(["HTTP/1.1 200"]);
  });
});
