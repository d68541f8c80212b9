/**
 * portcullis_oauth_tokens_total on a running gateway after a real sign-in (a
 * local server speaking GitHub's OAuth and API): a code exchanged counts as
 * issued, a refresh as refreshed, each token revoked at /revoke as revoked;
 * refused requests (a replayed code, a revoked refresh token, a foreign
 * token) count nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { authorizeThroughLogin, formPost, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { parsePrometheusText, sample } from "../helpers/prometheus-text";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const REDIRECT = "http://127.0.0.1:7777/callback";
let redis: TestRedis;
let github: GitHubTestServer;
let gw: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.addApp("gh-metrics-app", "gh-metrics-secret");
  github.setUser({ id: 77, login: "carol", name: "Carol", emails: [{ email: "carol@example.test", primary: true, verified: true }] });
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    GITHUB_CLIENT_ID: "gh-metrics-app",
    GITHUB_CLIENT_SECRET: "gh-metrics-secret",
    GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
    GITHUB_API_BASE_URL: github.apiBaseUrl,
    OAUTH_ALLOWED_GITHUB_USERS: "carol",
  });
});
afterAll(async () => {
  await gw?.stop();
  await github?.stop();
  await redis?.stop();
});

async function tokens(): Promise<Record<string, number>> {
  const families = await parsePrometheusText(await (await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`)).text());
  const of = (event: string) => sample(families, "portcullis_oauth_tokens_total", { event }).value!;
  return { issued: of("issued"), refreshed: of("refreshed"), revoked: of("revoked") };
}

describe("portcullis_oauth_tokens_total", () => {
  test("issued, refreshed and revoked follow a sign-in; refusals count nothing", async () => {
    expect(await tokens()).toEqual({ issued: 0, refreshed: 0, revoked: 0 });
    const client = await register(gw, { client_name: "metrics client", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] });
    const pkce = pkcePair();
    const query = await authorizeThroughLogin(gw, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", state: "s", scope: "mcp:read" });
    const exchange = { grant_type: "authorization_code", code: query.get("code")!, redirect_uri: REDIRECT, code_verifier: pkce.verifier, client_id: client.client_id };

    const issued = await tokenRequest(gw, exchange);
    expect(issued.status).toBe(200);
    expect(await tokens()).toEqual({ issued: 1, refreshed: 0, revoked: 0 });

    // The same code again is refused (and revokes its grant): not an issuance.
    expect((await tokenRequest(gw, exchange)).status).toBe(400);
    expect((await tokens()).issued).toBe(1);

    const second = await authorizeThroughLogin(gw, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", state: "t", scope: "mcp:read" });
    const fresh = await tokenRequest(gw, { ...exchange, code: second.get("code")! });
    expect(fresh.status).toBe(200);
    const refreshed = await tokenRequest(gw, { grant_type: "refresh_token", refresh_token: fresh.body.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
    expect(await tokens()).toEqual({ issued: 2, refreshed: 1, revoked: 0 });

    const form = (token: string) => ({ token, client_id: client.client_id });
    expect((await formPost(gw, "/revoke", form(refreshed.body.access_token))).status).toBe(200);
    expect((await formPost(gw, "/revoke", form(refreshed.body.refresh_token))).status).toBe(200);
    expect(await tokens()).toEqual({ issued: 2, refreshed: 1, revoked: 2 });

    // A revoked refresh token neither refreshes nor revokes again; an unknown token gets 200 but revokes nothing.
    expect((await tokenRequest(gw, { grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token, client_id: client.client_id })).status).toBe(400);
    expect((await formPost(gw, "/revoke", form(refreshed.body.refresh_token))).status).toBe(200);
    expect((await formPost(gw, "/revoke", form("not-a-token-we-made"))).status).toBe(200);
    expect(await tokens()).toEqual({ issued: 2, refreshed: 1, revoked: 2 });
  });
});
