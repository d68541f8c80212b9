/**
 * /api/v1/resources: the protected resource registry (`resource:{uri}`), token
 * checks against a resource on a real authorization server, and registration
 * from proxies.
 */
import { describe, expect, test } from "bun:test";
import { signAccessToken } from "../../src/auth/tokens/access-token";
import { keys } from "../../src/storage/keys";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();
const URI = "https://mcp.example.com/mcp";
const at = (uri: string, rest = "") => `/api/v1/resources/${encodeURIComponent(uri)}${rest}`;
const newToken = async (name: string) => (await suite.api.call("POST", "/api/v1/tokens/", { body: { name } })).json.token as string;
const createProxy = (hostname: string, extra: Record<string, unknown> = {}, token?: string) =>
  suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname, target_url: "http://127.0.0.1:3000", ...extra }, token });

/** An access token as the authorization server issues them. */
const mint = async (aud: string[], lifetimeSeconds = 300) => {
  const context = suite.api.authorizationServer.context;
  return signAccessToken(
    context.signingKeys,
    { iss: context.settings.issuer, sub: "github-1", aud, client_id: "mcp_client", azp: "mcp_client", scope: "mcp:read", login: "alice" },
    lifetimeSeconds,
  );
};

describe("registry", () => {
  test("register, list (with or without slash), show, update, delete", async () => {
    const created = await suite.api.call("POST", "/api/v1/resources/", {
      body: { uri: "HTTPS://MCP.Example.com:443/mcp/", name: "Example MCP", scopes: ["mcp:read", "files:write", "mcp:read"], description: "tools" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      uri: URI,
      name: "Example MCP",
      proxy_target: null,
      scopes: ["mcp:read", "files:write"],
      metadata_url: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
      description: "tools",
      created_by: "admin",
    });
    expect(JSON.parse((await suite.redis.client.get(keys.resource(URI)))!)).toEqual(created.json);
    expect(await suite.redis.client.smembers(keys.resourceUris)).toEqual([URI]);

    for (const path of ["/api/v1/resources/", "/api/v1/resources"]) {
      const list = await suite.api.call("GET", path);
      expect([path, list.status, list.json]).toEqual([path, 200, [created.json]]);
    }
    expect((await suite.api.call("GET", at(URI))).json).toEqual(created.json);
    // Any spelling of the same URI finds it.
    expect((await suite.api.call("GET", at("https://mcp.example.com:443/mcp/"))).json.uri).toBe(URI);

    const updated = await suite.api.call("PUT", at(URI), { body: { name: "Renamed", scopes: [] } });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ uri: URI, name: "Renamed", scopes: [], description: "tools", metadata_url: created.json.metadata_url });
    expect(updated.json.updated_at >= created.json.updated_at).toBe(true);

    const deleted = await suite.api.call("DELETE", at(URI));
    expect([deleted.status, deleted.json]).toEqual([200, { deleted: URI }]);
    expect(await suite.redis.client.exists(keys.resource(URI))).toBe(0);
    expect(await suite.redis.client.smembers(keys.resourceUris)).toEqual([]);
    expect((await suite.api.call("GET", at(URI))).status).toBe(404);
    expect((await suite.api.call("DELETE", at(URI))).status).toBe(404);
  });

  test("defaults: the name is the host, the metadata URL the RFC 9728 one; a root resource has no path", async () => {
    const res = await suite.api.call("POST", "/api/v1/resources", { body: { uri: "https://api.example.com/" } });
    expect(res.json).toMatchObject({
      uri: "https://api.example.com",
      name: "api.example.com",
      scopes: [],
      metadata_url: "https://api.example.com/.well-known/oauth-protected-resource",
      description: "",
    });
  });

  test("a URI registered twice is a 409", async () => {
    await suite.api.call("POST", "/api/v1/resources/", { body: { uri: URI } });
    const before = await snapshot(suite.redis);
    const again = await suite.api.call("POST", "/api/v1/resources/", { body: { uri: "https://mcp.example.com/mcp/", name: "other" } });
    expect([again.status, again.json.error]).toEqual([409, "conflict"]);
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("proxy_target names a proxy the caller can see", async () => {
    await createProxy("mcp.example.com");
    const ok = await suite.api.call("POST", "/api/v1/resources/", { body: { uri: URI, proxy_target: "MCP.example.com" } });
    expect(ok.json.proxy_target).toBe("mcp.example.com");
    const bad = await suite.api.call("PUT", at(URI), { body: { proxy_target: "ghost.example.com" } });
    expect([bad.status, bad.json.detail]).toEqual([422, expect.stringMatching(/^proxy_target: no proxy "ghost.example.com"/)]);
  });

  test("PUT cannot change the uri; the same uri is accepted", async () => {
    await suite.api.call("POST", "/api/v1/resources/", { body: { uri: URI } });
    const other = await suite.api.call("PUT", at(URI), { body: { uri: "https://other.example.com" } });
    expect([other.status, other.json.detail]).toEqual([422, expect.stringMatching(/^uri: /)]);
    expect((await suite.api.call("PUT", at(URI), { body: { uri: URI + "/", name: "same" } })).json.name).toBe("same");
  });

  const bad: [string, unknown, RegExp][] = [
    ["no uri", { name: "x" }, /uri/],
    ["an http uri", { uri: "http://mcp.example.com" }, /^uri: .*https/],
    ["a uri with a query", { uri: "https://mcp.example.com/?a=1" }, /^uri: .*query/],
    ["a uri with a fragment", { uri: "https://mcp.example.com/#a" }, /^uri: .*fragment/],
    ["not a uri", { uri: "mcp.example.com" }, /^uri: /],
    ["a scope with a space", { uri: URI, scopes: ["files read"] }, /^scopes: scope "files read" contains a character a scope cannot/],
    ["a scope with a quote", { uri: URI, scopes: ['files"read'] }, /^scopes: scope .* contains a character/],
    ["a metadata URL over http", { uri: URI, metadata_url: "http://mcp.example.com/x" }, /^metadata_url: .*https/],
    ["a metadata URL that is none", { uri: URI, metadata_url: "nope" }, /^metadata_url: /],
    ["a bad proxy_target", { uri: URI, proxy_target: "http://x" }, /^proxy_target: /],
    ["an empty name", { uri: URI, name: "" }, /name/],
    ["an unknown field", { uri: URI, owner_token_hash: "sha256:x" }, /owner_token_hash/],
  ];
  for (const [name, body, detail] of bad) {
    test(`refused with 422: ${name}`, async () => {
      const before = await snapshot(suite.redis);
      const res = await suite.api.call("POST", "/api/v1/resources/", { body });
      expect([res.status, res.json.error]).toEqual([422, "invalid_request"]);
      expect(res.json.detail).toMatch(detail);
      expect(await snapshot(suite.redis)).toEqual(before);
    });
  }

  test("a malformed uri in the path is a 4xx, never a 500", async () => {
    for (const path of ["/api/v1/resources/%E0%A4%A", "/api/v1/resources/not-a-uri", "/api/v1/resources/auto-register"]) {
      const res = await suite.api.call("GET", path);
      expect([path, res.status]).toEqual([path, 422]);
    }
    expect((await suite.api.call("GET", at("https://unknown.example.com"))).status).toBe(404);
  });

  test("ownership: owners see and change their own, the admin everything; others get 404, no token 401", async () => {
    const alice = await newToken("alice");
    const bob = await newToken("bob");
    const mine = await suite.api.call("POST", "/api/v1/resources/", { token: alice, body: { uri: URI } });
    expect(mine.status).toBe(201);
    await suite.api.call("POST", "/api/v1/resources/", { body: { uri: "https://admin.example.com" } });
    expect((await suite.api.call("GET", "/api/v1/resources/", { token: alice })).json.map((r: { uri: string }) => r.uri)).toEqual([URI]);
    expect((await suite.api.call("GET", "/api/v1/resources/", { token: bob })).json).toEqual([]);
    expect((await suite.api.call("GET", "/api/v1/resources/")).json).toHaveLength(2);

    const before = await snapshot(suite.redis);
    for (const [method, path, body] of [
      ["GET", at(URI), undefined],
      ["PUT", at(URI), { name: "x" }],
      ["DELETE", at(URI), undefined],
      ["POST", at(URI, "/validate-token"), { token: "x" }],
    ] as const) {
      const res = await suite.api.call(method, path, { token: bob, body });
      expect([method, res.status]).toEqual([method, 404]);
      expect((await suite.api.call(method, path, { token: null, body })).status).toBe(401);
    }
    expect((await suite.api.call("GET", "/api/v1/resources/", { token: null })).status).toBe(401);
    expect(await snapshot(suite.redis)).toEqual(before);

    expect((await suite.api.call("PUT", at(URI), { token: alice, body: { name: "Alice's" } })).json.name).toBe("Alice's");
    expect((await suite.api.call("DELETE", at(URI), { token: alice })).status).toBe(200);
  });

  test("a resource on another token's proxy cannot be registered; one on your own proxy can", async () => {
    const alice = await newToken("alice");
    const bob = await newToken("bob");
    await createProxy("mcp.example.com", {}, alice);
    const refused = await suite.api.call("POST", "/api/v1/resources/", { token: bob, body: { uri: URI } });
    expect([refused.status, refused.json.error]).toEqual([403, "forbidden"]);
    expect((await suite.api.call("POST", "/api/v1/resources/", { token: alice, body: { uri: URI, proxy_target: "mcp.example.com" } })).status).toBe(201);
  });

  test("deleting a token deletes its resources", async () => {
    const alice = await newToken("alice");
    await suite.api.call("POST", "/api/v1/resources/", { token: alice, body: { uri: URI } });
    expect((await suite.api.call("DELETE", "/api/v1/tokens/alice")).status).toBe(200);
    expect(await suite.redis.client.exists(keys.resource(URI))).toBe(0);
    expect(await suite.redis.client.smembers(keys.resourceUris)).toEqual([]);
  });
});

describe("validate-token", () => {
  const validate = (uri: string, token: string) => suite.api.call("POST", at(uri, "/validate-token"), { body: { token } });

  test("a token for the resource is valid, with its claims", async () => {
    await suite.api.call("POST", "/api/v1/resources/", { body: { uri: URI } });
    const { token, claims } = await mint([URI, "https://other.example.com"]);
    const res = await validate(URI, token);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ valid: true, resource: URI, claims });
    expect(JSON.stringify(res.json)).not.toContain(token);
  });

  test("refused: another audience, expired, garbage, a signature by another key", async () => {
    await suite.api.call("POST", "/api/v1/resources/", { body: { uri: URI } });
    const other = await mint(["https://other.example.com"]);
    expect((await validate(URI, other.token)).json).toEqual({ valid: false, resource: URI, reason: "claim aud invalid" });
    const expired = await mint([URI], -120);
    expect((await validate(URI, expired.token)).json).toEqual({ valid: false, resource: URI, reason: "token expired" });
    expect((await validate(URI, "not-a-jwt")).json).toEqual({ valid: false, resource: URI, reason: "malformed token" });
    const good = await mint([URI]);
    const [header, payload, signature] = good.token.split(".");
    const tampered = `${header}.${payload}.${signature!.slice(0, -4)}AAAA`;
    const res = await validate(URI, tampered);
    expect(res.json.valid).toBe(false);
    expect(res.json.reason).toMatch(/signature|malformed/);
  });

  test("a revoked token is refused", async () => {
    await suite.api.call("POST", "/api/v1/resources/", { body: { uri: URI } });
    const minted = await suite.api.call("POST", "/api/v1/oauth/test-tokens", { body: { resource: URI } });
    expect(minted.status).toBe(201);
    expect((await validate(URI, minted.json.access_token)).json.valid).toBe(true);
    expect((await suite.api.call("DELETE", `/api/v1/oauth/tokens/${minted.json.jti}`)).status).toBe(200);
    expect((await validate(URI, minted.json.access_token)).json).toEqual({ valid: false, resource: URI, reason: "token revoked" });
  });

  test("an empty or missing token is a 422; an unknown resource 404", async () => {
    await suite.api.call("POST", "/api/v1/resources/", { body: { uri: URI } });
    expect((await suite.api.call("POST", at(URI, "/validate-token"), { body: {} })).status).toBe(422);
    expect((await suite.api.call("POST", at(URI, "/validate-token"), { body: { token: "" } })).status).toBe(422);
    const { token } = await mint(["https://unknown.example.com"]);
    expect((await validate("https://unknown.example.com", token)).status).toBe(404);
  });
});

