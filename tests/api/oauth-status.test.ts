/**
 * /api/v1/oauth/status, /oauth/metrics and /oauth/health: counts that follow
 * what is stored, and a health check that says what is missing without
 * showing any credential.
 */
import { describe, expect, test } from "bun:test";
import { signAccessToken } from "../../src/auth/tokens/access-token";
import { useApiHarness } from "../helpers/api-app";

const GITHUB_SECRET = "status-test-github-secret-0123456789";

async function seed(api: ReturnType<typeof useApiHarness>["api"]) {
  const { tokens, signingKeys, settings, pendingLogins } = api.authorizationServer.context;
  const register = async (body: Record<string, unknown>) =>
    (await api.call("POST", "/api/v1/oauth/clients", { body: { redirect_uris: ["https://c.example.com/cb"], ...body } })).json.client_id as string;
  const confidential = await register({ client_name: "conf" });
  const publicClient = await register({ client_name: "pub", token_endpoint_auth_method: "none" });
  const session = async (clientId: string, username: string, proxy: string | null, withRefresh: boolean) => {
    const grant = await tokens.createGrant({ client_id: clientId, sub: `github-${username}`, username, email: null, scope: "mcp:read", resources: ["https://mcp.example.com"], proxy_hostname: proxy, auth_time: 0 });
    if (withRefresh) await tokens.issueRefreshToken(grant.grant_id);
    const { claims } = await signAccessToken(signingKeys, { iss: settings.issuer, sub: grant.sub, aud: grant.resources, client_id: clientId, azp: clientId, scope: grant.scope }, 600);
    await tokens.recordAccessToken(claims, grant.grant_id);
    return claims.jti;
  };
  const revokedJti = await session(confidential, "alice", "app.example.com", true);
  await session(confidential, "bob", null, true);
  await session(publicClient, "alice", "app.example.com", false);
  await tokens.revokeAccessToken(revokedJti);
  await pendingLogins.save("a".repeat(43), {
    client_id: publicClient,
    redirect_uri: "https://c.example.com/cb",
    client_state: null,
    code_challenge: "x".repeat(43),
    scope: "mcp:read",
    resources: [],
    proxy_hostname: null,
    issuer: settings.issuer,
    callback_uri: `${settings.issuer}/callback`,
    browser_binding_hash: "", upstream_secrets: { verifier: "upstream-pkce-verifier-secret" },
    created_at: 0,
  });
  return { confidential, publicClient };
}

describe("with a GitHub app configured", () => {
  const suite = useApiHarness({ GITHUB_CLIENT_ID: "Iv1.status-app", GITHUB_CLIENT_SECRET: GITHUB_SECRET });
  const get = async (path: string) => {
    const res = await suite.api.call("GET", `/api/v1${path}`);
    expect([path, res.status]).toEqual([path, 200]);
    expect(JSON.stringify(res.json)).not.toContain(GITHUB_SECRET);
    expect(JSON.stringify(res.json)).not.toContain("upstream-pkce-verifier-secret");
    return res.json;
  };

  test("status: issuer, metadata URL, upstream, key, counts, settings", async () => {
    const { confidential, publicClient } = await seed(suite.api);
    const { settings, signingKeys } = suite.api.authorizationServer.context;
    const status = await get("/oauth/status");
    expect(status).toMatchObject({
      status: "ready",
      issuer: settings.issuer,
      metadata_url: `${settings.issuer}/.well-known/oauth-authorization-server`,
      jwks_uri: `${settings.issuer}/jwks`,
      upstream: { kind: "github", credentials_configured: true },
      signing_key: { kid: signingKeys.current().kid, algorithm: "RS256", source: "generated" },
      clients: { total: 2, active: 2 },
      tokens: { access_tokens: 2, refresh_tokens: 2, grants: 3, revoked: 1 },
      sessions: { active: 3, logins_in_progress: 1 },
      settings: { access_token_lifetime_seconds: settings.accessTokenLifetimeSeconds, mcp_protocol_version: "2025-06-18" },
    });
    expect(JSON.stringify(status)).not.toContain("Iv1.status-app");

    expect(await get("/oauth/status/clients")).toEqual({
      total: 2,
      active: 2,
      expired: 0,
      confidential: 1,
      public: 1,
      by_auth_method: { client_secret_basic: 1, none: 1 },
    });
    expect(await get("/oauth/status/tokens")).toEqual({
      access_tokens: 2,
      refresh_tokens: 2,
      grants: 3,
      revoked: 1,
      by_client: { [confidential]: 1, [publicClient]: 1 },
      by_user: { bob: 1, alice: 1 },
    });
    expect(await get("/oauth/status/sessions")).toEqual({
      active: 3,
      with_refresh_token: 2,
      logins_in_progress: 1,
      by_client: { [confidential]: 2, [publicClient]: 1 },
      by_proxy: { "app.example.com": 2, "(none)": 1 },
      by_user: { alice: 2, bob: 1 },
    });
    expect(await get("/oauth/tokens")).toEqual(await get("/oauth/status/tokens"));
  });

  test("metrics", async () => {
    expect(await get("/oauth/metrics")).toEqual({
      clients: 0,
      grants: 0,
      access_tokens: 0,
      refresh_tokens: 0,
      revoked_tokens: 0,
      logins_in_progress: 0,
      signing_keys_published: 1,
    });
    await seed(suite.api);
    expect(await get("/oauth/metrics")).toEqual({
      clients: 2,
      grants: 3,
      access_tokens: 2,
      refresh_tokens: 2,
      revoked_tokens: 1,
      logins_in_progress: 1,
      signing_keys_published: 1,
    });
  });

  test("health: healthy, the key's kid, credentials set (not shown), Redis reachable", async () => {
    await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "own.example.com", target_url: "http://127.0.0.1:3000" } });
    await suite.api.githubApps.configure("own.example.com", "Iv1.own", "own-app-secret-0123456789");
    const health = await get("/oauth/health");
    expect(health).toEqual({
      status: "healthy",
      problems: [],
      issuer: suite.api.authorizationServer.context.settings.issuer,
      signing_key: { loaded: true, kid: suite.api.authorizationServer.context.signingKeys.current().kid, algorithm: "RS256", source: "generated", published_keys: 1 },
      upstream: {
        kind: "github",
        credentials_configured: true,
        github_oauth_base_url: "https://github.com",
        github_api_base_url: "https://api.github.com",
        proxies_with_own_github_app: 1,
      },
      redis: { reachable: true },
    });
    expect(JSON.stringify(health)).not.toContain("own-app-secret");
  });
});

describe("without upstream credentials", () => {
  const suite = useApiHarness();

  test("health is degraded and says which variables are missing; status is incomplete", async () => {
    const health = await suite.api.call("GET", "/api/v1/oauth/health");
    expect(health.status).toBe(200);
    expect(health.json.status).toBe("degraded");
    expect(health.json.upstream.credentials_configured).toBe(false);
    expect(health.json.problems).toEqual([expect.stringMatching(/GITHUB_CLIENT_ID/)]);
    expect((await suite.api.call("GET", "/api/v1/oauth/status")).json.status).toBe("incomplete");
  });
});
