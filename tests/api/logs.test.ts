/**
 * /api/v1/logs/* on the real API app and a real Redis: each endpoint and
 * filter, the ownership rule with two tokens, 400s that name the parameter,
 * statistics against known traffic, and clearing (admin only).
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { requestLogKeys as keys, hourBucket } from "../../src/consumers/request-log/keys";
import type { RequestRecord } from "../../src/consumers/request-log/record";
import { useApiHarness } from "../helpers/api-app";
import { requestRecord, seedFlush } from "../helpers/request-log-seed";

const suite = useApiHarness();
const get = (path: string, token?: string) => suite.api.call("GET", path, { token });
const ids = (json: { records: RequestRecord[] }) => json.records.map((r) => r.request_id);

let alice: string;
let bob: string;
let carol: string;
/** Flush times: a little in the past, inside the default 24 h. */
let t0: number;

async function userToken(name: string): Promise<string> {
  return (await suite.api.call("POST", "/api/v1/tokens/", { body: { name } })).json.token;
}

beforeEach(async () => {
  alice = await userToken("alice");
  bob = await userToken("bob");
  carol = await userToken("carol");
  for (const [token, hostname] of [[alice, "one.test"], [bob, "two.test"]] as const) {
    const created = await suite.api.call("POST", "/api/v1/proxy/targets/", { token, body: { hostname, target_url: "http://127.0.0.1:9" } });
    expect(created.status).toBe(201);
  }
  t0 = Date.now() - 10 * 60_000;
  // alice's proxy: a, c, d; bob's: b, f; nobody's (unknown host): e.
  await seedFlush(suite.redis.client, t0, [
    requestRecord({ request_id: "a", ts: t0 - 50, ip: "10.0.0.1", host: "one.test", proxy: "one.test", status: 200, method: "GET", path: "/api/items", user: "alice-gh", client_id: "client-1", duration_ms: 10 }),
    requestRecord({ request_id: "b", ts: t0 - 40, ip: "10.0.0.1", host: "two.test", proxy: "two.test", status: 502, method: "POST", path: "/", duration_ms: 20 }),
    requestRecord({ request_id: "c", ts: t0 - 30, ip: "10.0.0.2", host: "one.test", proxy: "one.test", status: 404, method: "GET", path: "/api/missing", duration_ms: 30 }),
  ]);
  await seedFlush(suite.redis.client, t0 + 1000, [
    requestRecord({ request_id: "d", ts: t0 + 980, ip: "10.0.0.1", host: "one.test", proxy: "one.test", status: 201, method: "POST", path: "/api/items", user: "alice-gh", client_id: "client-1", duration_ms: 1500 }),
  ]);
  await seedFlush(suite.redis.client, t0 + 2000, [
    requestRecord({ request_id: "e", ts: t0 + 1990, ip: "10.0.0.3", host: "nobody.test", status: 404, method: "GET", path: "/x", kind: "gateway", error: "unknown_host", duration_ms: 1 }),
    requestRecord({ request_id: "f", ts: t0 + 1995, ip: "10.0.0.1", host: "two.test", proxy: "two.test", status: 503, method: "GET", path: "/health", user: "bob-gh", duration_ms: 40 }),
  ]);
});

