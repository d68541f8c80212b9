import { describe, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { ADMIN, useApiHarness, snapshot } from "../helpers/api-app";

const suite = useApiHarness();

const route = (extra: Record<string, unknown> = {}) => ({ path_pattern: "/api/", target_type: "url", target_value: "http://127.0.0.1:4000", ...extra });
const create = (body: unknown, token?: string) => suite.api.call("POST", "/api/v1/routes/", { body, token });

describe("routes", () => {
  test("create with defaults; stored with its unique and priority indexes; announced", async () => {
    const res = await create(route({ route_id: "api-v1", methods: ["get", "POST"] }));
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      route_id: "api-v1",
      priority: 50,
      methods: ["GET", "POST"],
      is_regex: false,
      enabled: true,
      scope: "global",
      proxy_hostnames: [],
      target_value: "http://127.0.0.1:4000",
    });
    expect(await suite.redis.client.get(keys.routeUnique("/api/", 50))).toBe("api-v1");
    expect(await suite.redis.client.get(keys.routePriority(50, "api-v1"))).toBe("api-v1");
    const [[, fields]] = (await suite.redis.client.xrange(keys.workflowStream, "-", "+")) as [string, string[]][];
    expect(fields.slice(0, 2)).toEqual(["event_type", "route_created"]);
  });

  test("a generated id when none is given", async () => {
    expect((await create(route())).json.route_id).toMatch(/^route-[0-9a-f]{8}$/);
  });

  test("list in priority order, show, update (indexes move), delete", async () => {
    await create(route({ route_id: "low", priority: 10 }));
    await create(route({ route_id: "high", priority: 90, path_pattern: "/x/" }));
    expect((await suite.api.call("GET", "/api/v1/routes")).json.map((r: any) => r.route_id)).toEqual(["high", "low"]);
    expect((await suite.api.call("GET", "/api/v1/routes/low")).json.priority).toBe(10);

    const updated = await suite.api.call("PUT", "/api/v1/routes/low", { body: { priority: 95, description: "now first" } });
    expect(updated.json).toMatchObject({ priority: 95, description: "now first" });
    expect(await suite.redis.client.exists(keys.routeUnique("/api/", 10), keys.routePriority(10, "low"))).toBe(0);
    expect(await suite.redis.client.get(keys.routeUnique("/api/", 95))).toBe("low");

    expect((await suite.api.call("DELETE", "/api/v1/routes/low")).status).toBe(200);
    expect(await suite.redis.client.exists(keys.route("low"), keys.routeUnique("/api/", 95), keys.routePriority(95, "low"))).toBe(0);
  });

  test("formatted lists routes as a text table", async () => {
    await create(route({ route_id: "one", description: "first route", methods: ["GET"] }));
    const res = await suite.api.app.handle(new Request("http://localhost/api/v1/routes/formatted", { headers: { authorization: `Bearer ${ADMIN}` } }));
    const text = await res.text();
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(text.split("\n")[0]).toMatch(/^PRIORITY\s+ID\s+PATH\s+METHODS\s+TARGET\s+SCOPE\s+ENABLED\s+DESCRIPTION$/);
    expect(text).toMatch(/50\s+one\s+\/api\/\s+GET\s+url:http:\/\/127\.0\.0\.1:4000\s+global\s+yes\s+first route/);
  });

  test("users create routes only for proxies they own; global routes are the admin's", async () => {
    const alice = (await suite.api.call("POST", "/api/v1/tokens/", { body: { name: "alice" } })).json.token;
    await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "alice.example.com", target_url: "http://127.0.0.1:1" }, token: alice });
    await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "admin.example.com", target_url: "http://127.0.0.1:1" } });
    await create(route({ route_id: "global-one" }));

    expect((await create(route({ route_id: "g" }), alice)).status).toBe(403);
    expect((await create(route({ route_id: "theirs", scope: "proxy", proxy_hostnames: ["admin.example.com"] }), alice)).status).toBe(404);
    const own = await create(route({ route_id: "mine", scope: "proxy", proxy_hostnames: ["alice.example.com"], priority: 70 }), alice);
    expect(own.status).toBe(201);

    // Alice sees her route and the global ones; she cannot change the global one.
    expect((await suite.api.call("GET", "/api/v1/routes/", { token: alice })).json.map((r: any) => r.route_id)).toEqual(["mine", "global-one"]);
    expect((await suite.api.call("PUT", "/api/v1/routes/global-one", { token: alice, body: { enabled: false } })).status).toBe(403);
    expect((await suite.api.call("DELETE", "/api/v1/routes/global-one", { token: alice })).status).toBe(403);
    expect((await suite.api.call("PUT", "/api/v1/routes/mine", { token: alice, body: { scope: "global" } })).status).toBe(403);

    const deleted = await suite.api.call("DELETE", "/api/v1/tokens/alice");
    expect(deleted.json.owned_resources_deleted).toEqual({ proxy: 1, route: 1 });
    expect(await suite.redis.client.exists(keys.route("mine"), keys.routeUnique("/api/", 70))).toBe(0);
  });
});

