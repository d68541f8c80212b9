/**
 * /api/v1/proxy/targets/{hostname}/resource and its alias /mcp: a proxy's
 * protected resource metadata settings (RFC 9728), its resource URI and the
 * URLs of its metadata document, and a preview of that document.
 */
import { describe, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();
const PATH = "/api/v1/proxy/targets/app.example.com/resource";
const MCP_PATH = "/api/v1/proxy/targets/app.example.com/mcp";

const createProxy = (hostname = "app.example.com", token?: string) =>
  suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname, target_url: "http://127.0.0.1:3000" }, token });
const stored = async (hostname = "app.example.com") => JSON.parse((await suite.redis.client.get(keys.proxy(hostname)))!);

const DEFAULT_FIELDS = {
  resource_endpoint: null,
  resource_scopes: null,
  resource_stateful: false,
  resource_versions: null,
  resource_server_info: null,
  resource_override_backend: false,
  resource_bearer_methods: null,
  resource_documentation_suffix: null,
  resource_custom_metadata: null,
};
const ROOT_URLS = {
  resource: "https://app.example.com",
  metadata_url: "https://app.example.com/.well-known/oauth-protected-resource",
  metadata_url_root: "https://app.example.com/.well-known/oauth-protected-resource",
};
const issuer = () => suite.api.authorizationServer.context.settings.issuer;
/** The document of a proxy with nothing set: where tokens come from, and the header only. */
const basePreview = (resource: string) => ({
  resource,
  authorization_servers: [issuer()],
  jwks_uri: `${issuer()}/jwks`,
  bearer_methods_supported: ["header"],
  stateful: false,
});

