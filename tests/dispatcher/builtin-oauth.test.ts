/**
 * The authorization server on a protected resource's own hostname, with no
 * setup step (clients of MCP 2025-03-26 look for it at the MCP server's
 * origin), and the CORS preflights the gateway answers itself for what it
 * serves. The table is pure; the rest runs a gateway in this process, a local
 * GitHub-speaking sign-in server and a backend that records what reaches it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isBuiltInOAuthRequest } from "../../src/dispatcher/builtin-oauth";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { gitHubSignInSettings, startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { AUTH_HOST, authorizePath, followLogin, pkcePair, tokenRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const MCP_HOST = "mcp.example.test";
const PLAIN_HOST = "plain.example.test";
const ISSUER = `https://${AUTH_HOST}`;
const RESOURCE = `https://${MCP_HOST}/mcp`;
const REDIRECT = "http://127.0.0.1:7777/callback";

describe("isBuiltInOAuthRequest", () => {
  test("the endpoints with the methods the authorization server answers, and preflights for them", () => {
    const yes: [string, string][] = [
      ["GET", "/.well-known/oauth-authorization-server"],
      ["GET", "/.well-known/openid-configuration"],
      ["GET", "/jwks"],
      ["GET", "/jwks/"],
      ["POST", "/token"],
      ["POST", "/revoke"],
      ["POST", "/introspect"],
      ["POST", "/register"],
      ["POST", "/register/"],
      ["GET", "/register/abc"],
      ["PUT", "/register/abc"],
      ["DELETE", "/register/abc/"],
    ];
    for (const [method, path] of yes) expect({ method, path, served: isBuiltInOAuthRequest(method, path, false) }).toEqual({ method, path, served: true });
    for (const [, path] of yes) expect({ path, preflight: isBuiltInOAuthRequest("OPTIONS", path, true) }).toEqual({ path, preflight: true });
  });

  test("everything else stays the backend's: the sign-in pages, other methods, plain OPTIONS, look-alike paths, /verify", () => {
    const no: [string, string][] = [
      ["GET", "/authorize"],
      ["GET", "/callback"],
      ["POST", "/callback"],
      ["GET", "/register"],
      ["GET", "/token"],
      ["POST", "/authorize"],
      ["POST", "/.well-known/oauth-authorization-server"],
      ["GET", "/.well-known/oauth-authorization-server/tenant"],
      ["POST", "/tokens"],
      ["POST", "/token/x"],
      ["POST", "/api/token"],
      ["GET", "/register/a/b"],
      ["GET", "/verify"],
      ["POST", "/mcp"],
      ["GET", "/"],
    ];
    for (const [method, path] of no) expect({ method, path, served: isBuiltInOAuthRequest(method, path, false) }).toEqual({ method, path, served: false });
    expect(isBuiltInOAuthRequest("OPTIONS", "/token", false)).toBe(false);
    expect(isBuiltInOAuthRequest("OPTIONS", "/mcp", true)).toBe(false);
  });
});

let redis: TestRedis;
let github: GitHubTestServer;
let gw: TestGateway;
/** "METHOD host path" of every request that reached the backend. */
const reached: string[] = [];
const backend = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    const url = new URL(request.url);
    const line = `${request.method} ${request.headers.get("x-forwarded-host")} ${url.pathname}`;
    // With resource_override_backend off (the default), the MCP host's metadata GETs ask the backend first, by design.
    if (!line.startsWith(`GET ${MCP_HOST} /.well-known/oauth-protected-resource`)) reached.push(line);
    // Like most MCP servers: no OAuth documents of its own.
    if (url.pathname.startsWith("/.well-known/")) return Response.json({ error: "not_found" }, { status: 404 });
    return Response.json({ backend: true, path: url.pathname });
  },
});

/** Over HTTPS, as MCP clients reach the resource (the default self-signed certificate). */
const https = (host: string, path: string, init: RequestInit = {}) =>
  fetch(`https://127.0.0.1:${gw.gateway.httpsPort}${path}`, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), host },
    redirect: "manual",
    tls: { rejectUnauthorized: false },
  } as RequestInit);
const preflight = (host: string, path: string, method = "GET") =>
  https(host, path, { method: "OPTIONS", headers: { origin: "https://inspector.example", "access-control-request-method": method, "access-control-request-headers": "mcp-protocol-version" } });
const registerAt = (host: string) =>
  https(host, "/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: "2025-03-26 client", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" }),
  });

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.setUser({ id: 4242, login: "alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    ...gitHubSignInSettings(github),
    OAUTH_ALLOWED_GITHUB_USERS: "alice",
  });
  const target_url = `http://127.0.0.1:${backend.port}`;
  for (const hostname of [MCP_HOST, PLAIN_HOST]) expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname, target_url })).status).toBe(201);
  // The MCP server: the docs' steps, resource metadata and auth on; nothing else (no routes-setup).
  expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP_HOST}/resource`, { resource_endpoint: "/mcp", resource_scopes: ["mcp:read"] })).status).toBe(200);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP_HOST}/auth`, { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  for (let i = 0; i < 100 && (await https(MCP_HOST, "/mcp")).status !== 401; i++) await Bun.sleep(20);
  reached.length = 0;
});

