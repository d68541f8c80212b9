/**
 * mcp_rate_limits on /api/v1/proxy/targets/{hostname}/mcp-policy (and the
 * proxy's own API): stored as checked, bounded, refused with a 422 naming
 * the rule, and only for the proxy's owner or the admin.
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

describe("settings", () => {
  test("set, kept beside the other fields, cleared", async () => {
    await createProxy();
    const rules = [
      { tool: "search", per_minute: 60, per_hour: 1000 },
      { method: "resources/read", per_second: 5 },
    ];
    const set = await suite.api.call("POST", PATH, { body: { mcp_rate_limits: rules } });
    expect(set.status).toBe(200);
    expect(set.json.mcp_rate_limits).toEqual(rules);
    expect((await stored()).mcp_rate_limits).toEqual(rules);
    // Another field alone leaves the limits as they are.
    expect((await suite.api.call("POST", PATH, { body: { mcp_filter_tools: true } })).json.mcp_rate_limits).toEqual(rules);
    // An empty list means none; so does null; DELETE resets.
    expect((await suite.api.call("POST", PATH, { body: { mcp_rate_limits: [] } })).json.mcp_rate_limits).toBeNull();
    await suite.api.call("POST", PATH, { body: { mcp_rate_limits: rules } });
    expect((await suite.api.call("DELETE", PATH)).json.mcp_rate_limits).toBeNull();
    expect((await stored()).mcp_rate_limits).toBeNull();
  });

  test("the proxy's own API takes them with the same checks", async () => {
    const created = await suite.api.call("POST", "/api/v1/proxy/targets/", {
      body: { hostname: "b.example.com", target_url: "http://127.0.0.1:3000", mcp_rate_limits: [{ tool: "*", per_minute: 100 }] },
    });
    expect(created.status).toBe(201);
    expect(created.json.mcp_rate_limits).toEqual([{ tool: "*", per_minute: 100 }]);
    const bad = await suite.api.call("PUT", "/api/v1/proxy/targets/b.example.com", { body: { mcp_rate_limits: [{ tool: "x", method: "y", per_minute: 1 }] } });
    expect([bad.status, bad.json.detail]).toEqual([422, expect.stringMatching(/^mcp_rate_limits\[0\]: name either a tool or a method/)]);
  });

  test("a record stored before the field existed reads as having no limits", async () => {
    await createProxy();
    const record = await stored();
    delete record.mcp_rate_limits;
    await suite.redis.client.set(keys.proxy("app.example.com"), JSON.stringify(record));
    expect((await suite.api.call("GET", PATH)).json.mcp_rate_limits).toBeNull();
  });
});

describe("bad input is a 422 naming the rule, and nothing is written", () => {
  test.each([
    ["neither tool nor method", [{ per_minute: 1 }], /^mcp_rate_limits\[0\]: name either a tool or a method/],
    ["both tool and method", [{ tool: "a", method: "b", per_minute: 1 }], /^mcp_rate_limits\[0\]: name either/],
    ["no rate", [{ tool: "search" }], /^mcp_rate_limits\[0\]: give at least one of per_second, per_minute, per_hour/],
    ["a tool name with a space", [{ tool: "two words", per_minute: 1 }], /^mcp_rate_limits\[0\]: tool "two words" must be/],
    ["an empty method", [{ method: "", per_minute: 1 }], /^mcp_rate_limits\[0\]: method "" must be/],
    ["the same calls and window twice", [{ tool: "a", per_minute: 1 }, { tool: "a", per_minute: 2 }], /^mcp_rate_limits\[1\]: another rule already sets per_minute for the tool "a"/],
  ])("%s", async (_, rules, detail) => {
    await createProxy();
    const before = await snapshot(suite.redis);
    const res = await suite.api.call("POST", PATH, { body: { mcp_rate_limits: rules } });
    expect(res.status).toBe(422);
    expect(res.json.detail).toMatch(detail);
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("schema-level refusals: rates out of bounds or not whole, unknown members, too many rules", async () => {
    await createProxy();
    const before = await snapshot(suite.redis);
    for (const rules of [
      [{ tool: "a", per_minute: 0 }],
      [{ tool: "a", per_minute: -1 }],
      [{ tool: "a", per_minute: 1.5 }],
      [{ tool: "a", per_minute: 1_000_001 }],
      [{ tool: "a", per_minute: "sixty" }],
      [{ tool: "a", per_day: 60 }],
      [{ tool: "a".repeat(129), per_minute: 1 }],
      Array.from({ length: 51 }, (_, i) => ({ tool: `t${i}`, per_minute: 1 })),
      { tool: "a", per_minute: 1 },
    ]) {
      const res = await suite.api.call("POST", PATH, { body: { mcp_rate_limits: rules } });
      expect([JSON.stringify(rules).slice(0, 80), res.status]).toEqual([JSON.stringify(rules).slice(0, 80), 422]);
    }
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("a rate written as a numeric string is stored as the number (as every numeric field of the API)", async () => {
    await createProxy();
    expect((await suite.api.call("POST", PATH, { body: { mcp_rate_limits: [{ tool: "a", per_minute: "60" }] } })).status).toBe(200);
    expect((await stored()).mcp_rate_limits).toEqual([{ tool: "a", per_minute: 60 }]);
  });

  test("the bounds themselves are accepted", async () => {
    await createProxy();
    const rules = [...Array.from({ length: 49 }, (_, i) => ({ tool: `t${i}`, per_second: 1 })), { method: "m".repeat(128), per_hour: 1_000_000 }];
    const res = await suite.api.call("POST", PATH, { body: { mcp_rate_limits: rules } });
    expect(res.status).toBe(200);
    expect(res.json.mcp_rate_limits).toHaveLength(50);
  });
});

describe("who may", () => {
  test("the owner and the admin; another token gets 404, no token 401, and nothing changes", async () => {
    const alice = await newToken("alice");
    const bob = await newToken("bob");
    await createProxy("app.example.com", alice);
    const mine = [{ tool: "search", per_minute: 60 }];
    expect((await suite.api.call("POST", PATH, { token: alice, body: { mcp_rate_limits: mine } })).status).toBe(200);
    expect((await suite.api.call("GET", PATH, { token: alice })).json.mcp_rate_limits).toEqual(mine);

    const before = await snapshot(suite.redis);
    const lifted = { mcp_rate_limits: [{ tool: "search", per_minute: 1_000_000 }] };
    for (const method of ["GET", "POST", "DELETE"]) {
      const body = method === "POST" ? lifted : undefined;
      expect((await suite.api.call(method, PATH, { token: bob, body })).status).toBe(404);
      expect((await suite.api.call(method, PATH, { token: null, body })).status).toBe(401);
    }
    expect((await suite.api.call("PUT", "/api/v1/proxy/targets/app.example.com", { token: bob, body: lifted })).status).toBe(404);
    expect(await snapshot(suite.redis)).toEqual(before);
  });
});