describe("resource settings", () => {
  test("a new proxy: nothing set; the resource is the host itself", async () => {
    await createProxy();
    const res = await suite.api.call("GET", PATH);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ hostname: "app.example.com", ...DEFAULT_FIELDS, ...ROOT_URLS, metadata_preview: basePreview("https://app.example.com") });
  });

  test("the issue's example: the resource URI and the path-aware metadata URL follow the endpoint", async () => {
    await createProxy();
    const res = await suite.api.call("POST", PATH, { body: { resource_endpoint: "/mcp", resource_scopes: ["mcp:read", "mcp:write"] } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      hostname: "app.example.com",
      ...DEFAULT_FIELDS,
      resource_endpoint: "/mcp",
      resource_scopes: ["mcp:read", "mcp:write"],
      resource: "https://app.example.com/mcp",
      metadata_url: "https://app.example.com/.well-known/oauth-protected-resource/mcp",
      metadata_url_root: "https://app.example.com/.well-known/oauth-protected-resource",
      metadata_preview: { ...basePreview("https://app.example.com/mcp"), scopes_supported: ["mcp:read", "mcp:write"] },
    });
    expect(await stored()).toMatchObject({ resource_endpoint: "/mcp", resource_scopes: ["mcp:read", "mcp:write"] });
    const [[, entry]] = (await suite.redis.client.xrevrange(keys.workflowStream, "+", "-", "COUNT", 1)) as [string, string[]][];
    expect(entry.slice(0, 4)).toEqual(["event_type", "proxy_updated", "hostname", "app.example.com"]);
  });

  test("every field, stored in normal form", async () => {
    await createProxy();
    const res = await suite.api.call("POST", PATH, {
      body: {
        resource_endpoint: "/v1/mcp/",
        resource_scopes: ["mcp:read", "mcp:read"],
        resource_stateful: true,
        resource_versions: ["2025-06-18", "2025-03-26", "2025-06-18"],
        resource_server_info: { name: "Example MCP", version: "1.2.0" },
        resource_override_backend: true,
        resource_bearer_methods: ["header", "header"],
        resource_documentation_suffix: "/docs/mcp",
        resource_custom_metadata: { "x-team": "platform", mcp_notes: ["a"] },
      },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      hostname: "app.example.com",
      resource_endpoint: "/v1/mcp",
      resource_scopes: ["mcp:read"],
      resource_stateful: true,
      resource_versions: ["2025-06-18", "2025-03-26"],
      resource_server_info: { name: "Example MCP", version: "1.2.0" },
      resource_override_backend: true,
      resource_bearer_methods: ["header"],
      resource_documentation_suffix: "/docs/mcp",
      resource_custom_metadata: { "x-team": "platform", mcp_notes: ["a"] },
      resource: "https://app.example.com/v1/mcp",
      metadata_url: "https://app.example.com/.well-known/oauth-protected-resource/v1/mcp",
      metadata_url_root: "https://app.example.com/.well-known/oauth-protected-resource",
      metadata_preview: {
        ...basePreview("https://app.example.com/v1/mcp"),
        scopes_supported: ["mcp:read"],
        resource_documentation: "https://app.example.com/v1/mcp/docs/mcp",
        resource_name: "Example MCP",
        server_info: { name: "Example MCP", version: "1.2.0" },
        versions_supported: ["2025-06-18", "2025-03-26"],
        stateful: true,
        "x-team": "platform",
        mcp_notes: ["a"],
      },
    });
    expect((await suite.api.call("GET", PATH)).json).toEqual(res.json);
  });

  test("an operator's own scopes: any RFC 6749 scope token, up to 50, is stored and advertised", async () => {
    await createProxy();
    const scopes = ["files:read", "files:write", "https://api.example.com/scope/x", "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~", ...Array.from({ length: 46 }, (_, i) => `tool.${i}`)];
    const res = await suite.api.call("POST", PATH, { body: { resource_endpoint: "/mcp", resource_scopes: scopes } });
    expect(res.status).toBe(200);
    expect(res.json.resource_scopes).toEqual(scopes);
    expect(res.json.metadata_preview.scopes_supported).toEqual(scopes);
    expect(await stored()).toMatchObject({ resource_scopes: scopes });
  });

  test("the endpoint / is the host itself", async () => {
    await createProxy();
    const res = await suite.api.call("POST", PATH, { body: { resource_endpoint: "/" } });
    expect(res.json).toMatchObject({ resource_endpoint: "/", ...ROOT_URLS });
  });

  test("the preview names the proxy's own issuer when it overrides the authorization server's", async () => {
    await createProxy();
    await suite.api.call("POST", "/api/v1/proxy/targets/app.example.com/oauth-server", {
      body: { oauth_server_issuer: "https://app.example.com/oauth", oauth_server_override_defaults: true },
    });
    const res = await suite.api.call("POST", PATH, { body: { resource_endpoint: "/mcp" } });
    expect(res.json.metadata_preview).toMatchObject({ authorization_servers: ["https://app.example.com/oauth"], jwks_uri: "https://app.example.com/oauth/jwks" });
  });

  test("documentation: a path is appended to the resource URL, an https URL used as it is", async () => {
    await createProxy();
    await suite.api.call("POST", PATH, { body: { resource_endpoint: "/mcp" } });
    const absolute = await suite.api.call("POST", PATH, { body: { resource_documentation_suffix: "https://docs.example.com/mcp?v=2" } });
    expect(absolute.json).toMatchObject({ resource_documentation_suffix: "https://docs.example.com/mcp?v=2" });
    expect(absolute.json.metadata_preview.resource_documentation).toBe("https://docs.example.com/mcp?v=2");
    const relative = await suite.api.call("POST", PATH, { body: { resource_documentation_suffix: "/docs" } });
    expect(relative.json.metadata_preview.resource_documentation).toBe("https://app.example.com/mcp/docs");
    const none = await suite.api.call("POST", PATH, { body: { resource_documentation_suffix: "" } });
    expect(none.json.resource_documentation_suffix).toBeNull();
    expect(none.json.metadata_preview.resource_documentation).toBeUndefined();
  });

  test("POST changes only the fields it names; an empty list, object or null is the default", async () => {
    await createProxy();
    await suite.api.call("POST", PATH, { body: { resource_endpoint: "/mcp", resource_scopes: ["mcp:read"], resource_stateful: true, resource_server_info: { name: "x" } } });
    const res = await suite.api.call("POST", PATH, { body: { resource_scopes: [], resource_server_info: {} } });
    expect(res.json).toMatchObject({ resource_endpoint: "/mcp", resource_stateful: true, resource_scopes: null, resource_server_info: null });
    expect((await suite.api.call("POST", PATH, { body: {} })).json).toEqual(res.json);
    expect(await stored()).toMatchObject({ target_url: "http://127.0.0.1:3000", auth_enabled: false });
  });

  test("DELETE clears every field", async () => {
    await createProxy();
    await suite.api.call("POST", PATH, { body: { resource_endpoint: "/mcp", resource_scopes: ["mcp:read"], resource_override_backend: true, resource_custom_metadata: { a: 1 } } });
    const res = await suite.api.call("DELETE", PATH);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ hostname: "app.example.com", ...DEFAULT_FIELDS, ...ROOT_URLS, metadata_preview: basePreview("https://app.example.com") });
    expect(await stored()).toMatchObject({ ...DEFAULT_FIELDS, target_url: "http://127.0.0.1:3000" });
  });

  test("/mcp is the same endpoint as /resource: same answers, same stored fields", async () => {
    await createProxy();
    const viaMcp = await suite.api.call("POST", MCP_PATH, { body: { resource_endpoint: "/mcp", resource_stateful: true } });
    expect(viaMcp.status).toBe(200);
    expect((await suite.api.call("GET", PATH)).json).toEqual(viaMcp.json);
    const viaResource = await suite.api.call("POST", PATH, { body: { resource_scopes: ["mcp:write"] } });
    expect((await suite.api.call("GET", MCP_PATH)).json).toEqual(viaResource.json);
    expect(viaResource.json).toMatchObject({ resource_endpoint: "/mcp", resource_stateful: true, resource_scopes: ["mcp:write"] });
    const bad = await suite.api.call("POST", MCP_PATH, { body: { resource_bearer_methods: ["query"] } });
    expect([bad.status, bad.json.detail]).toEqual([422, expect.stringMatching(/^resource_bearer_methods: /)]);
    const cleared = await suite.api.call("DELETE", MCP_PATH);
    expect((await suite.api.call("GET", PATH)).json).toEqual(cleared.json);
    expect(cleared.json).toMatchObject(DEFAULT_FIELDS);
  });

  test("ownership: the owner and the admin; anyone else gets 404, no token 401, on both paths", async () => {
    const alice = (await suite.api.call("POST", "/api/v1/tokens/", { body: { name: "alice" } })).json.token;
    const bob = (await suite.api.call("POST", "/api/v1/tokens/", { body: { name: "bob" } })).json.token;
    await createProxy("app.example.com", alice);
    expect((await suite.api.call("POST", PATH, { token: alice, body: { resource_endpoint: "/mcp" } })).status).toBe(200);
    expect((await suite.api.call("GET", MCP_PATH)).json.resource_endpoint).toBe("/mcp");

    const before = await snapshot(suite.redis);
    for (const path of [PATH, MCP_PATH]) {
      for (const method of ["GET", "POST", "DELETE"]) {
        const body = method === "POST" ? { resource_endpoint: "/other" } : undefined;
        const res = await suite.api.call(method, path, { token: bob, body });
        expect([path, method, res.status, res.json.error]).toEqual([path, method, 404, "not_found"]);
        expect((await suite.api.call(method, path, { token: null, body })).status).toBe(401);
      }
    }
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("an unknown proxy is 404", async () => {
    for (const segment of ["resource", "mcp"]) {
      for (const method of ["GET", "POST", "DELETE"]) {
        const res = await suite.api.call(method, `/api/v1/proxy/targets/ghost.example.com/${segment}`, { body: method === "POST" ? {} : undefined });
        expect([segment, method, res.status]).toEqual([segment, method, 404]);
      }
    }
  });
});

