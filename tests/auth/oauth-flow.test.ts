/**
 * The authorization server end to end through a real gateway: the auth
 * hostname on the HTTP edge, a local server speaking GitHub's OAuth and REST
 * API, real Redis. Registration → authorize → GitHub login → callback →
 * token → refresh, for a public and a confidential client, and every
 * rejection the RFCs name.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPublicKey, verify as verifySignature } from "node:crypto";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import {
  AUTH_HOST,
  authorizePath,
  authorizeThroughLogin,
  edgeRequest,
  followLogin,
  formPost,
  pkcePair,
  register,
  tokenRequest,
} from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const ISSUER = `https://${AUTH_HOST}`;
const RESOURCE = "https://mcp.example.test";
const OTHER_RESOURCE = "https://other.example.test";
const REDIRECT = "http://127.0.0.1:7777/callback";

let redis: TestRedis;
let github: GitHubTestServer;
let gw: TestGateway;
let backend: ReturnType<typeof namedBackend>;

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.addApp("gh-default-app", "gh-default-secret");
  github.setUser({ id: 4242, login: "Alice", name: "Alice A.", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    GITHUB_CLIENT_ID: "gh-default-app",
    GITHUB_CLIENT_SECRET: "gh-default-secret",
    GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
    GITHUB_API_BASE_URL: github.apiBaseUrl,
    OAUTH_ALLOWED_GITHUB_USERS: "alice,bob",
    OAUTH_ACCESS_TOKEN_LIFETIME: "600",
  });
  backend = namedBackend("mcp");
  for (const hostname of ["mcp.example.test", "other.example.test"]) {
    const created = await gw.api("POST", "/api/v1/proxy/targets", { hostname, target_url: `http://127.0.0.1:${backend.port}`, enable_https: false });
    expect(created.status).toBe(201);
  }
  await Bun.sleep(300); // the edge's host table follows the events
});

afterAll(async () => {
  await gw?.stop();
  backend?.stop(true);
  await github?.stop();
  await redis?.stop();
});

async function publicClient(extra: Record<string, unknown> = {}) {
  return register(gw, { client_name: "test client", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], ...extra });
}

/** A full login for `client`; returns the code and the PKCE verifier. */
async function login(clientId: string, options: { resource?: string[]; scope?: string; state?: string } = {}) {
  const pkce = pkcePair();
  const query = await authorizeThroughLogin(gw, {
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: pkce.challenge,
    code_challenge_method: "S256",
    state: options.state ?? "st-123",
    scope: options.scope ?? "mcp:read mcp:write",
    resource: options.resource ?? [RESOURCE],
  });
  return { query, code: query.get("code")!, verifier: pkce.verifier };
}

/** RS256 verification with node:crypto against the published JWKS: independent of the library that signed. */
async function verifyWithJwks(jwt: string) {
  const jwks = (await (await edgeRequest(gw, AUTH_HOST, "/jwks")).json()) as { keys: any[] };
  const [headerB64, payloadB64, signatureB64] = jwt.split(".");
  const header = JSON.parse(Buffer.from(headerB64!, "base64url").toString());
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  expect(jwk).toBeDefined();
  const key = createPublicKey({ key: jwk, format: "jwk" });
  const valid = verifySignature("RSA-SHA256", Buffer.from(`${headerB64}.${payloadB64}`), key, Buffer.from(signatureB64!, "base64url"));
  return { valid, header, payload: JSON.parse(Buffer.from(payloadB64!, "base64url").toString()) };
}

