/**
 * POST /api/v1/oauth/test-tokens: an access token the admin mints to try an
 * MCP server, verified the way a resource server would (jose against the
 * published JWKS), revocable through its session.
 */
import { describe, expect, test } from "bun:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { verifyAccessToken } from "../../src/auth/tokens/access-token";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();
const mint = (body: unknown, token?: string) => suite.api.call("POST", "/api/v1/oauth/test-tokens", { body, token });
const context = () => suite.api.authorizationServer.context;

describe("test tokens", () => {
  test("a token for one resource: RS256, verifies against the JWKS, aud is the resource", async () => {
    const res = await mint({ resource: "https://MCP.example.com/mcp/", scope: "mcp:read", username: "Tester" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.json).toMatchObject({
      token_type: "Bearer",
      expires_in: context().settings.accessTokenLifetimeSeconds,
      scope: "mcp:read",
      aud: ["https://mcp.example.com/mcp"],
      sub: "admin-tester",
    });

    const { payload, protectedHeader } = await jwtVerify(res.json.access_token, createLocalJWKSet(context().signingKeys.jwks()), {
      issuer: context().settings.issuer,
      audience: "https://mcp.example.com/mcp",
      typ: "at+jwt",
      algorithms: ["RS256"],
    });
    expect(protectedHeader.kid).toBe(context().signingKeys.current().kid);
    expect(payload).toMatchObject({
      sub: "admin-tester",
      client_id: "portcullis-admin",
      azp: "portcullis-admin",
      scope: "mcp:read",
      login: "tester",
      jti: res.json.jti,
      aud: ["https://mcp.example.com/mcp"],
    });
    expect(payload.exp! - payload.iat!).toBe(res.json.expires_in);
    // The gateway's own verification accepts it too.
    expect((await verifyAccessToken(context().signingKeys, res.json.access_token, { issuer: context().settings.issuer, audience: "https://mcp.example.com/mcp" })).sub).toBe("admin-tester");
  });

  test("any well-formed scope may be minted, for proxies with scopes of their own", async () => {
    const res = await mint({ resource: "https://a.example.com", scope: "files:read mcp:read files:read" });
    expect([res.status, res.json.scope]).toEqual([201, "files:read mcp:read"]);
  });

  test("several resources, defaults for scope, username and lifetime", async () => {
    const res = await mint({ resource: ["https://a.example.com", "https://b.example.com/mcp", "https://a.example.com/"] , lifetime_seconds: 120 });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ aud: ["https://a.example.com", "https://b.example.com/mcp"], scope: "mcp:read mcp:write", sub: "admin-admin", expires_in: 120 });
    const jwks = createLocalJWKSet(context().signingKeys.jwks());
    for (const audience of ["https://a.example.com", "https://b.example.com/mcp"]) {
      expect((await jwtVerify(res.json.access_token, jwks, { audience })).payload.sub).toBe("admin-admin");
    }
  });

  test("the token is recorded under its own session, which the admin can revoke", async () => {
    const res = await mint({ resource: "https://mcp.example.com" });
    const record = await context().tokens.getAccessToken(res.json.jti);
    expect(record).toMatchObject({ client_id: "portcullis-admin", sub: "admin-admin", grant_id: res.json.session_id });

    const sessions = await suite.api.call("GET", "/api/v1/oauth/sessions");
    expect(sessions.json).toEqual([
      expect.objectContaining({ session_id: res.json.session_id, client_id: "portcullis-admin", username: "admin", has_refresh_token: false, access_tokens: 1 }),
    ]);
    expect((await suite.api.call("GET", "/api/v1/oauth/clients/portcullis-admin/tokens")).json).toMatchObject({ registered: false, tokens: [{ jti: res.json.jti }] });

    expect((await suite.api.call("DELETE", `/api/v1/oauth/sessions/${res.json.session_id}`)).status).toBe(200);
    expect(await context().tokens.isRevoked(res.json.jti)).toBe(true);
  });

  describe("bad requests get a 4xx and mint nothing", () => {
    const cases: [string, unknown, RegExp][] = [
      ["no resource", { scope: "mcp:read" }, /resource/],
      ["empty resource list", { resource: [] }, /resource/],
      ["a resource that is not a URL", { resource: "mcp.example.com" }, /absolute URI/],
      ["a resource with a fragment", { resource: "https://mcp.example.com/#x" }, /fragment/],
      ["a resource with a query", { resource: "https://mcp.example.com/?a=1" }, /query/],
      ["plain http off loopback", { resource: "http://mcp.example.com" }, /https/],
      ["more resources than a token may carry", { resource: ["1", "2", "3", "4", "5", "6"].map((n) => `https://r${n}.example.com`) }, /at most 5/],
      ["a malformed scope", { resource: "https://mcp.example.com", scope: 'mcp:read "root"' }, /scope: .* contains a character a scope cannot/],
      ["an empty scope", { resource: "https://mcp.example.com", scope: "  " }, /at least one scope/],
      ["a bad username", { resource: "https://mcp.example.com", username: "../etc" }, /username/],
      ["a lifetime too short", { resource: "https://mcp.example.com", lifetime_seconds: 5 }, /lifetime_seconds/],
      ["a lifetime too long", { resource: "https://mcp.example.com", lifetime_seconds: 86_401 }, /lifetime_seconds/],
      ["an unknown field", { resource: "https://mcp.example.com", client_id: "someone" }, /client_id/],
    ];
    for (const [name, body, detail] of cases) {
      test(name, async () => {
        const before = await snapshot(suite.redis);
        const res = await mint(body);
        expect(res.status).toBe(422);
        expect(res.json.error).toBe("invalid_request");
        expect(res.json.detail).toMatch(detail);
        expect(await snapshot(suite.redis)).toEqual(before);
      });
    }
  });

  test("only the admin mints", async () => {
    const user = (await suite.api.call("POST", "/api/v1/tokens/", { body: { name: "eve" } })).json.token;
    expect((await mint({ resource: "https://mcp.example.com" }, user)).status).toBe(403);
    expect((await mint({ resource: "https://mcp.example.com" }, null as unknown as string)).status).toBe(401);
  });
});