describe("queries", () => {
  test("search with no filter: every record for the admin, newest first, in { records, count, truncated }", async () => {
    const res = await get("/api/v1/logs/search");
    expect(res.status).toBe(200);
    expect({ ids: ids(res.json), count: res.json.count, truncated: res.json.truncated }).toEqual({ ids: ["f", "e", "d", "c", "b", "a"], count: 6, truncated: false });
    expect(res.json.records[0]).toMatchObject({ request_id: "f", ip: "10.0.0.1", host: "two.test", status: 503, user: "bob-gh" });
  });

  test("each endpoint and filter", async () => {
    const cases: [string, string[]][] = [
      ["/api/v1/logs/ip/10.0.0.1", ["f", "d", "b", "a"]],
      ["/api/v1/logs/host/one.test", ["d", "c", "a"]],
      ["/api/v1/logs/host/ONE.test", ["d", "c", "a"]],
      ["/api/v1/logs/client/client-1", ["d", "a"]],
      ["/api/v1/logs/user/alice-gh", ["d", "a"]],
      ["/api/v1/logs/errors", ["f", "e", "c", "b"]],
      ["/api/v1/logs/errors?host=two.test", ["f", "b"]],
      ["/api/v1/logs/slow", ["d"]],
      ["/api/v1/logs/search?status=5xx", ["f", "b"]],
      ["/api/v1/logs/search?status=404", ["e", "c"]],
      ["/api/v1/logs/search?method=post", ["d", "b"]],
      ["/api/v1/logs/search?path=/api/items", ["d", "a"]],
      ["/api/v1/logs/search?path=/api/*", ["d", "c", "a"]],
      ["/api/v1/logs/search?path=/api/items&method=GET", ["a"]],
      ["/api/v1/logs/search?ip=10.0.0.1&status=2xx", ["d", "a"]],
      ["/api/v1/logs/search?errors=true&ip=10.0.0.1", ["f", "b"]],
      ["/api/v1/logs/search?slow=true", ["d"]],
      ["/api/v1/logs/search?user=bob-gh", ["f"]],
      ["/api/v1/logs/search?client_id=client-1&status=201", ["d"]],
      ["/api/v1/logs/search?limit=2", ["f", "e"]],
      ["/api/v1/logs/ip/10.0.0.1?host=one.test", ["d", "a"]],
    ];
    for (const [path, expected] of cases) {
      const res = await get(path);
      expect({ path, status: res.status, ids: ids(res.json) }).toEqual({ path, status: 200, ids: expected });
    }
    expect((await get("/api/v1/logs/search?limit=2")).json.truncated).toBe(true);
  });

  test("time range: since/until (epoch ms or ISO 8601) and hours", async () => {
    const cases: [string, string[]][] = [
      [`/api/v1/logs/search?since=${t0 - 35}`, ["f", "e", "d", "c"]],
      [`/api/v1/logs/search?since=${t0 - 100}&until=${t0 - 35}`, ["b", "a"]],
      [`/api/v1/logs/search?since=${new Date(t0 + 1990).toISOString()}`, ["f", "e"]],
      [`/api/v1/logs/search?hours=0.1`, []],
      [`/api/v1/logs/search?hours=1`, ["f", "e", "d", "c", "b", "a"]],
      [`/api/v1/logs/search?until=${t0 - 45}&hours=1`, ["a"]],
    ];
    for (const [path, expected] of cases) {
      const res = await get(path);
      expect({ path, status: res.status, ids: ids(res.json) }).toEqual({ path, status: 200, ids: expected });
    }
  });

  test("a bad parameter is a 400 that names it, never a 500", async () => {
    const cases: [string, string][] = [
      ["status=abc", "status"],
      ["status=600", "status"],
      ["status=5x", "status"],
      ["limit=0", "limit"],
      ["limit=1001", "limit"],
      ["limit=ten", "limit"],
      ["since=yesterday", "since"],
      ["until=2026-13-45T99:00:00Z", "until"],
      ["since=1&hours=2", "hours"],
      ["hours=-1", "hours"],
      ["hours=0", "hours"],
      ["hours=100000", "hours"],
      [`since=${Date.now()}&until=${Date.now() - 1000}`, "since"],
      ["method=G3T", "method"],
      ["path=api", "path"],
      ["errors=maybe", "errors"],
      ["ip=", "ip"],
      ["stauts=500", "stauts"],
    ];
    for (const [qs, name] of cases) {
      const res = await get(`/api/v1/logs/search?${qs}`);
      expect({ qs, status: res.status, error: res.json.error, names: String(res.json.detail).startsWith(`${name}:`) }).toEqual({ qs, status: 400, error: "invalid_parameter", names: true });
    }
    const window = await get("/api/v1/logs/events?window=0");
    expect({ status: window.status, detail: window.json.detail.split(":")[0] }).toEqual({ status: 400, detail: "window" });
    const followBad = await get("/api/v1/logs/follow?status=9xx");
    expect({ status: followBad.status, detail: followBad.json.detail.split(":")[0] }).toEqual({ status: 400, detail: "status" });
    const followUnknown = await get("/api/v1/logs/follow?limit=3");
    expect({ status: followUnknown.status, detail: followUnknown.json.detail.split(":")[0] }).toEqual({ status: 400, detail: "limit" });
  });

  test("no token: 401; a wrong one: 401", async () => {
    expect((await get("/api/v1/logs/search", null as unknown as string)).status).toBe(401);
    expect((await get("/api/v1/logs/search", "acm_wrong")).status).toBe(401);
  });
});

