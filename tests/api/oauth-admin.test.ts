/**
 * The OAuth admin API against a real authorization server on a real Redis:
 * clients, access tokens, sessions (grants) and proxies. Sessions are made
 * the way a finished login makes them — TokenStore.createGrant, a refresh
 * token, a signed and recorded access token.
 */
import { describe, expect, test } from "bun:test";
import { signAccessToken } from "../../src/auth/tokens/access-token";
import { keys } from "../../src/storage/keys";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness({ GITHUB_CLIENT_ID: "Iv1.default-app", GITHUB_CLIENT_SECRET: "default-github-secret-0123456789" });

const context = () => suite.api.authorizationServer.context;
const call = (method: string, path: string, options: { token?: string | null; body?: unknown; raw?: string } = {}) =>
  suite.api.call(method, `/api/v1${path}`, options);

async function userToken(name: string): Promise<string> {
  return (await suite.api.call("POST", "/api/v1/tokens/", { body: { name } })).json.token;
}

async function registerClient(body: Record<string, unknown> = {}) {
  const res = await call("POST", "/oauth/clients", {
    body: { client_name: "Test client", redirect_uris: ["https://client.example.com/cb"], ...body },
  });
  expect(res.status).toBe(201);
  return res.json as { client_id: string; client_secret?: string; registration_access_token: string };
}

let subjects = 0;

/** What a completed login leaves behind: a grant, its refresh token and one access token. */
async function login(clientId: string, options: { username?: string; proxy?: string | null; resources?: string[]; scope?: string } = {}) {
  const { tokens, signingKeys, settings } = context();
  const username = options.username ?? "alice";
  const sub = `github-${++subjects}`;
  const resources = options.resources ?? ["https://mcp.example.com"];
  const scope = options.scope ?? "mcp:read";
  const grant = await tokens.createGrant({
    client_id: clientId,
    sub,
    username,
    email: `${username}@example.com`,
    scope,
    resources,
    proxy_hostname: options.proxy ?? null,
    auth_time: Math.floor(Date.now() / 1000),
  });
  const refreshToken = await tokens.issueRefreshToken(grant.grant_id);
  const { token, claims } = await signAccessToken(
    signingKeys,
    { iss: settings.issuer, sub, aud: resources, client_id: clientId, azp: clientId, scope, login: username },
    600,
  );
  await tokens.recordAccessToken(claims, grant.grant_id);
  return { grant, refreshToken, accessToken: token, jti: claims.jti };
}

describe("who may call", () => {
  const endpoints: [string, string, unknown?][] = [
    ["GET", "/oauth/clients"],
    ["POST", "/oauth/clients", { redirect_uris: ["https://c.example.com/cb"] }],
    ["GET", "/oauth/clients/some-client"],
    ["GET", "/oauth/clients/some-client/tokens"],
    ["DELETE", "/oauth/clients/some-client"],
    ["GET", "/oauth/tokens"],
    ["GET", "/oauth/tokens/some-jti"],
    ["DELETE", "/oauth/tokens/some-jti"],
    ["GET", "/oauth/sessions"],
    ["GET", "/oauth/sessions/some-session"],
    ["DELETE", "/oauth/sessions/some-session"],
    ["GET", "/oauth/proxies"],
    ["GET", "/oauth/proxies/a.example.com/sessions"],
    ["GET", "/oauth/keys"],
    ["POST", "/oauth/keys/rotate"],
    ["POST", "/oauth/test-tokens", { resource: "https://mcp.example.com" }],
    ["GET", "/oauth/metrics"],
    ["GET", "/oauth/health"],
    ["GET", "/oauth/status"],
    ["GET", "/oauth/status/clients"],
    ["GET", "/oauth/status/tokens"],
    ["GET", "/oauth/status/sessions"],
  ];

  test("no bearer token: 401; a wrong one: 401", async () => {
    for (const [method, path, body] of endpoints) {
      const missing = await call(method, path, { token: null, body });
      expect([method, path, missing.status, missing.json.error]).toEqual([method, path, 401, "unauthorized"]);
      const wrong = await call(method, path, { token: "acm_not_a_real_token", body });
      expect([method, path, wrong.status]).toEqual([method, path, 401]);
    }
  });

  test("a non-admin token: 403, and nothing is written", async () => {
    const user = await userToken("bob");
    const before = await snapshot(suite.redis);
    for (const [method, path, body] of endpoints) {
      const res = await call(method, path, { token: user, body });
      expect([method, path, res.status, res.json.error]).toEqual([method, path, 403, "forbidden"]);
      expect(res.json.detail).toMatch(/admin token/);
    }
    expect(await snapshot(suite.redis)).toEqual(before);
  });
});

