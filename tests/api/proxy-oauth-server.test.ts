/**
 * /api/v1/proxy/targets/{hostname}/oauth-server: a proxy's own authorization
 * server metadata, checked against what the server supports, with the
 * document it produces in every answer.
 */
import { describe, expect, test } from "bun:test";
import { authorizationServerMetadata } from "../../src/auth/server/metadata";
import { keys } from "../../src/storage/keys";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();
const PATH = "/api/v1/proxy/targets/app.example.com/oauth-server";

const createProxy = (hostname = "app.example.com", token?: string) =>
  suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname, target_url: "http://127.0.0.1:3000" }, token });
const defaultMetadata = () =>
  authorizationServerMetadata(suite.api.authorizationServer.context.settings.issuer, null, {
    clientIdMetadataDocuments: suite.api.authorizationServer.context.settings.clientMetadataDocuments,
    scopes: suite.api.authorizationServer.context.supportedScopes,
  });

const DEFAULT_FIELDS = {
  oauth_server_issuer: null,
  oauth_server_scopes: null,
  oauth_server_grant_types: null,
  oauth_server_response_types: null,
  oauth_server_token_auth_methods: null,
  oauth_server_claims: null,
  oauth_server_pkce_required: false,
  oauth_server_custom_metadata: null,
  oauth_server_override_defaults: false,
};

describe("oauth-server settings", () => {
  test("a new proxy: the defaults, and the gateway's own metadata as the preview", async () => {
    await createProxy();
    const res = await suite.api.call("GET", PATH);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ hostname: "app.example.com", ...DEFAULT_FIELDS, metadata_preview: defaultMetadata() });
  });

  test("configured and switched on, they change the preview; what the server does stays", async () => {
    await createProxy();
    const res = await suite.api.call("POST", PATH, {
      body: {
        oauth_server_issuer: "https://App.Example.com/oauth/",
        oauth_server_scopes: ["mcp:read", "tenant:files", "mcp:read"],
        oauth_server_grant_types: ["authorization_code"],
        oauth_server_token_auth_methods: ["none"],
        oauth_server_claims: ["sub", "email", "login"],
        oauth_server_pkce_required: true,
        oauth_server_custom_metadata: { service_documentation: "https://docs.example.com/oauth", op_policy_uri: "https://example.com/policy" },
        oauth_server_override_defaults: true,
      },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      hostname: "app.example.com",
      oauth_server_issuer: "https://app.example.com/oauth",
      oauth_server_scopes: ["mcp:read", "tenant:files"],
      oauth_server_pkce_required: true,
      oauth_server_override_defaults: true,
    });
    const preview = res.json.metadata_preview;
    expect(preview).toMatchObject({
      issuer: "https://app.example.com/oauth",
      authorization_endpoint: "https://app.example.com/oauth/authorize",
      token_endpoint: "https://app.example.com/oauth/token",
      jwks_uri: "https://app.example.com/oauth/jwks",
      scopes_supported: ["mcp:read", "tenant:files"],
      grant_types_supported: ["authorization_code"],
      token_endpoint_auth_methods_supported: ["none"],
      claims_supported: ["sub", "email", "login"],
      code_challenge_methods_supported: ["S256"],
      response_types_supported: ["code"],
      service_documentation: "https://docs.example.com/oauth",
      op_policy_uri: "https://example.com/policy",
    });
    expect(preview).not.toEqual(defaultMetadata());

    // Stored on the proxy, announced like any proxy change.
    const stored = JSON.parse((await suite.redis.client.get(keys.proxy("app.example.com")))!);
    expect(stored.oauth_server_claims).toEqual(["sub", "email", "login"]);
    expect((await suite.api.call("GET", PATH)).json).toEqual(res.json);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/app.example.com")).json.oauth_server_issuer).toBe("https://app.example.com/oauth");
  });

  test("without override_defaults the settings are kept but the preview stays the default", async () => {
    await createProxy();
    const res = await suite.api.call("POST", PATH, { body: { oauth_server_issuer: "https://other.example.com", oauth_server_scopes: ["mcp:admin"] } });
    expect(res.status).toBe(200);
    expect(res.json.oauth_server_issuer).toBe("https://other.example.com");
    expect(res.json.metadata_preview).toEqual(defaultMetadata());
    // Switching it on later applies what was stored.
    const on = await suite.api.call("POST", PATH, { body: { oauth_server_override_defaults: true } });
    expect(on.json.metadata_preview).toMatchObject({ issuer: "https://other.example.com", scopes_supported: ["mcp:admin"] });
  });

  test("POST changes only the fields it names; an empty list or null means the default", async () => {
    await createProxy();
    await suite.api.call("POST", PATH, { body: { oauth_server_scopes: ["mcp:read"], oauth_server_claims: ["sub"], oauth_server_override_defaults: true } });
    const res = await suite.api.call("POST", PATH, { body: { oauth_server_claims: [], oauth_server_custom_metadata: null } });
    expect(res.json).toMatchObject({ oauth_server_scopes: ["mcp:read"], oauth_server_claims: null, oauth_server_override_defaults: true });
    expect(res.json.metadata_preview.claims_supported).toBeUndefined();
    expect((await suite.api.call("POST", PATH, { body: {} })).json).toEqual(res.json);
  });

  test("DELETE puts every field back to its default", async () => {
    await createProxy();
    await suite.api.call("POST", PATH, { body: { oauth_server_issuer: "https://x.example.com", oauth_server_custom_metadata: { a: 1 }, oauth_server_override_defaults: true } });
    const res = await suite.api.call("DELETE", PATH);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ hostname: "app.example.com", ...DEFAULT_FIELDS, metadata_preview: defaultMetadata() });
    const stored = JSON.parse((await suite.redis.client.get(keys.proxy("app.example.com")))!);
    expect(stored).toMatchObject(DEFAULT_FIELDS);
    expect(stored.target_url).toBe("http://127.0.0.1:3000");
  });

  test("ownership: the owner and the admin; anyone else gets 404, no token 401", async () => {
    const alice = (await suite.api.call("POST", "/api/v1/tokens/", { body: { name: "alice" } })).json.token;
    const bob = (await suite.api.call("POST", "/api/v1/tokens/", { body: { name: "bob" } })).json.token;
    await createProxy("app.example.com", alice);

    expect((await suite.api.call("POST", PATH, { token: alice, body: { oauth_server_pkce_required: true } })).status).toBe(200);
    expect((await suite.api.call("GET", PATH, { token: alice })).json.oauth_server_pkce_required).toBe(true);
    expect((await suite.api.call("GET", PATH)).status).toBe(200);

    const before = await snapshot(suite.redis);
    for (const method of ["GET", "POST", "DELETE"]) {
      const res = await suite.api.call(method, PATH, { token: bob, body: method === "POST" ? { oauth_server_pkce_required: false } : undefined });
      expect([method, res.status, res.json.error]).toEqual([method, 404, "not_found"]);
      const anonymous = await suite.api.call(method, PATH, { token: null, body: method === "POST" ? {} : undefined });
      expect([method, anonymous.status]).toEqual([method, 401]);
    }
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("an unknown proxy is 404", async () => {
    for (const method of ["GET", "POST", "DELETE"]) {
      const res = await suite.api.call(method, "/api/v1/proxy/targets/ghost.example.com/oauth-server", { body: method === "POST" ? {} : undefined });
      expect([method, res.status]).toEqual([method, 404]);
    }
  });
});