afterAll(async () => {
  await gw?.stop();
  backend.stop(true);
  await github?.stop();
  await redis?.stop();
});

describe("the authorization server on the MCP server's origin, without setup", () => {
  test("2025-03-26 discovery: the metadata at the origin, without a token, names the issuer the protected resource names", async () => {
    const res = await https(MCP_HOST, "/.well-known/oauth-authorization-server", { headers: { "mcp-protocol-version": "2025-03-26" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const metadata = (await res.json()) as Record<string, any>;
    const resource = (await (await https(MCP_HOST, "/.well-known/oauth-protected-resource/mcp")).json()) as Record<string, any>;
    const atAuthHost = (await (await https(AUTH_HOST, "/.well-known/oauth-authorization-server")).json()) as Record<string, any>;
    expect(metadata.issuer).toBe(ISSUER);
    expect(resource.authorization_servers).toEqual([metadata.issuer]);
    expect(metadata).toEqual(atAuthHost);
    expect(metadata).toMatchObject({ registration_endpoint: `${ISSUER}/register`, code_challenge_methods_supported: ["S256"] });
    const openid = await https(MCP_HOST, "/.well-known/openid-configuration");
    expect(openid.status).toBe(200);
    expect(((await openid.json()) as Record<string, any>).issuer).toBe(ISSUER);
    const jwks = (await (await https(MCP_HOST, "/jwks")).json()) as { keys: unknown[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(reached).toEqual([]);
  });

  test("2025-03-26 client: registers and gets its token at the MCP origin, signs in where the metadata says; the token's iss is the metadata's issuer and it opens the MCP endpoint", async () => {
    const registered = await registerAt(MCP_HOST);
    expect(registered.status).toBe(201);
    const client = (await registered.json()) as { client_id: string };
    const metadata = (await (await https(MCP_HOST, "/.well-known/oauth-authorization-server")).json()) as { authorization_endpoint: string };
    const signInAt = new URL(metadata.authorization_endpoint);
    expect(signInAt.host).toBe(AUTH_HOST);
    const pkce = pkcePair();
    const path = authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", state: "legacy", resource: [RESOURCE] });
    const { final, response } = await followLogin(gw, path, signInAt.host, REDIRECT);
    expect(final, `sign-in stopped at ${response.status}`).not.toBeNull();
    expect(final!.searchParams.get("iss")).toBe(ISSUER);
    const token = await tokenRequest(
      gw,
      { grant_type: "authorization_code", code: final!.searchParams.get("code")!, code_verifier: pkce.verifier, redirect_uri: REDIRECT, client_id: client.client_id },
      { host: MCP_HOST },
    );
    expect(token.status).toBe(200);
    const claims = JSON.parse(Buffer.from(token.body.access_token.split(".")[1], "base64url").toString());
    expect(claims).toMatchObject({ iss: ISSUER, aud: [RESOURCE], login: "alice" });
    expect(reached).toEqual([]);
    const call = await https(MCP_HOST, "/mcp", { method: "POST", headers: { authorization: `Bearer ${token.body.access_token}` }, body: "{}" });
    expect(call.status).toBe(200);
    expect(reached).toEqual([`POST ${MCP_HOST} /mcp`]);
    reached.length = 0;
  });

  test("a proxy that is its own issuer: the metadata at its origin says so, and so does its protected resource document", async () => {
    const own = `https://${MCP_HOST}`;
    expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP_HOST}/oauth-server`, { oauth_server_issuer: own, oauth_server_override_defaults: true })).status).toBe(200);
    try {
      let metadata: Record<string, any> = {};
      for (let i = 0; i < 100 && metadata.issuer !== own; i++) {
        await Bun.sleep(20);
        metadata = (await (await https(MCP_HOST, "/.well-known/oauth-authorization-server")).json()) as Record<string, any>;
      }
      expect(metadata).toMatchObject({ issuer: own, authorization_endpoint: `${own}/authorize`, token_endpoint: `${own}/token`, registration_endpoint: `${own}/register` });
      let resource: Record<string, any> = {};
      for (let i = 0; i < 100 && resource.authorization_servers?.[0] !== own; i++) {
        await Bun.sleep(20);
        resource = (await (await https(MCP_HOST, "/.well-known/oauth-protected-resource/mcp")).json()) as Record<string, any>;
      }
      expect(resource.authorization_servers).toEqual([own]);
    } finally {
      expect((await gw.api("DELETE", `/api/v1/proxy/targets/${MCP_HOST}/oauth-server`)).status).toBe(200);
    }
  });

  test("only the server's methods are taken: GET /register is the backend's business (behind the proxy's auth), and so are the sign-in pages", async () => {
    const res = await https(MCP_HOST, "/register");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("resource_metadata=");
    for (const path of ["/verify", "/authorize?client_id=x", "/callback?state=x"]) expect({ path, status: (await https(MCP_HOST, path)).status }).toEqual({ path, status: 401 });
  });

  test("a proxy that is no protected resource keeps every path for its backend", async () => {
    expect((await registerAt(PLAIN_HOST)).status).toBe(200);
    expect((await https(PLAIN_HOST, "/.well-known/oauth-authorization-server")).status).toBe(404);
    expect(reached).toEqual([`POST ${PLAIN_HOST} /register`, `GET ${PLAIN_HOST} /.well-known/oauth-authorization-server`]);
    reached.length = 0;
  });

  test("an explicit route wins over the built-in, which is how a backend gets one of these paths back", async () => {
    const route = await gw.api("POST", "/api/v1/routes/", {
      path_pattern: "/register",
      target_type: "url",
      target_value: `http://127.0.0.1:${backend.port}`,
      priority: 50,
      scope: "proxy",
      proxy_hostnames: [MCP_HOST],
      // The backend's own sign-up form, public.
      override_proxy_auth: true,
      auth_config: { auth_type: "none" },
    });
    expect(route).toMatchObject({ status: 201 });
    try {
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await registerAt(MCP_HOST)).status;
        if (status !== 200) await Bun.sleep(20);
      }
      expect(status).toBe(200);
      expect(reached.at(-1)).toBe(`POST ${MCP_HOST} /register`);
    } finally {
      expect((await gw.api("DELETE", `/api/v1/routes/${route.json.route_id}`)).status).toBe(200);
    }
    let status = 0;
    for (let i = 0; i < 100 && status !== 201; i++) {
      status = (await registerAt(MCP_HOST)).status;
      if (status !== 201) await Bun.sleep(20);
    }
    expect(status).toBe(201);
    reached.length = 0;
  });
});