describe("clients", () => {
  test("the admin registers a client: credentials once, hashes stored, never shown again", async () => {
    const res = await call("POST", "/oauth/clients", {
      body: { client_name: "CLI test", redirect_uris: ["http://127.0.0.1/callback"], scope: "mcp:read mcp:write", software_id: "cli" },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.json).toMatchObject({
      client_name: "CLI test",
      redirect_uris: ["http://127.0.0.1/callback"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
      scope: "mcp:read mcp:write",
      software_id: "cli",
      client_secret_expires_at: expect.any(Number),
    });
    expect(res.json.client_secret).toMatch(/.{20,}/);
    expect(res.json.registration_access_token).toMatch(/.{20,}/);
    expect(res.json.registration_client_uri).toBe(`${context().settings.issuer}/register/${res.json.client_id}`);

    const stored = await context().clients.get(res.json.client_id);
    expect(stored!.client_secret_hash).not.toBe(res.json.client_secret);
    expect(context().clients.secretMatches(stored!, res.json.client_secret)).toBe(true);

    const shown = await call("GET", `/oauth/clients/${res.json.client_id}`);
    expect(shown.status).toBe(200);
    expect(shown.json).toMatchObject({ client_id: res.json.client_id, client_name: "CLI test", confidential: true, expired: false, active_sessions: 0, active_tokens: 0 });
    for (const text of [JSON.stringify(shown.json), JSON.stringify((await call("GET", "/oauth/clients")).json)]) {
      expect(text).not.toContain(res.json.client_secret);
      expect(text).not.toContain(res.json.registration_access_token);
      expect(text).not.toContain(stored!.client_secret_hash!);
      expect(text).not.toContain(stored!.registration_access_token_hash);
      expect(text).not.toContain("_hash");
    }
  });

  test("a public client gets no secret", async () => {
    const client = await registerClient({ token_endpoint_auth_method: "none" });
    expect(client.client_secret).toBeUndefined();
    expect((await call("GET", `/oauth/clients/${client.client_id}`)).json.confidential).toBe(false);
  });

  test("list, oldest first; active_only=true leaves out expired clients", async () => {
    const first = await registerClient({ client_name: "first" });
    const second = await registerClient({ client_name: "second" });
    // A registration past its lifetime (as when OAUTH_CLIENT_LIFETIME was shortened): stored without a TTL, expired by its record.
    const record = (await context().clients.get(first.client_id))!;
    await suite.redis.client.set(keys.oauthClient(first.client_id), JSON.stringify({ ...record, client_id_issued_at: record.client_id_issued_at - 100, client_secret_expires_at: 1 }));

    const all = await call("GET", "/oauth/clients");
    expect(all.status).toBe(200);
    expect(all.json.map((c: any) => [c.client_name, c.expired])).toEqual([["first", true], ["second", false]]);
    const active = await call("GET", "/oauth/clients?active_only=true");
    expect(active.json.map((c: any) => c.client_id)).toEqual([second.client_id]);
    expect((await call("GET", "/oauth/clients/?active_only=false")).json.length).toBe(2);
    expect((await call("GET", "/oauth/clients?active_only=maybe")).status).toBe(422);
  });

  test("a client's tokens: only its own live access tokens, each with its revoked flag", async () => {
    const a = await registerClient();
    const b = await registerClient();
    const first = await login(a.client_id, { username: "alice" });
    const second = await login(a.client_id, { username: "carol", proxy: "app.example.com" });
    await login(b.client_id, { username: "dave" });

    const res = await call("GET", `/oauth/clients/${a.client_id}/tokens`);
    expect(res.status).toBe(200);
    expect(res.json.client_id).toBe(a.client_id);
    expect(res.json.registered).toBe(true);
    expect(res.json.tokens.map((t: any) => t.jti).sort()).toEqual([first.jti, second.jti].sort());
    expect(res.json.tokens.find((t: any) => t.jti === first.jti)).toMatchObject({
      client_id: a.client_id,
      username: "alice",
      scope: "mcp:read",
      aud: ["https://mcp.example.com"],
      session_id: first.grant.grant_id,
      revoked: false,
    });
    expect(JSON.stringify(res.json)).not.toContain(first.accessToken);
    expect((await call("GET", `/oauth/clients/${a.client_id}`)).json).toMatchObject({ active_sessions: 2, active_tokens: 2 });
  });

  test("a client known only by its metadata document URL: its tokens by the percent-encoded id", async () => {
    const documentClient = "https://app.example.net/oauth/client.json";
    const session = await login(documentClient);
    const res = await call("GET", `/oauth/clients/${encodeURIComponent(documentClient)}/tokens`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ client_id: documentClient, registered: false, tokens: [{ jti: session.jti }] });
    expect((await call("GET", `/oauth/clients/${encodeURIComponent(documentClient)}`)).status).toBe(404);
  });

  test("deleting a client revokes its sessions and leaves other clients' alone", async () => {
    const doomed = await registerClient();
    const other = await registerClient();
    const mine = await login(doomed.client_id);
    const theirs = await login(other.client_id);

    const res = await call("DELETE", `/oauth/clients/${doomed.client_id}`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ deleted: doomed.client_id, sessions_revoked: 1 });
    expect(await context().clients.get(doomed.client_id)).toBeNull();
    expect(await context().tokens.isRevoked(mine.jti)).toBe(true);
    expect(await context().tokens.getRefreshToken(mine.refreshToken)).toBeNull();
    expect(await context().tokens.isRevoked(theirs.jti)).toBe(false);
    expect(await context().tokens.getRefreshToken(theirs.refreshToken)).not.toBeNull();
    expect((await call("GET", `/oauth/clients/${doomed.client_id}`)).status).toBe(404);
    expect((await call("DELETE", `/oauth/clients/${doomed.client_id}`)).status).toBe(404);
  });

  test("unknown clients are 404", async () => {
    for (const [method, path] of [
      ["GET", "/oauth/clients/nope"],
      ["GET", "/oauth/clients/nope/tokens"],
      ["DELETE", "/oauth/clients/nope"],
    ] as const) {
      const res = await call(method, path);
      expect([path, res.status, res.json.error]).toEqual([path, 404, "not_found"]);
    }
  });

  describe("bad registrations get a 422 naming the problem and write nothing", () => {
    const cases: [string, unknown, RegExp][] = [
      ["no redirect URI", { client_name: "x" }, /redirect_uris/],
      ["a javascript: redirect URI", { redirect_uris: ["javascript:alert(1)"] }, /redirect_uris/],
      ["a scope this server does not grant", { redirect_uris: ["https://c.example.com/cb"], scope: "admin:all" }, /scope/],
      ["an unsupported grant type", { redirect_uris: ["https://c.example.com/cb"], grant_types: ["password"] }, /grant_types/],
      ["an unsupported auth method", { redirect_uris: ["https://c.example.com/cb"], token_endpoint_auth_method: "private_key_jwt" }, /token_endpoint_auth_method/],
      ["a data: logo", { redirect_uris: ["https://c.example.com/cb"], logo_uri: "data:image/png;base64,AAAA" }, /logo_uri/],
      ["a wrong type", { redirect_uris: "https://c.example.com/cb" }, /redirect_uris/],
      ["an unknown field", { redirect_uris: ["https://c.example.com/cb"], client_secret: "mine" }, /client_secret/],
    ];
    for (const [name, body, detail] of cases) {
      test(name, async () => {
        const before = await snapshot(suite.redis);
        const res = await call("POST", "/oauth/clients", { body });
        expect(res.status).toBe(422);
        expect(res.json.error).toBe("invalid_request");
        expect(res.json.detail).toMatch(detail);
        expect(await snapshot(suite.redis)).toEqual(before);
      });
    }
    test("malformed JSON is a 400", async () => {
      expect((await call("POST", "/oauth/clients", { raw: "{" })).status).toBe(400);
    });
  });
});

