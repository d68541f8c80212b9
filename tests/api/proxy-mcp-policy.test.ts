/**
 * /api/v1/proxy/targets/{hostname}/mcp-policy: a proxy's MCP endpoint policy
 * (per-tool and per-method scopes, tools/list filtering, allowed origins),
 * its checks, and who may read and change it.
 */
import { describe, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();
const PATH = "/api/v1/proxy/targets/app.example.com/mcp-policy";

const createProxy = (hostname = "app.example.com", token?: string) =>
  suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname, target_url: "http://127.0.0.1:3000" }, token });
const stored = async (hostname = "app.example.com") => JSON.parse((await suite.redis.client.get(keys.proxy(hostname)))!);
const newToken = async (name: string) => (await suite.api.call("POST", "/api/v1/tokens/", { body: { name } })).json.token as string;

const DEFAULTS = { mcp_tool_scopes: null, mcp_method_scopes: null, mcp_filter_tools: false, mcp_allowed_origins: null, mcp_rate_limits: null };

describe("settings", () => {
  test("a new proxy has no policy, and none is enforced without an MCP endpoint", async () => {
    await createProxy();
    const res = await suite.api.call("GET", PATH);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ hostname: "app.example.com", ...DEFAULTS, mcp_endpoint: null, enforced: false, policy_scopes: [] });
    expect(await stored()).toMatchObject(DEFAULTS);
  });

  test("set some fields, keep the others; the view names every scope the policy uses", async () => {
    await createProxy();
    await suite.api.call("POST", "/api/v1/proxy/targets/app.example.com/resource", { body: { resource_endpoint: "/mcp" } });
    const first = await suite.api.call("POST", PATH, { body: { mcp_tool_scopes: { "delete_*": ["files:write", "files:write"], search: ["mcp:read"] }, mcp_filter_tools: true } });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({
      hostname: "app.example.com",
      ...DEFAULTS,
      mcp_tool_scopes: { "delete_*": ["files:write"], search: ["mcp:read"] },
      mcp_filter_tools: true,
      mcp_endpoint: "/mcp",
      enforced: true,
      policy_scopes: ["files:write", "mcp:read"],
    });
    const second = await suite.api.call("POST", PATH, { body: { mcp_method_scopes: { "resources/*": ["files:read"] }, mcp_allowed_origins: ["HTTP://LocalHost:6274", "null", "https://a.example:443"] } });
    expect(second.json).toMatchObject({
      mcp_tool_scopes: { "delete_*": ["files:write"], search: ["mcp:read"] },
      mcp_method_scopes: { "resources/*": ["files:read"] },
      mcp_allowed_origins: ["http://localhost:6274", "null", "https://a.example"],
      policy_scopes: ["files:read", "files:write", "mcp:read"],
    });
    expect(await stored()).toMatchObject({ mcp_method_scopes: { "resources/*": ["files:read"] }, mcp_filter_tools: true });
    // Empty maps and lists mean none; DELETE resets everything.
    expect((await suite.api.call("POST", PATH, { body: { mcp_tool_scopes: {}, mcp_allowed_origins: [] } })).json).toMatchObject({ mcp_tool_scopes: null, mcp_allowed_origins: null });
    const cleared = await suite.api.call("DELETE", PATH);
    expect(cleared.json).toMatchObject(DEFAULTS);
    expect(await stored()).toMatchObject(DEFAULTS);
  });

  test("the proxy's own API takes the same fields with the same checks", async () => {
    const created = await suite.api.call("POST", "/api/v1/proxy/targets/", {
      body: { hostname: "b.example.com", target_url: "http://127.0.0.1:3000", resource_endpoint: "/mcp", mcp_tool_scopes: { x: ["s:1"] } },
    });
    expect(created.status).toBe(201);
    expect(created.json.mcp_tool_scopes).toEqual({ x: ["s:1"] });
    const bad = await suite.api.call("PUT", "/api/v1/proxy/targets/b.example.com", { body: { mcp_allowed_origins: ["https://x.example/path"] } });
    expect([bad.status, bad.json.detail]).toEqual([422, expect.stringMatching(/^mcp_allowed_origins: /)]);
  });
});

describe("bad input is a 422 naming the field, and nothing is written", () => {
  test.each([
    ["a scope with a space", { mcp_tool_scopes: { search: ["has space"] } }, /^mcp_tool_scopes: "search": "has space" is not a scope/],
    ["a scope with a quote", { mcp_tool_scopes: { search: ['quo"te'] } }, /^mcp_tool_scopes: /],
    ["a tool name with a space", { mcp_tool_scopes: { "two words": ["a"] } }, /^mcp_tool_scopes: "two words" must be/],
    ["an empty method name", { mcp_method_scopes: { "": ["a"] } }, /^mcp_method_scopes: /],
    ["201 entries", { mcp_tool_scopes: Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`t${i}`, ["a"]])) }, /at most 200 entries/],
    ["an origin without a scheme", { mcp_allowed_origins: ["mcp.example.com"] }, /^mcp_allowed_origins: "mcp.example.com" is not an origin/],
    ["an origin with userinfo", { mcp_allowed_origins: ["https://user@x.example"] }, /^mcp_allowed_origins: /],
  ])("%s", async (_, body, detail) => {
    await createProxy();
    const before = await snapshot(suite.redis);
    const res = await suite.api.call("POST", PATH, { body });
    expect(res.status).toBe(422);
    expect(res.json.detail).toMatch(detail);
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("schema-level refusals: unknown fields, wrong types, too many scopes", async () => {
    await createProxy();
    for (const body of [{ mcp_tools: {} }, { mcp_filter_tools: "yes" }, { mcp_tool_scopes: { a: "mcp:read" } }, { mcp_tool_scopes: { a: Array.from({ length: 21 }, (_, i) => `s${i}`) } }]) {
      const res = await suite.api.call("POST", PATH, { body });
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 422]);
    }
  });
});

describe("who may", () => {
  test("the owner and the admin; another token gets 404, no token 401, and nothing changes", async () => {
    const alice = await newToken("alice");
    const bob = await newToken("bob");
    await createProxy("app.example.com", alice);
    expect((await suite.api.call("POST", PATH, { token: alice, body: { mcp_tool_scopes: { admin_tool: ["mcp:admin"] } } })).status).toBe(200);
    expect((await suite.api.call("GET", PATH)).json.mcp_tool_scopes).toEqual({ admin_tool: ["mcp:admin"] });

    const before = await snapshot(suite.redis);
    for (const method of ["GET", "POST", "DELETE"]) {
      const body = method === "POST" ? { mcp_tool_scopes: null, mcp_allowed_origins: ["*"] } : undefined;
      const res = await suite.api.call(method, PATH, { token: bob, body });
      expect([method, res.status, res.json.error]).toEqual([method, 404, "not_found"]);
      expect((await suite.api.call(method, PATH, { token: null, body })).status).toBe(401);
      expect((await suite.api.call(method, PATH, { token: "acm_not_a_real_token_000000000000", body })).status).toBe(401);
    }
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("an unknown proxy is 404", async () => {
    for (const method of ["GET", "POST", "DELETE"]) {
      const res = await suite.api.call(method, "/api/v1/proxy/targets/ghost.example.com/mcp-policy", { body: method === "POST" ? {} : undefined });
      expect([method, res.status, res.json.detail]).toEqual([method, 404, expect.stringContaining('"ghost.example.com"')]);
    }
  });
});