describe("bad route input gets a 4xx JSON error and writes nothing", () => {
  const cases: [string, string, string, unknown, number, RegExp][] = [
    ["missing target", "POST", "/api/v1/routes/", { path_pattern: "/a", target_type: "url" }, 422, /target_value/],
    ["unknown target type", "POST", "/api/v1/routes/", route({ target_type: "port" }), 422, /target_type/],
    ["unknown field", "POST", "/api/v1/routes/", route({ weight: 3 }), 422, /weight/],
    ["invalid regex", "POST", "/api/v1/routes/", route({ path_pattern: "([", is_regex: true }), 422, /regular expression/],
    ["prefix without slash", "POST", "/api/v1/routes/", route({ path_pattern: "api" }), 422, /starts with \//],
    ["bad method", "POST", "/api/v1/routes/", route({ methods: ["FETCH"] }), 422, /FETCH/],
    ["priority out of range", "POST", "/api/v1/routes/", route({ priority: 5000 }), 422, /priority/],
    ["proxy scope without proxies", "POST", "/api/v1/routes/", route({ scope: "proxy" }), 422, /proxy_hostnames/],
    ["bad proxy hostname", "POST", "/api/v1/routes/", route({ scope: "proxy", proxy_hostnames: ["not a host"] }), 422, /not a hostname/],
    ["target with credentials", "POST", "/api/v1/routes/", route({ target_value: "http://u:p@h" }), 422, /credentials/],
    ["bad service name", "POST", "/api/v1/routes/", route({ target_type: "service", target_value: "a b" }), 422, /service name/],
    ["bad route id", "POST", "/api/v1/routes/", route({ route_id: "has space" }), 422, /route_id/],
    ["reserved route id", "POST", "/api/v1/routes/", route({ route_id: "formatted" }), 422, /route_id/],
    ["duplicate path and priority", "POST", "/api/v1/routes/", route({ route_id: "other" }), 409, /same path_pattern and priority/],
    ["duplicate id", "POST", "/api/v1/routes/", route({ route_id: "taken", priority: 1 }), 409, /already exists/],
    ["update into a duplicate", "PUT", "/api/v1/routes/second", { priority: 50, path_pattern: "/api/" }, 409, /same path_pattern/],
    ["update of a missing route", "PUT", "/api/v1/routes/ghost", { enabled: false }, 404, /not found/],
    ["delete of a missing route", "DELETE", "/api/v1/routes/ghost", undefined, 404, /not found/],
  ];
  for (const [name, method, path, body, status, detail] of cases) {
    test(name, async () => {
      await create(route({ route_id: "taken" }));
      await create(route({ route_id: "second", path_pattern: "/b/" }));
      const before = await snapshot(suite.redis);
      const res = await suite.api.call(method, path, { body });
      expect(res.status).toBe(status);
      expect(res.json.error).toBeString();
      expect(res.json.detail).toMatch(detail);
      expect(await snapshot(suite.redis)).toEqual(before);
    });
  }
});
