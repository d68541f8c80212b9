/**
 * POST /logout on the authorization server: the sign-in a token belongs to
 * ends (its access tokens refused at the edge, its refresh token dead), named
 * by a bearer access token or by a refresh token; no token is a 400, and a
 * token that is not ours changes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gitHubSignInSettings, startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { AUTH_HOST, authorizeThroughLogin, edgeRequest, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const HOST = "mcp.example.test";
const RESOURCE = `https://${HOST}`;
const REDIRECT = "http://127.0.0.1:7777/callback";

let redis: TestRedis;
let github: GitHubTestServer;
let gw: TestGateway;
let backend: ReturnType<typeof namedBackend>;
let clientId: string;

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.setUser({ id: 21, login: "alice", emails: [] });
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    ...gitHubSignInSettings(github),
    OAUTH_ALLOWED_GITHUB_USERS: "alice",
  });
  backend = namedBackend("mcp");
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}`, enable_https: true })).status).toBe(201);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  clientId = (await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] })).client_id;
  await Bun.sleep(300);
});

afterAll(async () => {
  await gw?.stop();
  backend?.stop(true);
  await github?.stop();
  await redis?.stop();
});

async function signIn(): Promise<{ access: string; refresh: string }> {
  const pkce = pkcePair();
  const query = await authorizeThroughLogin(gw, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", resource: [RESOURCE] });
  const res = await tokenRequest(gw, { grant_type: "authorization_code", client_id: clientId, code: query.get("code")!, code_verifier: pkce.verifier, redirect_uri: REDIRECT });
  expect(res.status).toBe(200);
  return { access: res.body.access_token, refresh: res.body.refresh_token };
}

const call = (token: string) =>
  fetch(`https://127.0.0.1:${gw.gateway.httpsPort}/`, { headers: { host: HOST, authorization: `Bearer ${token}` }, tls: { rejectUnauthorized: false } } as RequestInit);

const logout = (init: RequestInit) => edgeRequest(gw, AUTH_HOST, "/logout", { method: "POST", ...init });

async function untilRefused(token: string): Promise<void> {
  const deadline = Date.now() + 3_000;
  while ((await call(token)).status !== 401) {
    if (Date.now() > deadline) throw new Error("the access token still works");
    await Bun.sleep(25);
  }
}

describe("POST /logout", () => {
  test("with the access token as bearer: the whole sign-in ends, refresh included", async () => {
    const session = await signIn();
    const other = await signIn();
    expect((await call(session.access)).status).toBe(200);
    const res = await logout({ headers: { authorization: `Bearer ${session.access}` } });
    expect(res.status).toBe(204);
    expect(res.headers.get("cache-control")).toBe("no-store");
    await untilRefused(session.access);
    const refreshed = await tokenRequest(gw, { grant_type: "refresh_token", client_id: clientId, refresh_token: session.refresh });
    expect([refreshed.status, refreshed.body.error]).toEqual([400, "invalid_grant"]);
    // Another sign-in of the same user and client is another session: it goes on.
    expect((await call(other.access)).status).toBe(200);
  });

  test("with a refresh token as form parameter: the same", async () => {
    const session = await signIn();
    const res = await logout({ headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: session.refresh }) });
    expect(res.status).toBe(204);
    await untilRefused(session.access);
  });

  test("no token: 400 invalid_request naming what to send", async () => {
    const res = await logout({});
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.error).toBe("invalid_request");
    expect(body.error_description).toContain("Authorization: Bearer");
  });

  test("a token that is not ours, a forged one, raw bytes: 204 and nothing changes", async () => {
    const session = await signIn();
    const [header, payload] = session.access.split(".");
    for (const init of [
      { headers: { authorization: `Bearer ${header}.${payload}.${"A".repeat(342)}` } },
      { headers: { authorization: "Bearer rt_unknown" } },
      { headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: "eyJ.garbage.x" }) },
      { headers: { "content-type": "application/x-www-form-urlencoded" }, body: new Uint8Array([0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x3d, 0xff, 0xfe]) },
    ] as RequestInit[]) {
      const res = await logout(init);
      expect(res.status).toBe(204);
    }
    expect((await call(session.access)).status).toBe(200);
  });
});
