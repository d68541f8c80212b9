/**
 * /api/v1/services/external, /unified: external services (`service:external:{name}`,
 * `services:external`, `service:url:{name}` kept in step), the internal `api`
 * service, ownership between two tokens, reserved names, and deletion refused
 * while a route or proxy uses the service.
 */
import { describe, expect, test } from "bun:test";
import { parseStreamEntry } from "../../src/orchestration/events";
import { keys } from "../../src/storage/keys";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();
const register = (body: unknown, token?: string) => suite.api.call("POST", "/api/v1/services/external", { body, token });
const newToken = async (name: string) => (await suite.api.call("POST", "/api/v1/tokens/", { body: { name } })).json.token as string;
const events = async () => ((await suite.redis.client.xrange(keys.workflowStream, "-", "+")) as [string, string[]][]).map(parseStreamEntry);

describe("external services", () => {
  test("register, list (with or without slash), show, update, delete; records, index and URL in step", async () => {
    const created = await register({ service_name: "billing", target_url: "https://billing.example.com/v1", description: "Billing API" });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      service_name: "billing",
      service_type: "external",
      target_url: "https://billing.example.com/v1",
      description: "Billing API",
      routing_enabled: true,
      created_by: "admin",
    });
    expect(created.json.owner_token_hash).toMatch(/^[0-9a-f]{64}$|^sha256:/);
    expect(JSON.parse((await suite.redis.client.get(keys.serviceExternal("billing")))!)).toEqual(created.json);
    expect(await suite.redis.client.smembers(keys.serviceExternalNames)).toEqual(["billing"]);
    expect(await suite.redis.client.get(keys.serviceUrl("billing"))).toBe("https://billing.example.com/v1");
    expect((await events()).map((e) => [e.event_type, e.data])).toEqual([["service_url_changed", { name: "billing" }]]);

    for (const path of ["/api/v1/services/external", "/api/v1/services/external/"]) {
      const list = await suite.api.call("GET", path);
      expect([path, list.status, list.json]).toEqual([path, 200, [created.json]]);
    }
    expect((await suite.api.call("GET", "/api/v1/services/external/billing")).json).toEqual(created.json);

    const updated = await suite.api.call("PUT", "/api/v1/services/external/billing", { body: { target_url: "http://10.0.0.9:8080" } });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ target_url: "http://10.0.0.9:8080", description: "Billing API", created_at: created.json.created_at });
    expect(await suite.redis.client.get(keys.serviceUrl("billing"))).toBe("http://10.0.0.9:8080");

    const off = await suite.api.call("PUT", "/api/v1/services/external/billing", { body: { routing_enabled: false } });
    expect(off.json.routing_enabled).toBe(false);
    expect(await suite.redis.client.exists(keys.serviceUrl("billing"))).toBe(0);
    await suite.api.call("PUT", "/api/v1/services/external/billing", { body: { routing_enabled: true, description: "" } });
    expect(await suite.redis.client.get(keys.serviceUrl("billing"))).toBe("http://10.0.0.9:8080");

    const deleted = await suite.api.call("DELETE", "/api/v1/services/external/billing");
    expect([deleted.status, deleted.json]).toEqual([200, { deleted: "billing" }]);
    for (const key of [keys.serviceExternal("billing"), keys.serviceUrl("billing"), keys.serviceExternalNames]) expect(await suite.redis.client.exists(key)).toBe(0);
    expect((await suite.redis.client.keys("owner:*")).length).toBe(0);
    expect((await suite.api.call("GET", "/api/v1/services/external/billing")).status).toBe(404);
    expect((await suite.api.call("DELETE", "/api/v1/services/external/billing")).status).toBe(404);
    expect((await events()).every((e) => e.event_type === "service_url_changed")).toBe(true);
  });

  test("bad input is a 4xx naming the problem, and writes nothing", async () => {
    await register({ service_name: "taken", target_url: "http://127.0.0.1:1" });
    const before = await snapshot(suite.redis);
    const cases: [string, unknown, number, RegExp][] = [
      ["upper case", { service_name: "Billing", target_url: "http://a.example" }, 422, /service_name/],
      ["dots", { service_name: "a.b", target_url: "http://a.example" }, 422, /service_name/],
      ["leading hyphen", { service_name: "-a", target_url: "http://a.example" }, 422, /service_name/],
      ["too long", { service_name: "a".repeat(64), target_url: "http://a.example" }, 422, /service_name/],
      ["no url", { service_name: "x" }, 422, /target_url/],
      ["ftp", { service_name: "x", target_url: "ftp://a.example" }, 422, /target_url: only http and https/],
      ["not a url", { service_name: "x", target_url: "nope" }, 422, /target_url/],
      ["credentials", { service_name: "x", target_url: "http://u:p@a.example" }, 422, /credentials/],
      ["unknown field", { service_name: "x", target_url: "http://a.example", owner_token_hash: "x" }, 422, /owner_token_hash|propert/],
      ["wrong type", { service_name: "x", target_url: "http://a.example", routing_enabled: "yes" }, 422, /routing_enabled/],
      ["reserved api", { service_name: "api", target_url: "http://a.example" }, 409, /reserved/],
      ["reserved auth", { service_name: "auth", target_url: "http://a.example" }, 409, /reserved/],
      ["taken", { service_name: "taken", target_url: "http://a.example" }, 409, /already exists/],
    ];
    for (const [label, body, status, detail] of cases) {
      const res = await register(body);
      expect([label, res.status]).toEqual([label, status]);
      expect([label, typeof res.json.error]).toEqual([label, "string"]);
      expect(JSON.stringify(res.json)).toMatch(detail);
    }
    const badJson = await suite.api.call("POST", "/api/v1/services/external", { raw: "{" });
    expect(badJson.status).toBe(400);
    const rename = await suite.api.call("PUT", "/api/v1/services/external/taken", { body: { service_name: "other" } });
    expect([rename.status, rename.json.detail]).toEqual([422, expect.stringContaining("cannot be renamed")]);
    const badUpdate = await suite.api.call("PUT", "/api/v1/services/external/taken", { body: { target_url: "gopher://x" } });
    expect(badUpdate.status).toBe(422);
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("a Docker service's name is taken too", async () => {
    await suite.redis.client.set(keys.dockerService("web"), JSON.stringify({ service_name: "web", owner_token_hash: null }));
    const res = await register({ service_name: "web", target_url: "http://a.example" });
    expect([res.status, res.json.detail]).toEqual([409, expect.stringContaining("Docker service")]);
  });

  test("ownership: a user sees and changes only their own; the admin sees all; the token's delete cascades", async () => {
    const alice = await newToken("alice");
    const bob = await newToken("bob");
    expect((await register({ service_name: "alice-svc", target_url: "http://10.0.0.1" }, alice)).json.created_by).toBe("alice");
    expect((await register({ service_name: "bob-svc", target_url: "http://10.0.0.2" }, bob)).status).toBe(201);

    expect((await suite.api.call("GET", "/api/v1/services/external", { token: alice })).json.map((s: any) => s.service_name)).toEqual(["alice-svc"]);
    expect((await suite.api.call("GET", "/api/v1/services/external", { token: bob })).json.map((s: any) => s.service_name)).toEqual(["bob-svc"]);
    expect((await suite.api.call("GET", "/api/v1/services/external")).json.map((s: any) => s.service_name)).toEqual(["alice-svc", "bob-svc"]);

    for (const [method, body] of [["GET", undefined], ["PUT", { description: "mine" }], ["DELETE", undefined]] as const) {
      const res = await suite.api.call(method, "/api/v1/services/external/alice-svc", { token: bob, body });
      expect([method, res.status]).toEqual([method, 404]);
    }
    expect((await suite.api.call("GET", "/api/v1/services/external/alice-svc")).json.description).toBe("");
    // A name another token holds is still taken.
    expect((await register({ service_name: "alice-svc", target_url: "http://10.0.0.3" }, bob)).status).toBe(409);

    const unifiedBob = await suite.api.call("GET", "/api/v1/services/unified", { token: bob });
    expect(unifiedBob.json.map((s: any) => [s.service_name, s.owner])).toEqual([["bob-svc", "bob"], ["api", null]]);
    const unifiedAdmin = await suite.api.call("GET", "/api/v1/services/unified?type=external");
    expect(unifiedAdmin.json.map((s: any) => [s.service_name, s.owner])).toEqual([["alice-svc", "alice"], ["bob-svc", "bob"]]);

    expect((await suite.api.call("PUT", "/api/v1/services/external/alice-svc", { token: alice, body: { target_url: "http://10.0.0.7" } })).status).toBe(200);
    expect((await suite.api.call("DELETE", "/api/v1/tokens/alice")).status).toBe(200);
    expect(await suite.redis.client.exists(keys.serviceExternal("alice-svc"), keys.serviceUrl("alice-svc"))).toBe(0);
    expect(await suite.redis.client.smembers(keys.serviceExternalNames)).toEqual(["bob-svc"]);
    expect(await suite.redis.client.get(keys.serviceUrl("bob-svc"))).toBe("http://10.0.0.2");
  });

  test("deleting a service a route or proxy uses is a 409 naming them, unless force=true", async () => {
    await register({ service_name: "backend", target_url: "http://127.0.0.1:4000" });
    expect((await suite.api.call("POST", "/api/v1/routes/", { body: { route_id: "to-backend", path_pattern: "/b/", target_type: "service", target_value: "backend" } })).status).toBe(201);
    expect((await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "svc.example.com", target_url: "service:backend" } })).status).toBe(201);
    const before = await snapshot(suite.redis);
    const refused = await suite.api.call("DELETE", "/api/v1/services/external/backend");
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toContain("routes to-backend");
    expect(refused.json.detail).toContain("proxies svc.example.com");
    expect(refused.json.detail).toContain("force=true");
    expect(await snapshot(suite.redis)).toEqual(before);

    expect((await suite.api.call("DELETE", "/api/v1/services/external/backend?force=false")).status).toBe(409);
    const forced = await suite.api.call("DELETE", "/api/v1/services/external/backend?force=true");
    expect([forced.status, forced.json]).toEqual([200, { deleted: "backend" }]);
    expect(await suite.redis.client.exists(keys.serviceUrl("backend"))).toBe(0);
  });

  test("a user's 409 names only the routes and proxies they can see, and counts the rest", async () => {
    const alice = await newToken("alice");
    const bob = await newToken("bob");
    await register({ service_name: "shared", target_url: "http://127.0.0.1:4000" }, alice);
    expect((await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "alice.example.com", target_url: "service:shared" }, token: alice })).status).toBe(201);
    expect((await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "bob-secret.example.com", target_url: "service:shared" }, token: bob })).status).toBe(201);
    const refused = await suite.api.call("DELETE", "/api/v1/services/external/shared", { token: alice });
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toContain("proxies alice.example.com");
    expect(refused.json.detail).toContain("1 route(s) or proxies of other tokens");
    expect(refused.json.detail).not.toContain("bob-secret");
  });
});