describe("bad resource values get a 422 naming the field and write nothing", () => {
  const cases: [string, unknown, RegExp][] = [
    ["unknown field", { mcp_enabled: true }, /mcp_enabled/],
    ["endpoint without /", { resource_endpoint: "mcp" }, /^resource_endpoint: .*starting with \//],
    ["endpoint with a query", { resource_endpoint: "/mcp?x=1" }, /^resource_endpoint: .*query/],
    ["endpoint with a fragment", { resource_endpoint: "/mcp#x" }, /^resource_endpoint: /],
    ["endpoint with ..", { resource_endpoint: "/a/../mcp" }, /^resource_endpoint: .*segments/],
    ["endpoint with a space", { resource_endpoint: "/m cp" }, /^resource_endpoint: /],
    ["endpoint with //", { resource_endpoint: "//evil.example.com/mcp" }, /^resource_endpoint: /],
    ["a scope with a space", { resource_scopes: ["files read"] }, /^resource_scopes: scope "files read" contains a character a scope cannot/],
    ["an empty scope", { resource_scopes: [""] }, /^resource_scopes: scope "" is empty/],
    ["a bad version", { resource_versions: ["2025 06 18"] }, /^resource_versions: /],
    ["bearer method query", { resource_bearer_methods: ["header", "query"] }, /^resource_bearer_methods: "query" is refused: tokens in the query string are not honoured/],
    ["bearer method body", { resource_bearer_methods: ["body"] }, /^resource_bearer_methods: "body" is refused/],
    ["bearer method unknown", { resource_bearer_methods: ["cookie"] }, /^resource_bearer_methods: /],
    ["custom metadata replaces resource", { resource_custom_metadata: { resource: "https://evil.example.com" } }, /^resource_custom_metadata: "resource" is an RFC 9728 field/],
    ["custom metadata replaces authorization_servers", { resource_custom_metadata: { authorization_servers: ["https://evil.example.com"] } }, /^resource_custom_metadata: "authorization_servers"/],
    ["custom metadata replaces bearer methods", { resource_custom_metadata: { bearer_methods_supported: ["query"] } }, /^resource_custom_metadata: /],
    ["custom metadata replaces a member the gateway sets", { resource_custom_metadata: { stateful: true } }, /^resource_custom_metadata: "stateful"/],
    ["server info not an object", { resource_server_info: ["a"] }, /resource_server_info/],
    ["server info too large", { resource_server_info: { blob: "x".repeat(20_000) } }, /^resource_server_info: at most/],
    ["documentation suffix not a path", { resource_documentation_suffix: "docs" }, /^resource_documentation_suffix: /],
    ["documentation URL over http", { resource_documentation_suffix: "http://docs.example.com" }, /^resource_documentation_suffix: .*https/],
    ["documentation URL of another scheme", { resource_documentation_suffix: "javascript:alert(1)" }, /^resource_documentation_suffix: .*https/],
    ["a string for a boolean", { resource_stateful: "true" }, /resource_stateful/],
  ];
  for (const [name, body, detail] of cases) {
    test(name, async () => {
      await createProxy();
      await suite.api.call("POST", PATH, { body: { resource_endpoint: "/mcp" } });
      const before = await snapshot(suite.redis);
      const res = await suite.api.call("POST", PATH, { body });
      expect(res.status).toBe(422);
      expect(res.json.error).toBe("invalid_request");
      expect(res.json.detail).toMatch(detail);
      expect(await snapshot(suite.redis)).toEqual(before);
    });
  }

  test("the same rules hold when the fields come through proxy create and update", async () => {
    const before = await snapshot(suite.redis);
    const create = await suite.api.call("POST", "/api/v1/proxy/targets/", {
      body: { hostname: "app.example.com", target_url: "http://127.0.0.1:3000", resource_bearer_methods: ["query"] },
    });
    expect([create.status, create.json.detail]).toEqual([422, expect.stringMatching(/^resource_bearer_methods: /)]);
    expect(await snapshot(suite.redis)).toEqual(before);
    await createProxy();
    const update = await suite.api.call("PUT", "/api/v1/proxy/targets/app.example.com", { body: { resource_endpoint: "/mcp/" } });
    expect(update.json.resource_endpoint).toBe("/mcp");
  });
});
