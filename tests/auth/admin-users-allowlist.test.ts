/**
 * 002 "Per-Proxy User Allowlists": a proxy whose `auth_required_users` is null
 * or [] uses OAUTH_ADMIN_USERS when OAUTH_ALLOWED_GITHUB_USERS is unset — at
 * /callback (who gets a code) and at the edge (who gets through) — and the
 * backend learns the login as X-Auth-User. A gateway in this process signs
 * users in at a local GitHub-speaking server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { gitHubSignInSettings, startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { AUTH_HOST, authorizePath, followLogin, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const MCP_HOST = "mcp.example.test";
const RESOURCE = `https://${MCP_HOST}/mcp`;
const REDIRECT = "http://127.0.0.1:7777/callback";
const ALICE = { id: 4242, login: "alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] };
const MALLORY = { id: 666, login: "mallory", emails: [{ email: "m@example.test", primary: true, verified: true }] };

let redis: TestRedis;
let github: GitHubTestServer;
let gw: TestGateway;
let backend: ReturnType<typeof namedBackend>;

/** Over HTTPS, as clients reach the resource (its URL, and so the token's audience, is https). */
const atMcp = (path: string, headers: Record<string, string> = {}) =>
  fetch(`https://127.0.0.1:${gw.gateway.httpsPort}${path}`, { headers: { ...headers, host: MCP_HOST }, tls: { rejectUnauthorized: false } } as RequestInit);

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    ...gitHubSignInSettings(github),
    // OAUTH_ALLOWED_GITHUB_USERS unset.
    OAUTH_ADMIN_USERS: "alice",
  });
  backend = namedBackend("mcp");
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: MCP_HOST, target_url: `http://127.0.0.1:${backend.port}`, enable_https: true })).status).toBe(201);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP_HOST}/resource`, { resource_endpoint: "/mcp", resource_override_backend: true })).status).toBe(200);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP_HOST}/auth`, { auth_enabled: true, auth_mode: "forward", auth_required_users: [] })).status).toBe(200);
  for (let i = 0; i < 100 && (await atMcp("/mcp")).status !== 401; i++) await Bun.sleep(20);
});

afterAll(async () => {
  await gw?.stop();
  backend?.stop(true);
  await github?.stop();
  await redis?.stop();
});

/** A sign-in for the MCP resource as the GitHub user; the client's redirect URI, or the page the browser stopped at. */
async function signIn(user: typeof ALICE) {
  github.setUser(user);
  const client = await register(gw, { client_name: "admin-users test", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" });
  const pkce = pkcePair();
  const path = authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", state: "s", resource: [RESOURCE] });
  const { final, response } = await followLogin(gw, path, AUTH_HOST, REDIRECT);
  return { client, verifier: pkce.verifier, final, response };
}

describe("OAUTH_ADMIN_USERS while OAUTH_ALLOWED_GITHUB_USERS is unset", () => {
  test("the API shows it as the proxy's effective users", async () => {
    const auth = await gw.api("GET", `/api/v1/proxy/targets/${MCP_HOST}/auth`);
    expect(auth.json).toMatchObject({ allowed_users_source: "default", effective_users: ["alice"] });
  });

  test("an admin user gets a code, a token, and through the edge; the backend learns the login as X-Auth-User", async () => {
    const { client, verifier, final } = await signIn(ALICE);
    expect(final?.searchParams.get("error")).toBeNull();
    const code = final!.searchParams.get("code")!;
    const token = await tokenRequest(gw, { grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: client.client_id, resource: RESOURCE });
    expect(token.status).toBe(200);
    const res = await atMcp("/mcp", { authorization: `Bearer ${token.body.access_token}`, "x-auth-user": "root" });
    expect(res.status).toBe(200);
    const seen = ((await res.json()) as { headers: Record<string, string> }).headers;
    expect(seen["x-auth-user"]).toBe("alice");
    expect(seen["x-auth-user-name"]).toBe("alice");
  });

  test("anyone else is refused at /callback and, with a token minted anyway, at the edge", async () => {
    const { final, response } = await signIn(MALLORY);
    expect(final).toBeNull();
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("mallory");
    const minted = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource: RESOURCE, username: "mallory" });
    expect(minted.status).toBe(201);
    const res = await atMcp("/mcp", { authorization: `Bearer ${minted.json.access_token}` });
    expect(res.status).toBe(403);
    expect(backend.pendingRequests).toBe(0);
  });
});