describe("access tokens", () => {
  test("statistics count live tokens, grants, refresh tokens and revocations", async () => {
    const client = await registerClient();
    const first = await login(client.client_id, { username: "alice" });
    await login(client.client_id, { username: "bob" });
    await context().tokens.revokeAccessToken(first.jti);

    const res = await call("GET", "/oauth/tokens");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      access_tokens: 1,
      refresh_tokens: 2,
      grants: 2,
      revoked: 1,
      by_client: { [client.client_id]: 1 },
      by_user: { bob: 1 },
    });
  });

  test("details, revoke, and a revoked token still answers as revoked", async () => {
    const client = await registerClient();
    const session = await login(client.client_id, { username: "alice", resources: ["https://a.example.com", "https://b.example.com/mcp"] });

    const shown = await call("GET", `/oauth/tokens/${session.jti}`);
    expect(shown.status).toBe(200);
    expect(shown.json).toMatchObject({
      jti: session.jti,
      client_id: client.client_id,
      username: "alice",
      aud: ["https://a.example.com", "https://b.example.com/mcp"],
      session_id: session.grant.grant_id,
      revoked: false,
    });
    expect(shown.json.expires_in).toBeGreaterThan(500);
    expect(Date.parse(shown.json.expires_at)).toBeGreaterThan(Date.now());

    const revoked = await call("DELETE", `/oauth/tokens/${session.jti}`);
    expect(revoked.json).toEqual({ revoked: session.jti, already_revoked: false });
    expect(await context().tokens.isRevoked(session.jti)).toBe(true);
    // Only the access token: the session's refresh token still works.
    expect(await context().tokens.getRefreshToken(session.refreshToken)).not.toBeNull();

    const after = await call("GET", `/oauth/tokens/${session.jti}`);
    expect(after.status).toBe(200);
    expect(after.json).toMatchObject({ jti: session.jti, revoked: true });
    expect((await call("DELETE", `/oauth/tokens/${session.jti}`)).json).toEqual({ revoked: session.jti, already_revoked: true });
  });

  test("an unknown jti is 404", async () => {
    expect((await call("GET", "/oauth/tokens/00000000-0000-0000-0000-000000000000")).status).toBe(404);
    expect((await call("DELETE", "/oauth/tokens/00000000-0000-0000-0000-000000000000")).status).toBe(404);
  });
});

