/**
 * The authorization server's endpoints built into a protected proxy's host
 * (dispatcher/builtin-oauth.ts) are answered in the gateway, before edge
 * auth: no spelling of those paths may carry a request to the backend without
 * a token. Raw bytes, so nothing normalises the request on the way.
 */
import { describe, expect, test } from "bun:test";
import { rawConnection, statusLines } from "../helpers/raw-http";
import { useRecordedProxy } from "../helpers/recorded-proxy";

const HOST = "mcp.example.test";
const suite = useRecordedProxy(HOST, {
  env: { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "alice" },
  configure: async (gw) => {
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/resource`, { resource_endpoint: "/mcp" })).status).toBe(200);
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  },
  ready: { path: "/mcp", status: 401 },
});

async function send(bytes: string): Promise<string> {
  const connection = await rawConnection(suite.gw.gateway.httpPort);
  try {
    return await connection.send(bytes);
  } finally {
    connection.close();
  }
}
const post = (target: string, body = "grant_type=authorization_code&code=x", extra = "") =>
  send(`POST ${target} HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`);

describe("built-in OAuth paths on a protected proxy never open the backend", () => {
  test("the endpoints answer from the authorization server, spoofed identity headers or not", async () => {
    // The authorization server's own refusal, not the edge's challenge.
    const token = await post("/token", undefined, "X-Auth-User: admin\r\n");
    expect(statusLines(token)).toEqual(["HTTP/1.1 401"]);
    expect(token).toContain('"error":"invalid_client"');
    expect(token).not.toContain("resource_metadata");
    const management = await send(`GET /register/..%2Fmcp HTTP/1.1\r\nHost: ${HOST}\r\nX-Auth-User: admin\r\n\r\n`);
    expect(statusLines(management)).toEqual(["HTTP/1.1 401"]);
    expect(management).not.toContain("resource_metadata");
    expect(suite.requestLines()).toEqual([]);
  });

  test("other spellings are no built-in: they meet the proxy's auth", async () => {
    for (const target of ["/%74oken", "/TOKEN", "/token/../mcp", "/token%2f..%2fmcp", "/tokens", "//token", "/mcp?/token"]) {
      expect({ target, status: statusLines(await post(target)) }).toEqual({ target, status: ["HTTP/1.1 401"] });
    }
    expect(suite.requestLines()).toEqual([]);
  });
});