describe("internal services and the unified view", () => {
  test("api is listed as internal with the URL the gateway registered; it cannot be changed or deleted", async () => {
    await suite.api.services.registerInternal("api", "http://127.0.0.1:9000");
    expect(await suite.redis.client.get(keys.serviceUrl("api"))).toBe("http://127.0.0.1:9000");
    const alice = await newToken("alice");
    for (const token of [undefined, alice]) {
      const res = await suite.api.call("GET", "/api/v1/services/unified?type=internal", { token });
      expect(res.json).toEqual([{ service_name: "api", service_type: "internal", url: "http://127.0.0.1:9000", status: "internal", owner: null }]);
    }
    const del = await suite.api.call("DELETE", "/api/v1/services/external/api");
    expect([del.status, del.json.error]).toEqual([403, "forbidden"]);
    expect(del.json.detail).toContain("internal service");
    expect((await suite.api.call("PUT", "/api/v1/services/external/api", { body: { target_url: "http://evil.example" } })).status).toBe(403);
    expect(await suite.redis.client.get(keys.serviceUrl("api"))).toBe("http://127.0.0.1:9000");
  });

  test("unified lists Docker records if any, external and internal; ?type filters; a bad type is a 400 naming it", async () => {
    await suite.api.services.registerInternal("api", "http://127.0.0.1:9000");
    await register({ service_name: "ext", target_url: "http://10.1.1.1" });
    await suite.redis.client.set(keys.dockerService("web"), JSON.stringify({ service_name: "web", owner_token_hash: null, status: "running" }));
    await suite.redis.client.set(keys.serviceUrl("web"), "http://10.88.0.5:80");
    const all = await suite.api.call("GET", "/api/v1/services/unified");
    expect(all.status).toBe(200);
    expect(all.json).toEqual([
      { service_name: "web", service_type: "docker", url: "http://10.88.0.5:80", status: "running", owner: null },
      { service_name: "ext", service_type: "external", url: "http://10.1.1.1", status: "registered", owner: "admin" },
      { service_name: "api", service_type: "internal", url: "http://127.0.0.1:9000", status: "internal", owner: null },
    ]);
    for (const type of ["docker", "external", "internal"]) {
      const res = await suite.api.call("GET", `/api/v1/services/unified?type=${type}`);
      expect(res.json.map((s: any) => s.service_type)).toEqual([type]);
    }
    const bad = await suite.api.call("GET", "/api/v1/services/unified?type=vm");
    expect([bad.status, bad.json.error]).toEqual([400, "invalid_parameter"]);
    expect(bad.json.detail).toStartWith("type:");
    expect((await suite.api.call("GET", "/api/v1/services/unified", { token: null })).status).toBe(401);
  });

  test("with no Docker records, the Docker part is empty", async () => {
    expect((await suite.api.call("GET", "/api/v1/services/unified?type=docker")).json).toEqual([]);
  });
});

describe("proxies naming a service", () => {
  test("target_url service:{name} is accepted; a bad name is a 422", async () => {
    const ok = await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "a.example.com", target_url: "service:api" } });
    expect([ok.status, ok.json.target_url]).toEqual([201, "service:api"]);
    const bad = await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "b.example.com", target_url: "service:Bad_Name" } });
    expect([bad.status, bad.json.detail]).toEqual([422, expect.stringContaining("target_url")]);
  });
});