describe("sessions", () => {
  test("list and details: user, client, scope, resources, proxy, times; no token strings", async () => {
    const client = await registerClient();
    const session = await login(client.client_id, { username: "alice", proxy: "app.example.com", scope: "mcp:read mcp:write" });

    const list = await call("GET", "/oauth/sessions");
    expect(list.status).toBe(200);
    expect(list.json).toEqual([
      {
        session_id: session.grant.grant_id,
        client_id: client.client_id,
        sub: session.grant.sub,
        username: "alice",
        email: "alice@example.com",
        scope: "mcp:read mcp:write",
        resources: ["https://mcp.example.com"],
        proxy_hostname: "app.example.com",
        created_at: expect.any(String),
        auth_time: expect.any(String),
        expires_at: expect.any(String),
        has_refresh_token: true,
        access_tokens: 1,
      },
    ]);
    expect(Date.parse(list.json[0].expires_at) - Date.parse(list.json[0].created_at)).toBe(context().settings.refreshTokenLifetimeSeconds * 1000);

    const details = await call("GET", `/oauth/sessions/${session.grant.grant_id}`);
    expect(details.status).toBe(200);
    expect(details.json.tokens.map((t: any) => t.jti)).toEqual([session.jti]);
    for (const text of [JSON.stringify(list.json), JSON.stringify(details.json)]) {
      expect(text).not.toContain(session.refreshToken);
      expect(text).not.toContain(session.accessToken);
    }
  });

  test("deleting a session revokes its grant: every access token and the refresh token", async () => {
    const client = await registerClient();
    const session = await login(client.client_id);
    // A second access token in the same family, as a refresh would mint.
    const { signingKeys, settings, tokens } = context();
    const { claims } = await signAccessToken(
      signingKeys,
      { iss: settings.issuer, sub: session.grant.sub, aud: session.grant.resources, client_id: client.client_id, azp: client.client_id, scope: session.grant.scope },
      600,
    );
    await tokens.recordAccessToken(claims, session.grant.grant_id);
    const untouched = await login(client.client_id, { username: "bob" });

    const res = await call("DELETE", `/oauth/sessions/${session.grant.grant_id}`);
    expect(res.status).toBe(200);
    expect(res.json.revoked).toBe(session.grant.grant_id);
    expect(res.json.access_tokens_revoked.sort()).toEqual([session.jti, claims.jti].sort());
    expect(await tokens.isRevoked(session.jti)).toBe(true);
    expect(await tokens.isRevoked(claims.jti)).toBe(true);
    expect(await tokens.getRefreshToken(session.refreshToken)).toBeNull();
    expect((await tokens.rotateRefreshToken(session.refreshToken, client.client_id)).ok).toBe(false);
    expect(await tokens.getGrant(session.grant.grant_id)).toBeNull();
    expect(await tokens.isRevoked(untouched.jti)).toBe(false);

    expect((await call("GET", `/oauth/sessions/${session.grant.grant_id}`)).status).toBe(404);
    expect((await call("DELETE", `/oauth/sessions/${session.grant.grant_id}`)).status).toBe(404);
    expect((await call("GET", "/oauth/sessions")).json.map((s: any) => s.session_id)).toEqual([untouched.grant.grant_id]);
  });

  test("a proxy's sessions are those started through it", async () => {
    await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "app.example.com", target_url: "http://127.0.0.1:3000" } });
    await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "quiet.example.com", target_url: "http://127.0.0.1:3000" } });
    const client = await registerClient();
    const viaProxy = await login(client.client_id, { proxy: "app.example.com" });
    await login(client.client_id, { proxy: null });

    const res = await call("GET", "/oauth/proxies/App.Example.com/sessions");
    expect(res.status).toBe(200);
    expect(res.json.map((s: any) => s.session_id)).toEqual([viaProxy.grant.grant_id]);
    expect((await call("GET", "/oauth/proxies/quiet.example.com/sessions")).json).toEqual([]);
    expect((await call("GET", "/oauth/proxies/ghost.example.com/sessions")).status).toBe(404);
  });
});