describe("auto-register", () => {
  test("one resource per proxy with a resource endpoint or auth; then unchanged; then updated when the proxy changes", async () => {
    await createProxy("mcp.example.com", { resource_endpoint: "/mcp", resource_scopes: ["mcp:read"], resource_server_info: { name: "Tools" } });
    await createProxy("app.example.com", { auth_enabled: true });
    await createProxy("plain.example.com");
    await createProxy("*.wild.example.com", { resource_endpoint: "/mcp" });

    const first = await suite.api.call("POST", "/api/v1/resources/auto-register");
    expect(first.status).toBe(200);
    expect(first.json).toEqual({
      created: ["https://app.example.com", "https://mcp.example.com/mcp"],
      updated: [],
      unchanged: [],
      skipped: [{ hostname: "*.wild.example.com", reason: "a wildcard proxy has no single resource URI" }],
    });
    expect((await suite.api.call("GET", at("https://mcp.example.com/mcp"))).json).toMatchObject({
      name: "Tools",
      proxy_target: "mcp.example.com",
      scopes: ["mcp:read"],
      metadata_url: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
    });
    expect((await suite.api.call("GET", at("https://app.example.com"))).json).toMatchObject({
      name: "app.example.com",
      proxy_target: "app.example.com",
      scopes: [],
      metadata_url: "https://app.example.com/.well-known/oauth-protected-resource",
    });

    const before = await snapshot(suite.redis);
    const second = await suite.api.call("POST", "/api/v1/resources/auto-register");
    expect(second.json).toMatchObject({ created: [], updated: [], unchanged: ["https://app.example.com", "https://mcp.example.com/mcp"] });
    expect(await snapshot(suite.redis)).toEqual(before);

    await suite.api.call("PUT", at("https://mcp.example.com/mcp"), { body: { name: "Kept", description: "by hand" } });
    await suite.api.call("POST", "/api/v1/proxy/targets/mcp.example.com/resource", { body: { resource_scopes: ["mcp:read", "mcp:write"] } });
    const third = await suite.api.call("POST", "/api/v1/resources/auto-register");
    expect(third.json).toMatchObject({ created: [], updated: ["https://mcp.example.com/mcp"], unchanged: ["https://app.example.com"] });
    expect((await suite.api.call("GET", at("https://mcp.example.com/mcp"))).json).toMatchObject({ name: "Kept", description: "by hand", scopes: ["mcp:read", "mcp:write"] });
  });

  test("a token registers only its own proxies, owned like the proxy; another token's resource is skipped", async () => {
    const alice = await newToken("alice");
    const bob = await newToken("bob");
    await createProxy("alice.example.com", { resource_endpoint: "/mcp" }, alice);
    await createProxy("bob.example.com", { resource_endpoint: "/mcp" }, bob);
    // The admin registered Alice's URI by hand first.
    await suite.api.call("POST", "/api/v1/resources/", { body: { uri: "https://alice.example.com/mcp" } });

    const res = await suite.api.call("POST", "/api/v1/resources/auto-register", { token: bob });
    expect(res.json).toEqual({ created: ["https://bob.example.com/mcp"], updated: [], unchanged: [], skipped: [] });
    expect((await suite.api.call("GET", at("https://bob.example.com/mcp"), { token: bob })).status).toBe(200);

    const aliceRes = await suite.api.call("POST", "/api/v1/resources/auto-register", { token: alice });
    expect(aliceRes.json).toEqual({
      created: [],
      updated: [],
      unchanged: [],
      skipped: [{ hostname: "alice.example.com", reason: "https://alice.example.com/mcp is registered by another token" }],
    });
    expect((await suite.api.call("POST", "/api/v1/resources/auto-register", { token: null })).status).toBe(401);
  });

  test("nothing to register is an empty answer", async () => {
    await createProxy("plain.example.com");
    expect((await suite.api.call("POST", "/api/v1/resources/auto-register")).json).toEqual({ created: [], updated: [], unchanged: [], skipped: [] });
  });
});