describe("metadata", () => {
  test("RFC 8414 document on the auth hostname, with MCP's fields", async () => {
    const res = await edgeRequest(gw, AUTH_HOST, "/.well-known/oauth-authorization-server");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, any>;
    expect(doc.issuer).toBe(ISSUER);
    for (const [field, path] of [
      ["authorization_endpoint", "/authorize"],
      ["token_endpoint", "/token"],
      ["registration_endpoint", "/register"],
      ["revocation_endpoint", "/revoke"],
      ["introspection_endpoint", "/introspect"],
      ["jwks_uri", "/jwks"],
    ]) {
      expect(doc[field!]).toBe(ISSUER + path);
    }
    // RFC 8414 §2: issuer is https without query/fragment; every endpoint https.
    for (const value of Object.values(doc)) if (typeof value === "string" && value.startsWith("http")) expect(value.startsWith("https://")).toBe(true);
    expect(doc.response_types_supported).toEqual(["code"]);
    expect(doc.code_challenge_methods_supported).toEqual(["S256"]);
    expect(doc.grant_types_supported).toEqual(["authorization_code", "refresh_token"]);
    expect(doc.token_endpoint_auth_methods_supported).toEqual(["none", "client_secret_basic", "client_secret_post"]);
    expect(doc.scopes_supported).toEqual(["mcp:read", "mcp:write", "mcp:admin"]);
    expect(doc.resource_indicators_supported).toBe(true);
    expect(doc.authorization_response_iss_parameter_supported).toBe(true);
    expect(doc.client_id_metadata_document_supported).toBe(true);
  });

  test("the OpenID configuration path serves the same document (plus OpenID's required fields); an unrelated path-aware form is a clean 404", async () => {
    const a = await (await edgeRequest(gw, AUTH_HOST, "/.well-known/oauth-authorization-server")).json();
    const b = (await (await edgeRequest(gw, AUTH_HOST, "/.well-known/openid-configuration")).json()) as Record<string, unknown>;
    // OpenID Connect Discovery's two required fields on top of the same document.
    expect(b).toEqual({ ...(a as object), subject_types_supported: ["public"], id_token_signing_alg_values_supported: ["RS256"] });
    const other = await edgeRequest(gw, AUTH_HOST, "/.well-known/oauth-authorization-server/tenant1");
    expect(other.status).toBe(404);
    expect(((await other.json()) as any).error).toBe("not_found");
  });
});

describe("public client: authorization code + PKCE, refresh rotation", () => {
  test("full flow: state and iss come back, the JWT verifies independently and carries the resource", async () => {
    const client = await publicClient();
    expect(client.client_secret).toBeUndefined();
    const { query, code, verifier } = await login(client.client_id, { state: "xyz-state" });
    expect(query.get("state")).toBe("xyz-state");
    expect(query.get("iss")).toBe(ISSUER);
    expect(code).toBeTruthy();

    const issued = await tokenRequest(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: client.client_id, resource: RESOURCE });
    expect(issued.status).toBe(200);
    expect(issued.headers.get("cache-control")).toBe("no-store");
    expect(issued.body.token_type).toBe("Bearer");
    expect(issued.body.expires_in).toBe(600);
    expect(issued.body.scope).toBe("mcp:read mcp:write");
    expect(issued.body.refresh_token).toBeTruthy();

    const { valid, header, payload } = await verifyWithJwks(issued.body.access_token);
    expect(valid).toBe(true);
    expect(header.typ).toBe("at+jwt");
    expect(header.alg).toBe("RS256");
    expect(payload.iss).toBe(ISSUER);
    expect(payload.sub).toBe("github-4242");
    expect(payload.aud).toEqual([RESOURCE]);
    expect(payload.client_id).toBe(client.client_id);
    expect(payload.azp).toBe(client.client_id);
    expect(payload.scope).toBe("mcp:read mcp:write");
    expect(payload.login).toBe("alice");
    expect(payload.email).toBe("alice@example.test");
    expect(payload.exp - payload.iat).toBe(600);
    expect(typeof payload.jti).toBe("string");
    expect(github.exchanges.at(-1)?.clientId).toBe("gh-default-app");

    // Refresh rotates; the old refresh token is then a replay that revokes the family.
    const refreshed = await tokenRequest(gw, { grant_type: "refresh_token", refresh_token: issued.body.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(issued.body.refresh_token);
    const refreshedClaims = (await verifyWithJwks(refreshed.body.access_token)).payload;
    expect(refreshedClaims.aud).toEqual([RESOURCE]);
    expect(refreshedClaims.jti).not.toBe(payload.jti);

    const replay = await tokenRequest(gw, { grant_type: "refresh_token", refresh_token: issued.body.refresh_token, client_id: client.client_id });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe("invalid_grant");
    // The family is gone: the newest refresh token no longer works either, and its access token is revoked.
    const after = await tokenRequest(gw, { grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token, client_id: client.client_id });
    expect(after.body.error).toBe("invalid_grant");
    await expectRevokedAtEdge(refreshed.body.access_token);
  });

  test("a token request may narrow the resources but not widen them", async () => {
    const client = await publicClient();
    const { code, verifier } = await login(client.client_id, { resource: [RESOURCE, OTHER_RESOURCE] });
    const widened = await tokenRequest(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: client.client_id, resource: "https://elsewhere.example.test" });
    expect(widened.status).toBe(400);
    expect(widened.body.error).toBe("invalid_target");

    const second = await login(client.client_id, { resource: [RESOURCE, OTHER_RESOURCE] });
    const narrowed = await tokenRequest(gw, { grant_type: "authorization_code", code: second.code, redirect_uri: REDIRECT, code_verifier: second.verifier, client_id: client.client_id, resource: OTHER_RESOURCE });
    expect(narrowed.status).toBe(200);
    expect((await verifyWithJwks(narrowed.body.access_token)).payload.aud).toEqual([OTHER_RESOURCE]);
    // Refresh may narrow within the grant, not beyond it.
    const refreshWide = await tokenRequest(gw, { grant_type: "refresh_token", refresh_token: narrowed.body.refresh_token, client_id: client.client_id, resource: "https://elsewhere.example.test" });
    expect(refreshWide.body.error).toBe("invalid_target");
  });

  test("a reused code is refused and revokes the tokens issued from it", async () => {
    const client = await publicClient();
    const { code, verifier } = await login(client.client_id);
    const form = { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: client.client_id };
    const first = await tokenRequest(gw, form);
    expect(first.status).toBe(200);
    const again = await tokenRequest(gw, form);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe("invalid_grant");
    await expectRevokedAtEdge(first.body.access_token);
    const refresh = await tokenRequest(gw, { grant_type: "refresh_token", refresh_token: first.body.refresh_token, client_id: client.client_id });
    expect(refresh.body.error).toBe("invalid_grant");
  });
});

