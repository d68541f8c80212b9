/**
 * target_url (proxies, external services) and a url route's target_value are
 * stored and returned exactly as sent — `http://127.0.0.1:PORT` without a
 * trailing slash — while forwarding parses them the same as before: requests
 * reach the backend at the right path, under a base path too. A value the URL
 * parser would quietly change (a space, a newline) is refused instead.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

let redis: TestRedis;
let node: TestGateway;
const app = namedBackend("app");
const api = namedBackend("api");
const billing = namedBackend("billing");

beforeAll(async () => {
  redis = await startTestRedis();
  node = await startTestGateway(redis);
});
afterAll(async () => {
  await node?.stop();
  await redis?.stop();
  for (const backend of [app, api, billing]) backend.stop(true);
});

/** What the backend saw (its name and the path it got), or the gateway's status when no backend answered. */
const backendOf = async (host: string, path: string): Promise<{ backend?: string; path?: string; status: number }> => {
  const res = await node.get(host, path);
  return res.status === 200 ? { ...((await res.json()) as { backend: string; path: string }), status: 200 } : { status: res.status };
};

describe("target URLs as sent", () => {
  test("a proxy's target_url comes back as sent, on create, show, list and update, and requests reach the backend", async () => {
    const sent = `http://127.0.0.1:${app.port}`;
    const created = await node.api("POST", "/api/v1/proxy/targets/", { hostname: "app.example.com", target_url: sent });
    expect(created.status).toBe(201);
    expect(created.json.target_url).toBe(sent);
    expect((await node.api("GET", "/api/v1/proxy/targets/app.example.com")).json.target_url).toBe(sent);
    expect((await node.api("GET", "/api/v1/proxy/targets/")).json.find((p: any) => p.hostname === "app.example.com").target_url).toBe(sent);
    expect(JSON.parse((await redis.client.get("proxy:app.example.com"))!).target_url).toBe(sent);
    expect(await within(2_000, async () => (await backendOf("app.example.com", "/x/y?z=1")).path === "/x/y?z=1")).toBe(true);

    // A base path without a trailing slash stays so, and is still prefixed to every request path.
    const based = `http://127.0.0.1:${app.port}/base`;
    const updated = await node.api("PUT", "/api/v1/proxy/targets/app.example.com", { target_url: based });
    expect(updated.status).toBe(200);
    expect(updated.json.target_url).toBe(based);
    expect(await within(2_000, async () => (await backendOf("app.example.com", "/x")).path === "/base/x")).toBe(true);
    expect((await backendOf("app.example.com", "/")).path).toBe("/base/");
  });

  test("a url route's target_value comes back as sent, and the route forwards to it", async () => {
    const sent = `http://127.0.0.1:${api.port}`;
    const created = await node.api("POST", "/api/v1/routes/", { route_id: "api-route", path_pattern: "/api/", target_type: "url", target_value: sent, priority: 80 });
    expect(created.status).toBe(201);
    expect(created.json.target_value).toBe(sent);
    expect((await node.api("GET", "/api/v1/routes/api-route")).json.target_value).toBe(sent);
    expect(await within(2_000, async () => (await backendOf("app.example.com", "/api/v1/things")).backend === "api")).toBe(true);
    expect(await backendOf("app.example.com", "/api/v1/things")).toMatchObject({ backend: "api", path: "/api/v1/things" });
  });

  test("an external service's target_url comes back as sent, and a proxy naming the service reaches it", async () => {
    const sent = `http://127.0.0.1:${billing.port}`;
    const registered = await node.api("POST", "/api/v1/services/external", { service_name: "billing", target_url: sent });
    expect(registered.status).toBe(201);
    expect(registered.json.target_url).toBe(sent);
    expect((await node.api("GET", "/api/v1/services/external/billing")).json.target_url).toBe(sent);
    expect(await redis.client.get("service:url:billing")).toBe(sent);
    expect((await node.api("POST", "/api/v1/proxy/targets/", { hostname: "billing.example.com", target_url: "service:billing" })).status).toBe(201);
    expect(await within(2_000, async () => (await backendOf("billing.example.com", "/invoices")).path === "/invoices")).toBe(true);
    expect(await backendOf("billing.example.com", "/invoices")).toMatchObject({ backend: "billing" });
  });

  test("spaces and control characters the URL parser would drop are refused, naming the field; nothing is stored", async () => {
    for (const target of [` http://127.0.0.1:${app.port}`, `http://127.0.0.1:${app.port} `, `http://127.0.0.1:${app.port}/a\nb`, `http://127.0.\t0.1:${app.port}`]) {
      const proxy = await node.api("POST", "/api/v1/proxy/targets/", { hostname: "bad.example.com", target_url: target });
      expect(proxy.status).toBe(422);
      expect(proxy.json.detail).toStartWith("target_url:");
      const route = await node.api("POST", "/api/v1/routes/", { route_id: "bad-route", path_pattern: "/bad/", target_type: "url", target_value: target });
      expect(route.status).toBe(422);
      expect(route.json.detail).toStartWith("target_value:");
      const service = await node.api("POST", "/api/v1/services/external", { service_name: "bad", target_url: target });
      expect(service.status).toBe(422);
      expect(service.json.detail).toStartWith("target_url:");
    }
    expect((await node.api("GET", "/api/v1/proxy/targets/bad.example.com")).status).toBe(404);
    expect((await node.api("GET", "/api/v1/routes/bad-route")).status).toBe(404);
    expect((await node.api("GET", "/api/v1/services/external/bad")).status).toBe(404);
  });
});