describe("proxies", () => {
  test("each proxy's auth settings, allowlist, own GitHub app and sessions; never the app's secret", async () => {
    const create = (body: Record<string, unknown>) => suite.api.call("POST", "/api/v1/proxy/targets/", { body: { target_url: "http://127.0.0.1:3000", ...body } });
    await create({ hostname: "open.example.com" });
    await create({
      hostname: "team.example.com",
      auth_enabled: true,
      auth_mode: "redirect",
      auth_proxy: "auth.localhost",
      auth_required_users: ["alice", "bob"],
      resource_endpoint: "/mcp",
    });
    await suite.api.githubApps.configure("team.example.com", "Iv1.team-app", "team-github-secret-abcdef0123");
    const client = await registerClient();
    await login(client.client_id, { proxy: "team.example.com" });

    const res = await call("GET", "/oauth/proxies");
    expect(res.status).toBe(200);
    expect(res.json).toEqual([
      expect.objectContaining({
        hostname: "open.example.com",
        auth_enabled: false,
        auth_mode: "forward",
        allowed_users: [...context().settings.allowedUsers],
        allowed_users_source: "default",
        has_own_github_app: false,
        resource_endpoint: null,
        issuer: context().settings.issuer,
        active_sessions: 0,
      }),
      expect.objectContaining({
        hostname: "team.example.com",
        auth_enabled: true,
        auth_mode: "redirect",
        auth_proxy: "auth.localhost",
        auth_required_users: ["alice", "bob"],
        allowed_users: ["alice", "bob"],
        allowed_users_source: "proxy",
        has_own_github_app: true,
        resource_endpoint: "/mcp",
        active_sessions: 1,
      }),
    ]);
    const text = JSON.stringify(res.json);
    expect(text).not.toContain("team-github-secret");
    expect(text).not.toContain("github_client_secret");
  });
});