describe("confidential client", () => {
  test("client_secret_basic: flow, introspection, revocation seen by the edge within 1 s", async () => {
    const client = await register(gw, { client_name: "server app", redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_basic", grant_types: ["authorization_code", "refresh_token"] });
    expect(client.client_secret).toBeTruthy();
    const basic: [string, string] = [client.client_id, client.client_secret];
    const { code, verifier } = await login(client.client_id);
    const issued = await tokenRequest(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { basic });
    expect(issued.status).toBe(200);

    const active = (await (await formPost(gw, "/introspect", { token: issued.body.access_token }, basic)).json()) as any;
    expect(active.active).toBe(true);
    expect(active.client_id).toBe(client.client_id);
    expect(active.sub).toBe("github-4242");
    expect(active.username).toBe("alice");
    const refreshInfo = (await (await formPost(gw, "/introspect", { token: issued.body.refresh_token }, basic)).json()) as any;
    expect(refreshInfo.active).toBe(true);
    expect(refreshInfo.token_type).toBe("refresh_token");

    const verified = await edgeRequest(gw, AUTH_HOST, "/verify", { headers: { authorization: `Bearer ${issued.body.access_token}` } });
    expect(verified.status).toBe(200);
    expect(verified.headers.get("x-auth-user-name")).toBe("alice");

    const revoked = await formPost(gw, "/revoke", { token: issued.body.access_token, token_type_hint: "access_token" }, basic);
    expect(revoked.status).toBe(200);
    await expectRevokedAtEdge(issued.body.access_token);
    const inactive = (await (await formPost(gw, "/introspect", { token: issued.body.access_token }, basic)).json()) as any;
    expect(inactive).toEqual({ active: false });

    // Revoking the refresh token ends the grant.
    expect((await formPost(gw, "/revoke", { token: issued.body.refresh_token }, basic)).status).toBe(200);
    const refresh = await tokenRequest(gw, { grant_type: "refresh_token", refresh_token: issued.body.refresh_token }, { basic });
    expect(refresh.body.error).toBe("invalid_grant");
  });

  test("wrong client authentication is invalid_client (401, Basic challenge)", async () => {
    const client = await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_basic" });
    const { code, verifier } = await login(client.client_id);
    const wrong = await tokenRequest(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { basic: [client.client_id, "not-the-secret"] });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe("invalid_client");
    expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic /);
    // Without any authentication a confidential client is not served either.
    const none = await tokenRequest(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: client.client_id });
    expect(none.status).toBe(401);
    expect(none.body.error).toBe("invalid_client");
    // Public clients cannot introspect.
    const pub = await publicClient();
    const introspect = await formPost(gw, "/introspect", { token: "x", client_id: pub.client_id });
    expect(introspect.status).toBe(401);
  });
});

