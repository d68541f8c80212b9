/**
 * Services through the edge, end to end on a real gateway and real sockets: a
 * route to the internal service `api` reaches the gateway's own API, and a
 * route and a proxy (`service:{name}`) naming an external service follow its
 * target_url when it is updated — within 100 ms, and with Redis paused after
 * the change, so nothing on the request path reads it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { internalApiUrl } from "../../src/gateway";
import { keys } from "../../src/storage/keys";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let node: TestGateway;
const blue = namedBackend("blue");
const green = namedBackend("green");
const home = namedBackend("home");

beforeAll(async () => {
  redis = await startTestRedis();
  node = await startTestGateway(redis);
});
afterAll(async () => {
  await node?.stop();
  await redis?.stop();
  for (const backend of [blue, green, home]) backend.stop(true);
});

const backendOf = async (host: string, path: string) => {
  const res = await node.get(host, path);
  return res.status === 200 ? ((await res.json()) as { backend?: string }).backend ?? "not a backend" : `status ${res.status}`;
};

test("the gateway registers its own API as internal service api; a route to service api reaches it", async () => {
  expect(await redis.client.get(keys.serviceUrl("api"))).toBe(`http://127.0.0.1:${node.gateway.apiPort}`);
  const unified = await node.api("GET", "/api/v1/services/unified?type=internal");
  expect(unified.json).toEqual([{ service_name: "api", service_type: "internal", url: `http://127.0.0.1:${node.gateway.apiPort}`, status: "internal", owner: null }]);

  expect((await node.api("POST", "/api/v1/proxy/targets/", { hostname: "home.example.com", target_url: `http://127.0.0.1:${home.port}` })).status).toBe(201);
  const route = await node.api("POST", "/api/v1/routes/", { route_id: "gateway-health", path_pattern: "/health", target_type: "service", target_value: "api", priority: 90 });
  expect(route.status).toBe(201);
  const res = await node.get("home.example.com", "/health");
  expect(res.status).toBe(200);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.backend).toBeUndefined();
  expect(body.status).toBeDefined();
  // Other paths still go to the proxy's own backend.
  expect(await backendOf("home.example.com", "/elsewhere")).toBe("home");
  await node.api("DELETE", "/api/v1/routes/gateway-health");
});

test("a route and a service: proxy follow an external service's update within 100 ms, with no Redis on the request path", async () => {
  expect((await node.api("POST", "/api/v1/services/external", { service_name: "colour", target_url: `http://127.0.0.1:${blue.port}` })).status).toBe(201);
  expect((await node.api("POST", "/api/v1/proxy/targets/", { hostname: "colour.example.com", target_url: "service:colour" })).status).toBe(201);
  expect((await node.api("POST", "/api/v1/routes/", { route_id: "colour-route", path_pattern: "/colour/", target_type: "service", target_value: "colour" })).status).toBe(201);
  const ready = Date.now() + 2_000;
  while (Date.now() < ready && ((await backendOf("colour.example.com", "/")) !== "blue" || (await backendOf("home.example.com", "/colour/x")) !== "blue")) await Bun.sleep(10);
  expect(await backendOf("colour.example.com", "/")).toBe("blue");
  expect(await backendOf("home.example.com", "/colour/x")).toBe("blue");

  const updated = await node.api("PUT", "/api/v1/services/external/colour", { target_url: `http://127.0.0.1:${green.port}` });
  expect(updated.status).toBe(200);
  const changedAt = performance.now();
  let proxySwitched = -1;
  let routeSwitched = -1;
  while (performance.now() - changedAt < 1_000 && (proxySwitched < 0 || routeSwitched < 0)) {
    if (proxySwitched < 0 && (await backendOf("colour.example.com", "/")) === "green") proxySwitched = performance.now() - changedAt;
    if (routeSwitched < 0 && (await backendOf("home.example.com", "/colour/x")) === "green") routeSwitched = performance.now() - changedAt;
  }
  expect(proxySwitched).toBeGreaterThanOrEqual(0);
  expect(routeSwitched).toBeGreaterThanOrEqual(0);
  expect(proxySwitched).toBeLessThan(100);
  expect(routeSwitched).toBeLessThan(100);

  // Every Redis client stalls for a second: the edge keeps answering from memory, at the new URL.
  const admin = redis.client.duplicate();
  await admin.call("CLIENT", "PAUSE", "1000", "ALL");
  const started = performance.now();
  expect(await backendOf("colour.example.com", "/")).toBe("green");
  expect(await backendOf("home.example.com", "/colour/x")).toBe("green");
  expect(performance.now() - started).toBeLessThan(500);
  // The pause was real: a Redis command waited for it to end.
  const pinged = performance.now();
  await redis.client.ping();
  expect(performance.now() - pinged).toBeGreaterThan(300);
  admin.disconnect();

  // Routing off: the name resolves to nothing and both answer 502; on again, they are back.
  await node.api("PUT", "/api/v1/services/external/colour", { routing_enabled: false });
  const off = Date.now() + 1_000;
  while (Date.now() < off && (await backendOf("colour.example.com", "/")) !== "status 502") await Bun.sleep(10);
  expect(await backendOf("colour.example.com", "/")).toBe("status 502");
  expect(await backendOf("home.example.com", "/colour/x")).toBe("status 502");
});

test("writes to external services are audited with what changed", async () => {
  expect((await node.api("POST", "/api/v1/services/external", { service_name: "audited", target_url: "http://10.0.0.1" })).status).toBe(201);
  expect((await node.api("PUT", "/api/v1/services/external/audited", { target_url: "http://10.0.0.2" })).status).toBe(200);
  let entries: any[] = [];
  const found = Date.now() + 2_000;
  while (Date.now() < found && entries.length < 2) {
    entries = (await node.api("GET", "/api/v1/logs/audit?limit=1000&path=/api/v1/services/external*")).json.entries ?? [];
    entries = entries.filter((e: any) => e.resource_id === "audited");
    if (entries.length < 2) await Bun.sleep(20);
  }
  const update = entries.find((e: any) => e.method === "PUT");
  expect(update).toMatchObject({ resource_kind: "external_service", resource_id: "audited", status: 200 });
  expect(JSON.stringify(update)).toContain("http://10.0.0.2");
  expect(entries.find((e: any) => e.method === "POST")).toMatchObject({ resource_kind: "external_service", resource_id: "audited", status: 201 });
});

test("internalApiUrl: loopback for a wildcard bind, the bind address otherwise", () => {
  expect(internalApiUrl("0.0.0.0", 9000)).toBe("http://127.0.0.1:9000");
  expect(internalApiUrl("::", 9000)).toBe("http://127.0.0.1:9000");
  expect(internalApiUrl("10.0.0.2", 9000)).toBe("http://10.0.0.2:9000");
  expect(internalApiUrl("::1", 9000)).toBe("http://[::1]:9000");
});