describe("no secret in any answer", () => {
  test("every read endpoint, with clients, sessions, a proxy app and a test token present", async () => {
    const registered = await registerClient();
    const session = await login(registered.client_id, { proxy: "app.example.com" });
    await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "app.example.com", target_url: "http://127.0.0.1:3000" } });
    await suite.api.githubApps.configure("app.example.com", "Iv1.proxy-app", "proxy-github-secret-0123456789");
    const minted = await call("POST", "/oauth/test-tokens", { body: { resource: "https://mcp.example.com" } });
    expect(minted.status).toBe(201);
    const stored = (await context().clients.get(registered.client_id))!;
    const sealedProxySecret = (await suite.api.proxies.get("app.example.com"))!.github_client_secret!;
    const signingKeyPems = Object.values(await suite.redis.client.hgetall(keys.oauthSigningKeys)).map((r) => JSON.parse(r).private_pem as string);

    const secrets = [
      registered.client_secret!,
      registered.registration_access_token,
      stored.client_secret_hash!,
      stored.registration_access_token_hash,
      session.refreshToken,
      session.accessToken,
      minted.json.access_token,
      "default-github-secret-0123456789",
      "proxy-github-secret-0123456789",
      sealedProxySecret,
      ...signingKeyPems,
      ...signingKeyPems.map((pem) => pem.split("\n")[1]!),
    ];
    const paths = [
      "/oauth/clients",
      `/oauth/clients/${registered.client_id}`,
      `/oauth/clients/${registered.client_id}/tokens`,
      "/oauth/clients/portcullis-admin/tokens",
      "/oauth/tokens",
      `/oauth/tokens/${session.jti}`,
      `/oauth/tokens/${minted.json.jti}`,
      "/oauth/sessions",
      `/oauth/sessions/${session.grant.grant_id}`,
      `/oauth/sessions/${minted.json.session_id}`,
      "/oauth/proxies",
      "/oauth/proxies/app.example.com/sessions",
      "/oauth/keys",
      "/oauth/metrics",
      "/oauth/health",
      "/oauth/status",
      "/oauth/status/clients",
      "/oauth/status/tokens",
      "/oauth/status/sessions",
      "/proxy/targets/app.example.com/oauth-server",
    ];
    for (const path of paths) {
      const res = await call("GET", path);
      expect([path, res.status]).toEqual([path, 200]);
      const text = JSON.stringify(res.json);
      for (const secret of secrets) expect([path, text.includes(secret)]).toEqual([path, false]);
      expect([path, /PRIVATE KEY|_hash"|private_pem|"d":|"client_secret":|"refresh_token":|"registration_access_token":/.test(text)]).toEqual([path, false]);
    }
  });
});
