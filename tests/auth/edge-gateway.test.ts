/**
 * Edge authentication in a running gateway: a proxy with auth on, tokens from
 * the gateway's own authorization server (admin test tokens), the protected
 * resource metadata, identity headers to the backend, revocation, and route
 * overrides — over real sockets, against a real backend; against one gateway
 * process and against two worker processes sharing the ports.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GATEWAY_WORKER_COUNTS, namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { edgeRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const HOST = "mcp.example.test";
const ISSUER = "https://auth.example.test";

describe.each(GATEWAY_WORKER_COUNTS)("PORTCULLIS_WORKERS=%i", (workers) => {
  let redis: TestRedis;
  let gw: TestGateway;
  let backend: ReturnType<typeof namedBackend>;

  beforeAll(async () => {
    redis = await startTestRedis();
    backend = namedBackend("mcp");
    // Loopback is a trusted proxy here, so /verify's caller may name the proxy in X-Forwarded-Host (as Traefik does).
    gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "alice,bob", TRUSTED_PROXY_CIDRS: "127.0.0.1/32" }, { workers });
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}`, enable_https: true })).status).toBe(201);
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/resource`, { resource_endpoint: "/mcp", resource_scopes: ["mcp:read", "mcp:write"], resource_override_backend: true })).status).toBe(200);
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, { auth_enabled: true, auth_mode: "forward", auth_excluded_paths: ["/health"] })).status).toBe(200);
    await Bun.sleep(300);
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    backend?.stop(true);
    await redis?.stop();
  });

  async function mint(body: Record<string, unknown>): Promise<string> {
    const res = await gw.api("POST", "/api/v1/oauth/test-tokens", body);
    expect(res.status).toBe(201);
    return res.json.access_token;
  }

  /** Over HTTPS, as clients reach a protected resource (the default self-signed certificate). */
  const httpsRequest = (host: string, path: string, headers: Record<string, string> = {}) =>
    fetch(`https://127.0.0.1:${gw.gateway.httpsPort}${path}`, { headers: { ...headers, host }, redirect: "manual", tls: { rejectUnauthorized: false } } as RequestInit);
  const call = (path: string, headers: Record<string, string> = {}) => httpsRequest(HOST, path, headers);

  describe("forward mode", () => {
    test("no token: 401 pointing at the protected resource metadata, without an error parameter", async () => {
      const res = await call("/mcp");
      expect(res.status).toBe(401);
      const metadata = `https://${HOST}/.well-known/oauth-protected-resource/mcp`;
      expect(res.headers.get("www-authenticate")).toBe(
        `Bearer realm="${HOST}", resource_metadata="${metadata}", as_uri="${ISSUER}/.well-known/oauth-authorization-server", resource_uri="${metadata}", scope="mcp:read mcp:write"`,
      );
      expect(res.headers.get("access-control-expose-headers")).toBe("WWW-Authenticate");
      // The challenge's URL answers 200 with no redirect, without credentials.
      const document = await call("/.well-known/oauth-protected-resource/mcp");
      expect(document.status).toBe(200);
    });

    test("the metadata document names the resource exactly as clients connect and the issuer byte for byte", async () => {
      for (const path of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
        const res = await call(path);
        expect(res.status).toBe(200);
        const doc = (await res.json()) as Record<string, any>;
        expect(doc.resource).toBe(`https://${HOST}/mcp`);
        expect(doc.authorization_servers).toEqual([ISSUER]);
        expect(doc.scopes_supported).toEqual(["mcp:read", "mcp:write"]);
        expect(doc.bearer_methods_supported).toEqual(["header"]);
      }
      const other = await call("/.well-known/oauth-protected-resource/other");
      expect(other.status).toBe(404);
      expect(((await other.json()) as any).error).toBe("not_found");
      const issuer = ((await (await edgeRequest(gw, "auth.example.test", "/.well-known/oauth-authorization-server")).json()) as any).issuer;
      expect(issuer).toBe(ISSUER);
    });

    test("a valid token reaches the backend with identity headers; spoofed ones and the token are stripped", async () => {
      const token = await mint({ resource: `https://${HOST}/mcp`, username: "alice" });
      const res = await call("/mcp", { authorization: `Bearer ${token}`, "x-auth-user-name": "root", "x-auth-email": "root@evil" });
      expect(res.status).toBe(200);
      const seen = ((await res.json()) as any).headers;
      expect(seen["x-auth-user-name"]).toBe("alice");
      expect(seen["x-auth-user-id"]).toBe("admin-alice");
      expect(seen["x-auth-email"]).toBeUndefined();
      expect(seen.authorization).toBeUndefined();
    });

    test("wrong audience is invalid_token; a user off the allowlist is 403; excluded paths pass", async () => {
      const other = await mint({ resource: "https://auth.example.test", username: "alice" });
      const wrongAud = await call("/mcp", { authorization: `Bearer ${other}` });
      expect(wrongAud.status).toBe(401);
      expect(wrongAud.headers.get("www-authenticate")).toContain('error="invalid_token"');
      const mallory = await mint({ resource: `https://${HOST}/mcp`, username: "mallory" });
      expect((await call("/mcp", { authorization: `Bearer ${mallory}` })).status).toBe(403);
      expect((await call("/health")).status).toBe(200);
      // A token in the query string is not a credential.
      const token = await mint({ resource: `https://${HOST}/mcp`, username: "alice" });
      expect((await call(`/mcp?access_token=${token}`)).status).toBe(401);
    });

    test("a CORS preflight reaches the backend without credentials", async () => {
      const res = await fetch(`https://127.0.0.1:${gw.gateway.httpsPort}/mcp`, {
        method: "OPTIONS",
        headers: { host: HOST, origin: "https://inspector.example", "access-control-request-method": "POST" },
        tls: { rejectUnauthorized: false },
      } as RequestInit);
      expect(res.status).toBe(200);
      expect(((await res.json()) as any).backend).toBe("mcp");
      const plainOptions = await fetch(`https://127.0.0.1:${gw.gateway.httpsPort}/mcp`, { method: "OPTIONS", headers: { host: HOST }, tls: { rejectUnauthorized: false } } as RequestInit);
      expect(plainOptions.status).toBe(401);
    });

    test("a revoked token is refused within a second", async () => {
      const minted = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource: `https://${HOST}/mcp`, username: "bob" });
      const token = minted.json.access_token;
      expect((await call("/mcp", { authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await gw.api("DELETE", `/api/v1/oauth/tokens/${minted.json.jti}`)).status).toBe(200);
      const deadline = Date.now() + 1000;
      let status = 200;
      while (Date.now() < deadline && status !== 401) {
        status = (await call("/mcp", { authorization: `Bearer ${token}` })).status;
        if (status !== 401) await Bun.sleep(20);
      }
      expect(status).toBe(401);
      // Every worker heard of it: new connections, whichever worker takes them, refuse it too.
      for (let i = 0; i < 8; i++) {
        const fresh = await fetch(`https://127.0.0.1:${gw.gateway.httpsPort}/mcp`, {
          headers: { host: HOST, authorization: `Bearer ${token}` },
          keepalive: false,
          tls: { rejectUnauthorized: false },
        } as RequestInit);
        expect(fresh.status).toBe(401);
      }
    });
  });

  describe("route overrides", () => {
    test("auth_type none makes a path public; auth_type oauth protects a path of a proxy without auth", async () => {
      const publicRoute = await gw.api("POST", "/api/v1/routes", {
        path_pattern: "/public",
        target_type: "url",
        target_value: `http://127.0.0.1:${backend.port}`,
        priority: 90,
        override_proxy_auth: true,
        auth_config: { auth_type: "none" },
      });
      expect(publicRoute.status).toBe(201);
      expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: "open.example.test", target_url: `http://127.0.0.1:${backend.port}`, enable_https: true })).status).toBe(201);
      const privateRoute = await gw.api("POST", "/api/v1/routes", {
        path_pattern: "/private",
        target_type: "url",
        target_value: `http://127.0.0.1:${backend.port}`,
        priority: 90,
        scope: "proxy",
        proxy_hostnames: ["open.example.test"],
        override_proxy_auth: true,
        auth_config: { auth_type: "oauth" },
      });
      expect(privateRoute.status).toBe(201);
      await Bun.sleep(300);
      expect((await call("/public")).status).toBe(200);
      expect((await call("/mcp")).status).toBe(401);
      expect((await httpsRequest("open.example.test", "/private")).status).toBe(401);
      expect((await httpsRequest("open.example.test", "/elsewhere")).status).toBe(200);
    });
  });

  describe("identity headers with auth off", () => {
    test("a proxy without auth still drops client-sent identity headers, under X-Auth- and under its own prefix", async () => {
      const host = "plain.example.test";
      expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: host, target_url: `http://127.0.0.1:${backend.port}`, enable_https: true })).status).toBe(201);
      expect((await gw.api("POST", `/api/v1/proxy/targets/${host}/auth`, { auth_enabled: false, auth_header_prefix: "X-Ident-" })).status).toBe(200);
      await Bun.sleep(300);
      const res = await httpsRequest(host, "/anything", { "x-ident-user-name": "root", "x-auth-user-name": "root", "x-other": "kept" });
      expect(res.status).toBe(200);
      const seen = ((await res.json()) as any).headers;
      expect(seen["x-ident-user-name"]).toBeUndefined();
      expect(seen["x-auth-user-name"]).toBeUndefined();
      expect(seen["x-other"]).toBe("kept");
    });
  });

  describe("ForwardAuth (/verify)", () => {
    test("answers from this node's memory with the named proxy's allowlist", async () => {
      const token = await mint({ resource: `https://${HOST}/mcp`, username: "alice" });
      const verify = (forwardedHost?: string) =>
        edgeRequest(gw, "auth.example.test", "/verify", { headers: { authorization: `Bearer ${token}`, ...(forwardedHost ? { "x-forwarded-host": forwardedHost } : {}) } });
      const ok = await verify(HOST);
      expect(ok.status).toBe(200);
      expect(ok.headers.get("x-auth-user-name")).toBe("alice");
      expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, { auth_required_users: ["bob"] })).status).toBe(200);
      const deadline = Date.now() + 1000;
      let status = 200;
      while (Date.now() < deadline && status !== 403) {
        status = (await verify(HOST)).status;
        if (status !== 403) await Bun.sleep(20);
      }
      expect(status).toBe(403);
      // Without naming a proxy, the global allowlist decides.
      expect((await verify()).status).toBe(200);
    });
  });
});
