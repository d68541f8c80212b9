/**
 * The API checks who is calling before it reads a body, parses JSON with a
 * nesting limit, and is not on the public listeners unless the operator puts
 * it there. Every write endpoint of the OpenAPI document is tried without a
 * token, with a body built to overflow a recursive parser or serialiser.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const NESTED = "[".repeat(100_000) + "]".repeat(100_000);
const HOST = "app.example.test";
let redis: TestRedis;
let gw: TestGateway;
let user: string;
const backend = namedBackend("app");

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test" });
  user = (await gw.api("POST", "/api/v1/tokens/", { name: "user" })).json.token;
  expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}` })).status).toBe(201);
  for (let i = 0; i < 100 && (await gw.get(HOST)).status !== 200; i++) await Bun.sleep(20);
});
afterAll(async () => {
  await gw?.stop();
  backend.stop(true);
  await redis?.stop();
});

const api = (path: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${gw.gateway.apiPort}${path}`, init);

async function writeEndpoints(): Promise<{ method: string; path: string }[]> {
  const spec = (await (await api("/api/v1/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };
  const out: { method: string; path: string }[] = [];
  for (const [path, operations] of Object.entries(spec.paths)) {
    if (!path.startsWith("/api/v1/")) continue;
    for (const method of Object.keys(operations)) {
      if (["post", "put", "patch", "delete"].includes(method)) out.push({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, "x.example.test") });
    }
  }
  return out;
}

describe("authentication comes before the body", () => {
  test("every write endpoint answers a token-less request with 401, whatever the body", async () => {
    const endpoints = await writeEndpoints();
    expect(endpoints.length).toBeGreaterThan(20);
    for (const { method, path } of endpoints) {
      for (const body of [NESTED, '{"unknown_field": 1}', "not json"]) {
        const res = await api(path, { method, headers: { "content-type": "application/json" }, body });
        const answer = { method, path, status: res.status, error: ((await res.json()) as any).error };
        expect(answer).toEqual({ method, path, status: 401, error: "unauthorized" });
      }
    }
  });

  test("a user token on the OAuth admin API is refused (403) before its body is looked at", async () => {
    const endpoints = (await writeEndpoints()).filter((e) => e.path.startsWith("/api/v1/oauth/"));
    expect(endpoints.length).toBeGreaterThan(0);
    for (const { method, path } of endpoints) {
      const res = await api(path, { method, headers: { authorization: `Bearer ${user}`, "content-type": "application/json" }, body: NESTED });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
  });
});

describe("JSON bodies are parsed with limits", () => {
  test("deep nesting from an authenticated caller is a 400 naming the limit, and stalls nothing", async () => {
    const proxied = (async () => {
      const started = performance.now();
      const results: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        expect((await gw.get(HOST)).status).toBe(200);
        results.push(performance.now() - t0);
      }
      return { slowest: Math.max(...results), total: performance.now() - started };
    })();
    const attacks = await Promise.all(
      Array.from({ length: 5 }, () => api("/api/v1/proxy/targets/", { method: "POST", headers: { authorization: `Bearer ${user}`, "content-type": "application/json" }, body: NESTED })),
    );
    for (const res of attacks) {
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; detail: string };
      expect(body.error).toBe("invalid_json");
      expect(body.detail).toContain("deeper than 64");
    }
    expect((await proxied).slowest).toBeLessThan(500);
  });

  test("malformed JSON is a 400 and nothing is written", async () => {
    const res = await api("/api/v1/proxy/targets/", { method: "POST", headers: { authorization: `Bearer ${user}`, "content-type": "application/json" }, body: '{"hostname": "x.example.test",' });
    expect(res.status).toBe(400);
    expect((await gw.api("GET", "/api/v1/proxy/targets/x.example.test")).status).toBe(404);
  });

  test("dynamic client registration refuses deep nesting with an RFC 7591 error", async () => {
    const res = await gw.get("auth.example.test", "/register", { method: "POST", headers: { "content-type": "application/json" }, body: `{"redirect_uris": ${"[".repeat(5_000)}${"]".repeat(5_000)}}` });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toBe("invalid_client_metadata");
  });
});

describe("the admin API stays off the public listeners", () => {
  test("by default Host: localhost on HTTP_PORT is an unknown host, not the API", async () => {
    const res = await gw.get("localhost", "/api/v1/tokens/", { headers: { authorization: `Bearer ${user}` } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe("unknown_host");
  });

  test("API_HOSTNAME opts a hostname in, for clients in API_ALLOWED_CIDRS only", async () => {
    const open = await startTestGateway(redis, { API_HOSTNAME: "api.example.test" });
    const closed = await startTestGateway(redis, { API_HOSTNAME: "api.example.test", API_ALLOWED_CIDRS: "192.0.2.0/24" });
    try {
      const auth = { authorization: `Bearer ${user}` };
      expect((await open.get("api.example.test", "/api/v1/tokens/", { headers: auth })).status).toBe(200);
      const refused = await closed.get("api.example.test", "/api/v1/tokens/", { headers: auth });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as any).detail).toContain("API_ALLOWED_CIDRS");
    } finally {
      await open.stop();
      await closed.stop();
    }
  });

  test("/metrics needs no token, so it follows the same front door and shows no paths, queries or client addresses", async () => {
    const open = await startTestGateway(redis, { API_HOSTNAME: "api.example.test" });
    const closed = await startTestGateway(redis, { API_HOSTNAME: "api.example.test", API_ALLOWED_CIDRS: "192.0.2.0/24" });
    try {
      expect((await gw.get("localhost", "/metrics")).status).toBe(404);
      const refused = await closed.get("api.example.test", "/metrics");
      expect(refused.status).toBe(403);
      expect(await refused.text()).not.toContain("portcullis_");
      // Traffic with a secret in the path and query, and a spoofed client address, leaves no trace in the labels.
      await open.get("secret-host-4f1c.example.test", "/private/path-4f1c?access_token=tok-4f1c", { headers: { "x-forwarded-for": "198.51.100.77" } });
      const metrics = await open.get("api.example.test", "/metrics");
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(text).toContain('portcullis_http_requests_total{host="unknown"');
      for (const leak of ["4f1c", "198.51.100.77", "127.0.0.1"]) expect(text).not.toContain(leak);
    } finally {
      await open.stop();
      await closed.stop();
    }
  });
});
