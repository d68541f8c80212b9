/**
 * Logins through each upstream, end to end through a real gateway: a real
 * OIDC provider (npm oidc-provider) as OAUTH_UPSTREAM=oidc, and per-proxy
 * GitHub OAuth apps, whose secrets must appear in no API response and no log
 * line. Also: the auth hostname over HTTPS and CORS for browser clients.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeJwt } from "jose";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { AUTH_HOST, authorizeThroughLogin, edgeRequest, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { startOidcProvider, type OidcTestProvider } from "../helpers/oidc-provider";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const REDIRECT = "http://127.0.0.1:7777/callback";
const RESOURCE = "https://mcp.example.test";

let redis: TestRedis;
let backend: ReturnType<typeof namedBackend>;

beforeAll(async () => {
  redis = await startTestRedis();
  backend = namedBackend("mcp");
});
afterAll(async () => {
  backend?.stop(true);
  await redis?.stop();
});

async function loginAndExchange(gw: TestGateway, options: { proxyHostname?: string } = {}) {
  const client = await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] });
  const pkce = pkcePair();
  const query = await authorizeThroughLogin(gw, {
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    code_challenge: pkce.challenge,
    code_challenge_method: "S256",
    state: "s",
    resource: [RESOURCE],
    proxy_hostname: options.proxyHostname,
  });
  expect(query.get("error")).toBeNull();
  return tokenRequest(gw, { grant_type: "authorization_code", code: query.get("code")!, redirect_uri: REDIRECT, code_verifier: pkce.verifier, client_id: client.client_id });
}

describe("OIDC upstream", () => {
  let oidc: OidcTestProvider;
  let gw: TestGateway;
  beforeAll(async () => {
    oidc = await startOidcProvider({ clientId: "portcullis", clientSecret: "oidc-secret", redirectUris: [`http://${AUTH_HOST}/callback`] });
    oidc.setAccount("u-17", { preferred_username: "Carol", email: "carol@example.test", email_verified: true, name: "Carol C." });
    gw = await startTestGateway(redis, {
      BASE_DOMAIN: "example.test",
      OAUTH_UPSTREAM: "oidc",
      OIDC_ISSUER_URL: oidc.issuer,
      OIDC_CLIENT_ID: "portcullis",
      OIDC_CLIENT_SECRET: "oidc-secret",
      OAUTH_ALLOWED_GITHUB_USERS: "carol",
    });
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: "mcp.example.test", target_url: `http://127.0.0.1:${backend.port}`, enable_https: false })).status).toBe(201);
    await Bun.sleep(300);
  });
  afterAll(async () => {
    await gw?.stop();
    await oidc?.stop();
    await redis.client.flushdb();
  });

  test("a login at the OIDC provider yields a token for the OIDC subject", async () => {
    const issued = await loginAndExchange(gw);
    expect(issued.status).toBe(200);
    const claims = decodeJwt(issued.body.access_token);
    expect(claims.sub).toBe("oidc-u-17");
    expect(claims.login).toBe("carol");
    expect(claims.email).toBe("carol@example.test");
    expect(claims.aud).toEqual([RESOURCE]);
  });

  test("the allowlist applies to OIDC users too", async () => {
    oidc.setAccount("u-18", { preferred_username: "dave", email: "dave@example.test", email_verified: true });
    const client = await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" });
    const pkce = pkcePair();
    const { followLogin, authorizePath } = await import("../helpers/oauth-client");
    const { response } = await followLogin(gw, authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", resource: [RESOURCE] }), AUTH_HOST, REDIRECT);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("dave");
  });
});

describe("per-proxy GitHub OAuth apps", () => {
  const PROXY_SECRET = "proxy-app-secret-must-never-show-0123456789";
  const DEFAULT_SECRET = "default-app-secret-must-never-show-987654";
  let github: GitHubTestServer;
  let gw: TestGateway;
  const logLines: string[] = [];
  beforeAll(async () => {
    github = startGitHubServer();
    github.addApp("default-app", DEFAULT_SECRET);
    github.addApp("proxy-app", PROXY_SECRET);
    github.setUser({ id: 7, login: "erin", emails: [{ email: "erin@example.test", primary: true, verified: true }] });
    gw = await startTestGateway(
      redis,
      {
        BASE_DOMAIN: "example.test",
        GITHUB_CLIENT_ID: "default-app",
        GITHUB_CLIENT_SECRET: DEFAULT_SECRET,
        GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
        GITHUB_API_BASE_URL: github.apiBaseUrl,
        OAUTH_ALLOWED_GITHUB_USERS: "*",
        MCP_RESOURCE_VALIDATION_STRICT: "false",
      },
      { logLines },
    );
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: "mcp.example.test", target_url: `http://127.0.0.1:${backend.port}`, enable_https: false })).status).toBe(201);
    await Bun.sleep(300);
  });
  afterAll(async () => {
    await gw?.stop();
    await github?.stop();
  });

  test("a proxy's own app is used for logins to that proxy, the default app elsewhere; no secret in any answer or log", async () => {
    const responses: string[] = [];
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await gw.api(method, path, body);
      responses.push(JSON.stringify(res.json));
      return res;
    };
    expect((await api("POST", "/api/v1/proxy/targets/mcp.example.test/github-oauth", { github_client_id: "proxy-app", github_client_secret: PROXY_SECRET })).status).toBe(200);
    await api("GET", "/api/v1/proxy/targets/mcp.example.test/github-oauth");
    await api("GET", "/api/v1/proxy/targets/github-oauth/configured");
    await api("GET", "/api/v1/proxy/targets/mcp.example.test");
    await api("GET", "/api/v1/proxy/targets");
    const stored = await redis.client.get("proxy:mcp.example.test");
    expect(stored).not.toContain(PROXY_SECRET);

    const viaProxy = await loginAndExchange(gw, { proxyHostname: "mcp.example.test" });
    expect(viaProxy.status).toBe(200);
    expect(github.exchanges.at(-1)).toMatchObject({ clientId: "proxy-app", succeeded: true });

    const viaDefault = await loginAndExchange(gw);
    expect(viaDefault.status).toBe(200);
    expect(github.exchanges.at(-1)).toMatchObject({ clientId: "default-app", succeeded: true });

    for (const body of responses) {
      expect(body).not.toContain(PROXY_SECRET);
      expect(body).not.toContain(DEFAULT_SECRET);
    }
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) {
      expect(line).not.toContain(PROXY_SECRET);
      expect(line).not.toContain(DEFAULT_SECRET);
    }
  });

  test("the auth hostname answers over HTTPS out of the box, with CORS for browser clients", async () => {
    const res = await fetch(`https://127.0.0.1:${gw.gateway.httpsPort}/.well-known/oauth-authorization-server`, {
      headers: { host: AUTH_HOST },
      tls: { rejectUnauthorized: false, serverName: AUTH_HOST },
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).issuer).toBe(`https://${AUTH_HOST}`);
    const preflight = await edgeRequest(gw, AUTH_HOST, "/register", { method: "OPTIONS", headers: { origin: "https://inspector.example", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    const registered = await edgeRequest(gw, AUTH_HOST, "/register", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" }) });
    expect(registered.status).toBe(201);
    expect(registered.headers.get("access-control-allow-origin")).toBe("*");
  });

  test("a login in progress expires with OAUTH_SESSION_TIMEOUT", async () => {
    const client = await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" });
    const res = await edgeRequest(gw, AUTH_HOST, `/authorize?response_type=code&client_id=${client.client_id}&redirect_uri=${encodeURIComponent(REDIRECT)}&code_challenge=${pkcePair().challenge}&code_challenge_method=S256`);
    expect(res.status).toBe(302);
    const state = new URL(res.headers.get("location")!).searchParams.get("state")!;
    const ttl = await redis.client.ttl(`oauth:state:${state}`);
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);
  });
});