describe("bad oauth-server values get a 422 naming the problem and write nothing", () => {
  const cases: [string, unknown, RegExp][] = [
    ["http issuer", { oauth_server_issuer: "http://app.example.com" }, /https/],
    ["issuer with a query", { oauth_server_issuer: "https://app.example.com/?tenant=1" }, /query or fragment/],
    ["issuer with a fragment", { oauth_server_issuer: "https://app.example.com/#x" }, /query or fragment/],
    ["issuer with credentials", { oauth_server_issuer: "https://u:p@app.example.com" }, /credentials/],
    ["issuer not a URL", { oauth_server_issuer: "app.example.com" }, /not a URL/],
    ["a scope with a backslash", { oauth_server_scopes: ["mcp:read", "a\\b"] }, /oauth_server_scopes: scope "a\\\\b" contains a character a scope cannot/],
    ["a scope too long", { oauth_server_scopes: ["x".repeat(129)] }, /oauth_server_scopes/],
    ["unsupported grant type", { oauth_server_grant_types: ["authorization_code", "client_credentials"] }, /oauth_server_grant_types.*client_credentials/],
    ["grant types without the code flow", { oauth_server_grant_types: ["refresh_token"] }, /must include "authorization_code"/],
    ["implicit response type", { oauth_server_response_types: ["token"] }, /oauth_server_response_types.*"token"/],
    ["unsupported auth method", { oauth_server_token_auth_methods: ["private_key_jwt"] }, /oauth_server_token_auth_methods.*private_key_jwt/],
    ["bad claim name", { oauth_server_claims: ["sub", "a b"] }, /oauth_server_claims/],
    ["custom metadata replacing a server field", { oauth_server_custom_metadata: { issuer: "https://evil.example.com" } }, /"issuer" is set by the server/],
    ["custom metadata replacing PKCE", { oauth_server_custom_metadata: { code_challenge_methods_supported: ["plain"] } }, /code_challenge_methods_supported/],
    ["custom metadata not an object", { oauth_server_custom_metadata: ["a"] }, /oauth_server_custom_metadata/],
    ["scopes not a list", { oauth_server_scopes: "mcp:read" }, /oauth_server_scopes/],
    ["pkce_required not a boolean", { oauth_server_pkce_required: "yes" }, /oauth_server_pkce_required/],
    ["an unknown field", { oauth_server_colour: "red" }, /oauth_server_colour/],
    ["another proxy field", { target_url: "http://127.0.0.1:4000" }, /target_url/],
  ];
  for (const [name, body, detail] of cases) {
    test(name, async () => {
      await createProxy();
      const before = await snapshot(suite.redis);
      const res = await suite.api.call("POST", PATH, { body });
      expect(res.status).toBe(422);
      expect(res.json.error).toBe("invalid_request");
      expect(res.json.detail).toMatch(detail);
      expect(await snapshot(suite.redis)).toEqual(before);
    });
  }

  test("malformed JSON is a 400", async () => {
    await createProxy();
    expect((await suite.api.call("POST", PATH, { raw: "{" })).status).toBe(400);
  });
});
