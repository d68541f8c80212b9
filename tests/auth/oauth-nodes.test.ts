/**
 * Two gateway nodes on one Redis: they sign with the same key, a revocation on
 * one is refused by the other within a second, and a key rotation reaches
 * the other's JWKS just as fast — all through the workflow stream, with no
 * Redis lookup per request.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { AUTH_HOST, authorizeThroughLogin, edgeRequest, formPost, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

const REDIRECT = "http://127.0.0.1:7777/callback";

let redis: TestRedis;
let github: GitHubTestServer;
let nodeA: TestGateway;
let nodeB: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.addApp("app", "app-secret");
  github.setUser({ id: 1, login: "alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
  const env = {
    BASE_DOMAIN: "example.test",
    GITHUB_CLIENT_ID: "app",
    GITHUB_CLIENT_SECRET: "app-secret",
    GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
    GITHUB_API_BASE_URL: github.apiBaseUrl,
    OAUTH_ALLOWED_GITHUB_USERS: "*",
    MCP_RESOURCE_VALIDATION_STRICT: "false",
  };
  [nodeA, nodeB] = await Promise.all([startTestGateway(redis, env), startTestGateway(redis, env)]);
});

afterAll(async () => {
  await nodeA?.stop();
  await nodeB?.stop();
  await github?.stop();
  await redis?.stop();
});

const verifyOn = async (node: TestGateway, token: string) =>
  (await edgeRequest(node, AUTH_HOST, "/verify", { headers: { authorization: `Bearer ${token}` } })).status;

test("nodes started together share one signing key", async () => {
  const a = (await (await edgeRequest(nodeA, AUTH_HOST, "/jwks")).json()) as { keys: { kid: string }[] };
  const b = (await (await edgeRequest(nodeB, AUTH_HOST, "/jwks")).json()) as { keys: { kid: string }[] };
  expect(a.keys.map((k) => k.kid)).toEqual(b.keys.map((k) => k.kid));
  expect(a.keys).toHaveLength(1);
});

test("a token revoked through one node is refused by the other within 1 s", async () => {
  const client = await register(nodeA, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_post" });
  const pkce = pkcePair();
  const query = await authorizeThroughLogin(nodeA, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", resource: ["https://mcp.example.test"] });
  // The code is redeemed on the other node: nothing about a login lives in one node's memory.
  const issued = await tokenRequest(nodeB, {
    grant_type: "authorization_code",
    code: query.get("code")!,
    redirect_uri: REDIRECT,
    code_verifier: pkce.verifier,
    client_id: client.client_id,
    client_secret: client.client_secret,
  });
  expect(issued.status).toBe(200);
  expect(await verifyOn(nodeB, issued.body.access_token)).toBe(200);

  const revokedAt = Date.now();
  expect((await formPost(nodeA, "/revoke", { token: issued.body.access_token, client_id: client.client_id, client_secret: client.client_secret })).status).toBe(200);
  expect(await within(1000, async () => (await verifyOn(nodeB, issued.body.access_token)) === 401)).toBe(true);
  expect(Date.now() - revokedAt).toBeLessThan(1000);
});

test("a key rotation on one node reaches the other's JWKS within 1 s; the old key stays published", async () => {
  const before = ((await (await edgeRequest(nodeB, AUTH_HOST, "/jwks")).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  const rotated = await nodeA.api("POST", "/api/v1/oauth/keys/rotate");
  expect(rotated.status).toBe(200);
  const published = async () => ((await (await edgeRequest(nodeB, AUTH_HOST, "/jwks")).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  expect(await within(1000, async () => (await published()).length === before.length + 1)).toBe(true);
  const after = await published();
  for (const kid of before) expect(after).toContain(kid);
});