describe("rejections at /authorize", () => {
  let clientId: string;
  beforeAll(async () => {
    clientId = (await publicClient()).client_id;
  });

  const base = () => ({ client_id: clientId, redirect_uri: REDIRECT, code_challenge: pkcePair().challenge, code_challenge_method: "S256", state: "s1", resource: [RESOURCE] });

  async function errorRedirect(params: Record<string, unknown>) {
    const res = await edgeRequest(gw, AUTH_HOST, authorizePath(params as any));
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(location.origin + location.pathname).toBe(REDIRECT);
    expect(location.searchParams.get("state")).toBe("s1");
    expect(location.searchParams.get("iss")).toBe(ISSUER);
    return location.searchParams.get("error");
  }

  test("missing PKCE, plain PKCE, malformed challenge → invalid_request at the redirect URI", async () => {
    expect(await errorRedirect({ ...base(), code_challenge: undefined, code_challenge_method: undefined })).toBe("invalid_request");
    expect(await errorRedirect({ ...base(), code_challenge_method: "plain" })).toBe("invalid_request");
    expect(await errorRedirect({ ...base(), code_challenge_method: undefined })).toBe("invalid_request");
    expect(await errorRedirect({ ...base(), code_challenge: "short" })).toBe("invalid_request");
  });

  test("other response types, unknown scopes, bad and unserved resources", async () => {
    expect(await errorRedirect({ ...base(), response_type: "token" })).toBe("unsupported_response_type");
    expect(await errorRedirect({ ...base(), scope: "mcp:read root" })).toBe("invalid_scope");
    expect(await errorRedirect({ ...base(), resource: ["https://mcp.example.test/#frag"] })).toBe("invalid_target");
    expect(await errorRedirect({ ...base(), resource: ["not a uri"] })).toBe("invalid_target");
    // Strict validation: only hosts this gateway serves.
    expect(await errorRedirect({ ...base(), resource: ["https://unknown.example.org"] })).toBe("invalid_target");
    const six = ["a", "b", "c", "d", "e", "f"].map((p) => `${RESOURCE}/${p}`);
    expect(await errorRedirect({ ...base(), resource: six })).toBe("invalid_target");
  });

  test("unknown client and a redirect_uri mismatch are shown on a page, never redirected", async () => {
    for (const params of [
      { ...base(), client_id: "client_does_not_exist" },
      { ...base(), redirect_uri: "https://attacker.example/steal" },
      { ...base(), redirect_uri: "http://127.0.0.1:7777/other-path" },
    ]) {
      const res = await edgeRequest(gw, AUTH_HOST, authorizePath(params));
      expect(res.status).toBe(400);
      expect(res.headers.get("location")).toBeNull();
      expect(res.headers.get("content-type")).toContain("text/html");
    }
  });

  test("a loopback redirect URI matches on any port", async () => {
    const res = await edgeRequest(gw, AUTH_HOST, authorizePath({ ...base(), redirect_uri: "http://127.0.0.1:51234/callback" }));
    expect(res.status).toBe(302);
    expect(res.headers.get("location")!.startsWith(github.oauthBaseUrl)).toBe(true);
  });
});