describe("ownership", () => {
  test("a token sees only its own proxies' records, on every endpoint", async () => {
    expect(ids((await get("/api/v1/logs/search", alice)).json)).toEqual(["d", "c", "a"]);
    expect(ids((await get("/api/v1/logs/search", bob)).json)).toEqual(["f", "b"]);
    expect(ids((await get("/api/v1/logs/ip/10.0.0.1", alice)).json)).toEqual(["d", "a"]);
    expect(ids((await get("/api/v1/logs/ip/10.0.0.1", bob)).json)).toEqual(["f", "b"]);
    expect(ids((await get("/api/v1/logs/host/two.test", alice)).json)).toEqual([]);
    expect(ids((await get("/api/v1/logs/host/nobody.test", alice)).json)).toEqual([]);
    expect(ids((await get("/api/v1/logs/errors", alice)).json)).toEqual(["c"]);
    expect(ids((await get("/api/v1/logs/user/bob-gh", alice)).json)).toEqual([]);
    expect(ids((await get("/api/v1/logs/user/bob-gh", bob)).json)).toEqual(["f"]);
    expect(ids((await get("/api/v1/logs/client/client-1", bob)).json)).toEqual([]);
    // A token that owns no proxy sees nothing, not even records without a proxy.
    expect(ids((await get("/api/v1/logs/search", carol)).json)).toEqual([]);
    expect(ids((await get("/api/v1/logs/errors", carol)).json)).toEqual([]);
  });

  test("statistics count only the caller's proxies", async () => {
    const mine = (await get("/api/v1/logs/events", alice)).json;
    expect({ total: mine.total, by_host: mine.by_host, proxies: Object.keys(mine.duration_ms_by_proxy), unique: mine.unique_ips_by_host }).toEqual({
      total: 3,
      by_host: { "one.test": 3 },
      proxies: ["one.test"],
      unique: { "one.test": 2 },
    });
    expect(mine.hourly.reduce((n: number, h: { requests: number }) => n + h.requests, 0)).toBe(3);
    const none = (await get("/api/v1/logs/events", carol)).json;
    expect({ total: none.total, hourly: none.hourly.reduce((n: number, h: { requests: number }) => n + h.requests, 0), unique: none.unique_ips_by_host }).toEqual({ total: 0, hourly: 0, unique: {} });
  });

  test("DELETE is for the admin: 403 for another token (nothing deleted), then the admin clears every log key", async () => {
    const before = await suite.redis.client.keys("req:*");
    expect(before.length).toBe(5);
    const refused = await suite.api.call("DELETE", "/api/v1/logs", { token: bob });
    expect({ status: refused.status, error: refused.json.error }).toEqual({ status: 403, error: "forbidden" });
    expect((await suite.redis.client.keys("req:*")).length).toBe(5);

    const logKeys = (await suite.redis.client.keys("*")).filter((k) => /^(req:|idx:req:|stream:requests|stats:)/.test(k));
    const cleared = await suite.api.call("DELETE", "/api/v1/logs/");
    expect(cleared).toMatchObject({ status: 200, json: { deleted: logKeys.length } });
    expect((await get("/api/v1/logs/search")).json).toEqual({ records: [], count: 0, truncated: false });
    expect(await suite.redis.client.exists("proxy:one.test")).toBe(1);
  });
});

test("events: totals, classes, hosts, methods, error rate, hourly counters, unique addresses, percentiles for known traffic", async () => {
  const res = await get("/api/v1/logs/events?hours=2");
  expect(res.status).toBe(200);
  const hours = [...new Set([t0 - 50, t0 + 1995].map(hourBucket))];
  const e = res.json;
  expect({
    total: e.total,
    errors: e.errors,
    error_rate: e.error_rate,
    unique_ips: e.unique_ips,
    by_status_class: e.by_status_class,
    by_host: e.by_host,
    by_method: e.by_method,
    percentiles: e.duration_ms_by_proxy,
    unique_ips_by_host: e.unique_ips_by_host,
    records_read: e.records_read,
    truncated: e.truncated,
    window: e.percentile_window,
  }).toEqual({
    total: 6,
    errors: 4,
    error_rate: 4 / 6,
    unique_ips: 3,
    by_status_class: { "2xx": 2, "4xx": 2, "5xx": 2 },
    by_host: { "one.test": 3, "two.test": 2, "nobody.test": 1 },
    by_method: { GET: 4, POST: 2 },
    percentiles: {
      "nobody.test": { count: 1, p50: 1, p95: 1, p99: 1 },
      "one.test": { count: 3, p50: 30, p95: 1500, p99: 1500 },
      "two.test": { count: 2, p50: 20, p95: 40, p99: 40 },
    },
    unique_ips_by_host: { "nobody.test": 1, "one.test": 2, "two.test": 1 },
    records_read: 6,
    truncated: false,
    window: 1000,
  });
  const hourly = e.hourly.filter((h: { requests: number }) => h.requests > 0);
  expect(hourly.map((h: { hour: string }) => h.hour)).toEqual(hours);
  const sum = (field: "requests" | "errors") => hourly.reduce((n: number, h: Record<string, number>) => n + h[field]!, 0);
  expect([sum("requests"), sum("errors")]).toEqual([6, 4]);
  // A window of 1 takes each proxy's newest record only.
  const narrow = (await get("/api/v1/logs/events?window=1&host=one.test")).json;
  expect({ total: narrow.total, percentiles: narrow.duration_ms_by_proxy, unique: narrow.unique_ips_by_host }).toEqual({
    total: 3,
    percentiles: { "one.test": { count: 1, p50: 1500, p95: 1500, p99: 1500 } },
    unique: { "one.test": 2 },
  });
});

test("the OpenAPI document lists every logs endpoint with its parameters", async () => {
  const spec = (await get("/api/v1/openapi.json")).json;
  for (const path of ["/api/v1/logs/search", "/api/v1/logs/ip/{ip}", "/api/v1/logs/host/{hostname}", "/api/v1/logs/client/{client_id}", "/api/v1/logs/user/{user}", "/api/v1/logs/errors", "/api/v1/logs/slow", "/api/v1/logs/events", "/api/v1/logs/follow"]) {
    expect({ path, summary: typeof spec.paths[path]?.get?.summary }).toEqual({ path, summary: "string" });
  }
  expect(spec.paths["/api/v1/logs/search"].get.parameters.map((p: { name: string }) => p.name)).toContain("status");
  expect(typeof (spec.paths["/api/v1/logs"] ?? spec.paths["/api/v1/logs/"]).delete.summary).toBe("string");
  expect(keys.patterns.length).toBeGreaterThan(0);
});