describe("CORS preflights for what the gateway serves itself", () => {
  const expectPublicPreflight = async (host: string, path: string, method = "GET") => {
    const res = await preflight(host, path, method);
    expect({ host, path, status: res.status }).toEqual({ host, path, status: 204 });
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toContain(method);
    expect(res.headers.get("access-control-allow-headers")).toBe("authorization, content-type, mcp-protocol-version");
    expect(res.headers.get("access-control-max-age")).toBe("86400");
  };

  test("on the MCP host: the protected resource metadata, the AS metadata, the JWKS, /register, /token — never the backend", async () => {
    await expectPublicPreflight(MCP_HOST, "/.well-known/oauth-protected-resource/mcp");
    await expectPublicPreflight(MCP_HOST, "/.well-known/oauth-protected-resource");
    await expectPublicPreflight(MCP_HOST, "/.well-known/oauth-authorization-server");
    await expectPublicPreflight(MCP_HOST, "/.well-known/openid-configuration");
    await expectPublicPreflight(MCP_HOST, "/jwks");
    await expectPublicPreflight(MCP_HOST, "/register", "POST");
    await expectPublicPreflight(MCP_HOST, "/token", "POST");
    expect(reached).toEqual([]);
  });

  test("on the auth host too", async () => {
    for (const path of ["/.well-known/oauth-authorization-server", "/jwks"]) await expectPublicPreflight(AUTH_HOST, path);
    for (const path of ["/register", "/token"]) await expectPublicPreflight(AUTH_HOST, path, "POST");
  });

  test("the metadata's preflight is answered even where the backend's own document may win; its GET still asks the backend first", async () => {
    expect((await gw.api("POST", `/api/v1/proxy/targets/${PLAIN_HOST}/resource`, { resource_endpoint: "/mcp" })).status).toBe(200);
    try {
      let status = 0;
      for (let i = 0; i < 100 && status !== 204; i++) {
        status = (await preflight(PLAIN_HOST, "/.well-known/oauth-protected-resource/mcp")).status;
        if (status !== 204) await Bun.sleep(20);
      }
      await expectPublicPreflight(PLAIN_HOST, "/.well-known/oauth-protected-resource/mcp");
      reached.length = 0;
      expect((await https(PLAIN_HOST, "/.well-known/oauth-protected-resource/mcp")).status).toBe(200);
      expect(reached).toEqual([`GET ${PLAIN_HOST} /.well-known/oauth-protected-resource/mcp`]);
      // Another resource's document there is the backend's, preflight included.
      reached.length = 0;
      expect((await preflight(PLAIN_HOST, "/.well-known/oauth-protected-resource/other")).status).toBe(404);
      expect(reached).toEqual([`OPTIONS ${PLAIN_HOST} /.well-known/oauth-protected-resource/other`]);
    } finally {
      expect((await gw.api("DELETE", `/api/v1/proxy/targets/${PLAIN_HOST}/resource`)).status).toBe(200);
      reached.length = 0;
    }
  });

  test("other preflights still go to the backend; a plain OPTIONS is no preflight and meets the proxy's auth", async () => {
    expect((await preflight(MCP_HOST, "/mcp", "POST")).status).toBe(200);
    expect(reached).toEqual([`OPTIONS ${MCP_HOST} /mcp`]);
    reached.length = 0;
    expect((await https(MCP_HOST, "/token", { method: "OPTIONS" })).status).toBe(401);
    expect(reached).toEqual([]);
  });
});