describe("rejections at /token", () => {
  test("wrong verifier, redirect_uri mismatch, expired or unknown code, another client's code", async () => {
    const client = await publicClient();
    const other = await publicClient();
    const attempt = async (change: Record<string, string>) => {
      const { code, verifier } = await login(client.client_id);
      return tokenRequest(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: client.client_id, ...change });
    };
    expect((await attempt({ code_verifier: pkcePair().verifier })).body.error).toBe("invalid_grant");
    expect((await attempt({ redirect_uri: "http://127.0.0.1:7777/elsewhere" })).body.error).toBe("invalid_grant");
    expect((await attempt({ code: "no-such-code-aaaaaaaaaaaaaaaaaaaaaaaaaaa" })).body.error).toBe("invalid_grant");
    expect((await attempt({ client_id: other.client_id })).body.error).toBe("invalid_grant");
    const missing = await attempt({ code_verifier: "" });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe("invalid_request");
    expect((await tokenRequest(gw, { grant_type: "password", username: "a", password: "b", client_id: client.client_id })).body.error).toBe("unsupported_grant_type");
    expect((await tokenRequest(gw, { grant_type: "authorization_code", code: "x", code_verifier: "y", client_id: "client_unknown" })).body.error).toBe("invalid_client");
  });

  test("an expired code is invalid_grant", async () => {
    const client = await publicClient();
    const { code, verifier } = await login(client.client_id);
    const keys = await redis.client.keys("oauth:code:*");
    expect(keys.length).toBeGreaterThan(0);
    // Expire it as its 60 s TTL would.
    for (const key of keys) if ((await redis.client.ttl(key)) <= 60) await redis.client.pexpire(key, 1);
    await Bun.sleep(20);
    const res = await tokenRequest(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: client.client_id });
    expect(res.body.error).toBe("invalid_grant");
  });

  test("a form body over 64 KiB is refused unread, even chunked without a Content-Length", async () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === 200) return controller.close();
        controller.enqueue(new TextEncoder().encode(`x${sent}=${"a".repeat(1024)}&`));
      },
    });
    const res = await edgeRequest(gw, AUTH_HOST, "/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toBe("invalid_request");
  });

  test("a JSON body is refused: the token endpoint takes form parameters", async () => {
    const res = await edgeRequest(gw, AUTH_HOST, "/token", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toBe("invalid_request");
  });
});

describe("allowlist at callback", () => {
  test("a user not on OAUTH_ALLOWED_GITHUB_USERS gets a denial page and the client access_denied", async () => {
    github.setUser({ id: 999, login: "mallory", emails: [{ email: "m@example.test", primary: true, verified: true }] });
    try {
      const client = await publicClient();
      const pkce = pkcePair();
      const { final, response } = await followLogin(gw, authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", state: "deny-state", resource: [RESOURCE] }), AUTH_HOST, REDIRECT);
      expect(final).toBeNull();
      expect(response.status).toBe(403);
      const page = await response.text();
      expect(page).toContain("Access denied");
      expect(page).toContain("mallory");
      const back = new URL(/id="return" href="([^"]+)"/.exec(page)![1]!.replaceAll("&amp;", "&"));
      expect(back.origin + back.pathname).toBe(REDIRECT);
      expect(back.searchParams.get("error")).toBe("access_denied");
      expect(back.searchParams.get("state")).toBe("deny-state");
      expect(await redis.client.keys("oauth:code:*").then((k) => k.length)).toBeGreaterThanOrEqual(0);
    } finally {
      github.setUser({ id: 4242, login: "Alice", name: "Alice A.", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
    }
  });

  test("a proxy's auth_required_users decides for logins to that proxy's resource", async () => {
    const updated = await gw.api("PUT", "/api/v1/proxy/targets/other.example.test", { auth_required_users: ["bob"] });
    expect(updated.status).toBe(200);
    const client = await publicClient();
    const pkce = pkcePair();
    const { response } = await followLogin(gw, authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", resource: [OTHER_RESOURCE] }), AUTH_HOST, REDIRECT);
    expect(response.status).toBe(403);
    await gw.api("PUT", "/api/v1/proxy/targets/other.example.test", { auth_required_users: null });
  });

  test("the callback is accepted once, and only from the browser that started the sign-in", async () => {
    const client = await publicClient();
    const pkce = pkcePair();
    const first = await edgeRequest(gw, AUTH_HOST, authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", resource: [RESOURCE] }));
    const setCookie = first.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^portcullis_login_[A-Za-z0-9_-]{16}=[A-Za-z0-9_-]+; Path=\/callback; Max-Age=300; HttpOnly; SameSite=Lax$/);
    const cookie = setCookie.split(";")[0]!;
    const atGitHub = await fetch(first.headers.get("location")!, { redirect: "manual" });
    const callback = new URL(atGitHub.headers.get("location")!);
    const path = callback.pathname + callback.search;

    // A victim lured to the provider's link has no binding cookie: refused, nothing issued.
    const otherBrowser = await edgeRequest(gw, callback.host, path, { headers: { cookie: `${cookie.split("=")[0]}=forged-value` } });
    expect(otherBrowser.status).toBe(400);
    expect(await otherBrowser.text()).toContain("started in another browser");

    // That attempt used the login up; the real browser must start again too.
    const again = await edgeRequest(gw, callback.host, path, { headers: { cookie } });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain("expired or was already completed");

    // A fresh sign-in completes (to the consent page, this client being new), clears its cookie, and cannot be replayed.
    const second = await edgeRequest(gw, AUTH_HOST, authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", resource: [RESOURCE] }));
    const cookie2 = second.headers.get("set-cookie")!.split(";")[0]!;
    const callback2 = new URL((await fetch(second.headers.get("location")!, { redirect: "manual" })).headers.get("location")!);
    const ok = await edgeRequest(gw, callback2.host, callback2.pathname + callback2.search, { headers: { cookie: cookie2 } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('id="approve"');
    expect(ok.headers.getSetCookie().find((c) => c.startsWith(cookie2.split("=")[0]!))).toContain("Max-Age=0");
    const replay = await edgeRequest(gw, callback2.host, callback2.pathname + callback2.search, { headers: { cookie: cookie2 } });
    expect(replay.status).toBe(400);
  });
});

describe("OAuth paths on a proxy host", () => {
  test("routes to the auth hostname make a proxy host serve the OAuth endpoints", async () => {
    const before = await edgeRequest(gw, "mcp.example.test", "/.well-known/oauth-authorization-server");
    expect(((await before.json()) as any).backend).toBe("mcp");
    const route = await gw.api("POST", "/api/v1/routes", { path_pattern: "/.well-known/oauth-authorization-server", target_type: "hostname", target_value: AUTH_HOST, priority: 95 });
    expect(route.status).toBe(201);
    await Bun.sleep(300);
    const after = await edgeRequest(gw, "mcp.example.test", "/.well-known/oauth-authorization-server");
    expect(after.status).toBe(200);
    expect(((await after.json()) as any).issuer).toBe(ISSUER);
    // A proxy's own authorization server metadata is what that host serves once it overrides the defaults.
    const override = await gw.api("POST", "/api/v1/proxy/targets/mcp.example.test/oauth-server", {
      oauth_server_issuer: "https://login.mcp.example.test",
      oauth_server_scopes: ["mcp:read"],
      oauth_server_override_defaults: true,
    });
    expect(override.status).toBe(200);
    const custom = (await (await edgeRequest(gw, "mcp.example.test", "/.well-known/oauth-authorization-server")).json()) as any;
    expect(custom.issuer).toBe("https://login.mcp.example.test");
    expect(custom.token_endpoint).toBe("https://login.mcp.example.test/token");
    expect(custom.scopes_supported).toEqual(["mcp:read"]);
    expect(((await (await edgeRequest(gw, AUTH_HOST, "/.well-known/oauth-authorization-server")).json()) as any).issuer).toBe(ISSUER);
    await gw.api("DELETE", "/api/v1/proxy/targets/mcp.example.test/oauth-server");
    await gw.api("DELETE", `/api/v1/routes/${route.json.route_id}`);
  });
});

/** The edge's /verify refuses the token within a second of its revocation. */
async function expectRevokedAtEdge(accessToken: string) {
  const deadline = Date.now() + 1000;
  let status = 0;
  while (Date.now() < deadline) {
    status = (await edgeRequest(gw, AUTH_HOST, "/verify", { headers: { authorization: `Bearer ${accessToken}` } })).status;
    if (status === 401) return;
    await Bun.sleep(25);
  }
  expect(status).toBe(401);
}
