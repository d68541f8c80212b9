/**
 * Reading the request log against a real Redis: each filter, the index
 * choice never losing records, groups holding records that do not match,
 * expired groups, the read bound, union paging over tied flush times,
 * statistics and percentiles, the hourly counters, clearing, the live tail.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { clearRequestLog } from "../../src/consumers/request-log/clear";
import type { LogFilter } from "../../src/consumers/request-log/filter";
import { hoursCovered, readHourlyStats } from "../../src/consumers/request-log/hourly-stats";
import { groupKeysNewestFirst } from "../../src/consumers/request-log/index-union";
import { hourBucket, requestLogKeys as keys } from "../../src/consumers/request-log/keys";
import { queryRequestLog } from "../../src/consumers/request-log/query";
import { percentile, percentilesOf, summarize } from "../../src/consumers/request-log/stats";
import { RequestLogTail } from "../../src/consumers/request-log/tail";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { requestRecord, seedFlush } from "../helpers/request-log-seed";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(() => redis.stop());
beforeEach(() => redis.client.flushdb());

const HOUR = 3_600_000;
const T = Date.UTC(2026, 11, 7, 10, 0, 0);
const everything: LogFilter = { since: 0, until: null };
const ids = (records: { request_id: string }[]) => records.map((r) => r.request_id);
const query = (filter: Partial<LogFilter>, limit = 100, maxGroups?: number) => queryRequestLog(redis.client, { ...everything, ...filter }, { limit, maxGroups });

/** Known traffic: three flushes, several clients, a group mixing hosts and statuses. */
async function seedTraffic() {
  const r = {
    a: requestRecord({ request_id: "a", ts: T - 50, ip: "10.0.0.1", host: "one.test", proxy: "one.test", status: 200, path: "/api/items", method: "GET", user: "alice", client_id: "client-1" }),
    b: requestRecord({ request_id: "b", ts: T - 40, ip: "10.0.0.1", host: "two.test", proxy: "two.test", status: 502, path: "/", method: "POST", duration_ms: 30 }),
    c: requestRecord({ request_id: "c", ts: T - 30, ip: "10.0.0.2", host: "one.test", proxy: "one.test", status: 404, path: "/api/missing", method: "GET" }),
    d: requestRecord({ request_id: "d", ts: T + 1000 - 20, ip: "10.0.0.1", host: "one.test", proxy: "one.test", status: 201, path: "/api/items", method: "POST", user: "alice", client_id: "client-1", duration_ms: 1500 }),
    e: requestRecord({ request_id: "e", ts: T + 2000 - 10, ip: "10.0.0.3", host: "nobody.test", status: 404, path: "/x", method: "GET", error: "unknown_host" }),
    f: requestRecord({ request_id: "f", ts: T + 2000 - 5, ip: "10.0.0.1", host: "two.test", proxy: "two.test", status: 503, path: "/health", method: "GET", user: "bob" }),
  };
  await seedFlush(redis.client, T, [r.a, r.b, r.c]);
  await seedFlush(redis.client, T + 1000, [r.d]);
  await seedFlush(redis.client, T + 2000, [r.e, r.f]);
  return r;
}

describe("filters", () => {
  test("no filter: every record, newest first", async () => {
    await seedTraffic();
    expect(await query({})).toEqual({ records: expect.any(Array), count: 6, truncated: false });
    expect(ids((await query({})).records)).toEqual(["f", "e", "d", "c", "b", "a"]);
  });

  test("each filter keeps exactly its records, also out of groups that mix", async () => {
    await seedTraffic();
    const cases: [Partial<LogFilter>, string[]][] = [
      [{ ip: "10.0.0.1" }, ["f", "d", "b", "a"]],
      [{ host: "one.test" }, ["d", "c", "a"]],
      [{ host: "two.test" }, ["f", "b"]],
      [{ user: "alice" }, ["d", "a"]],
      [{ client_id: "client-1" }, ["d", "a"]],
      [{ status: { exact: 404 } }, ["e", "c"]],
      [{ status: { class: 5 } }, ["f", "b"]],
      [{ status: { class: 2 } }, ["d", "a"]],
      [{ method: "POST" }, ["d", "b"]],
      [{ path: { exact: "/api/items" } }, ["d", "a"]],
      [{ path: { exact: "/api/items" }, method: "GET" }, ["a"]],
      [{ path: { prefix: "/api/" } }, ["d", "c", "a"]],
      [{ errorsOnly: true }, ["f", "e", "c", "b"]],
      [{ slowOnly: true }, ["d"]],
      [{ since: T - 35 }, ["f", "e", "d", "c"]],
      [{ since: T - 100, until: T - 35 }, ["b", "a"]],
      [{ ip: "10.0.0.1", status: { class: 5 } }, ["f", "b"]],
      [{ ip: "10.0.0.1", host: "one.test", user: "alice", method: "GET" }, ["a"]],
      [{ ip: "10.9.9.9" }, []],
    ];
    for (const [filter, expected] of cases) expect({ filter, got: ids((await query(filter)).records) }).toEqual({ filter, got: expected });
  });

  test("limit cuts newest first and says truncated", async () => {
    await seedTraffic();
    const result = await query({}, 2);
    expect({ ids: ids(result.records), count: result.count, truncated: result.truncated }).toEqual({ ids: ["f", "e"], count: 2, truncated: true });
    expect((await query({}, 6)).truncated).toBe(false);
  });

  test("the caller's visibility applies to every record", async () => {
    await seedTraffic();
    const result = await queryRequestLog(redis.client, everything, { limit: 100, visible: (r) => r.proxy === "two.test" });
    expect(ids(result.records)).toEqual(["f", "b"]);
  });

  test("a group whose hash expired is skipped; its index entry is harmless", async () => {
    await seedTraffic();
    await redis.client.del(keys.group(T + 1000, "10.0.0.1"));
    expect(ids((await query({ ip: "10.0.0.1" })).records)).toEqual(["f", "b", "a"]);
    expect(ids((await query({})).records)).toEqual(["f", "e", "c", "b", "a"]);
  });

  test("a damaged field in a group is skipped, not fatal", async () => {
    await seedTraffic();
    await redis.client.hset(keys.group(T, "10.0.0.2"), "junk", "{not json");
    expect(ids((await query({ ip: "10.0.0.2" })).records)).toEqual(["c"]);
  });

  test("records stored one per field (earlier versions) are read beside arrays; a damaged array element is skipped", async () => {
    await seedTraffic();
    const group = keys.group(T, "10.0.0.2");
    await redis.client.hset(group, "old", JSON.stringify(requestRecord({ request_id: "old", ts: T - 25, ip: "10.0.0.2", status: 200 })));
    await redis.client.hset(group, "mixed", JSON.stringify([{ damaged: true }, requestRecord({ request_id: "kept", ts: T - 20, ip: "10.0.0.2" })]));
    expect(ids((await query({ ip: "10.0.0.2" })).records)).toEqual(["kept", "old", "c"]);
  });

  test("reads at most maxGroups groups, and says truncated", async () => {
    for (let i = 0; i < 30; i++) await seedFlush(redis.client, T + i, [requestRecord({ ts: T + i, ip: "10.1.1.1", status: 500, request_id: `r${i}` })]);
    const result = await query({ ip: "10.1.1.1", path: { prefix: "/nothing/" } }, 100, 10);
    expect(result).toEqual({ records: [], count: 0, truncated: true });
    const bounded = await query({ status: { class: 5 } }, 100, 10);
    expect({ n: bounded.count, truncated: bounded.truncated, first: bounded.records[0]?.request_id }).toEqual({ n: 10, truncated: true, first: "r29" });
  });

  test("a token's own hosts are a source of their own: its records are found without walking others' traffic", async () => {
    for (let i = 0; i < 30; i++) await seedFlush(redis.client, T + 10 + i, [requestRecord({ ts: T + 10 + i, ip: `10.3.0.${i}`, host: "busy.test", proxy: "busy.test" })]);
    await seedFlush(redis.client, T, [requestRecord({ ts: T, ip: "10.4.0.1", host: "mine.test", proxy: "mine.test", request_id: "mine" })]);
    const visible = (r: { proxy?: string }) => r.proxy === "mine.test";
    const narrowed = await queryRequestLog(redis.client, everything, { limit: 100, maxGroups: 5, visible, visibleHosts: ["mine.test"] });
    expect(narrowed).toEqual({ records: [expect.objectContaining({ request_id: "mine" })], count: 1, truncated: false });
    // Without it the walk goes through everyone's groups first and stops at the bound.
    const walked = await queryRequestLog(redis.client, everything, { limit: 100, maxGroups: 5, visible });
    expect(walked).toEqual({ records: [], count: 0, truncated: true });
    // A token that owns nothing reads nothing.
    expect(await queryRequestLog(redis.client, everything, { limit: 100, visible, visibleHosts: [] })).toEqual({ records: [], count: 0, truncated: false });
  });

  test("stops reading once the limit is met (groups beyond are not needed)", async () => {
    for (let i = 0; i < 300; i++) await seedFlush(redis.client, T + i, [requestRecord({ ts: T + i, ip: `10.2.${i >> 8}.${i & 255}`, request_id: `s${i}` })]);
    const result = await query({}, 5);
    expect(ids(result.records)).toEqual(["s299", "s298", "s297", "s296", "s295"]);
    expect(result.truncated).toBe(true);
  });
});

describe("union of indexes, newest first", () => {
  test("every group once, in score order, across ties larger than a page", async () => {
    const c = redis.client;
    // 25 groups share one flush time (one flush, 25 clients), spread over three indexes with overlap.
    const expected: { key: string; score: number }[] = [];
    for (let i = 0; i < 25; i++) {
      const key = `g:tie:${i.toString().padStart(2, "0")}`;
      expected.push({ key, score: 500 });
      await c.zadd(i % 2 ? "ix:a" : "ix:b", 500, key);
      if (i % 3 === 0) await c.zadd("ix:c", 500, key);
    }
    for (let i = 0; i < 40; i++) {
      const key = `g:${i.toString().padStart(2, "0")}`;
      expected.push({ key, score: 1000 - i * 10 });
      await c.zadd(["ix:a", "ix:b", "ix:c"][i % 3]!, 1000 - i * 10, key);
      await c.zadd("ix:a", 1000 - i * 10, key);
    }
    const seen: { key: string; score: number }[] = [];
    for await (const page of groupKeysNewestFirst(c, ["ix:a", "ix:b", "ix:c"], { min: 0, max: null }, 4)) seen.push(...page);
    const order = (list: { key: string; score: number }[]) => [...list].sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : 1));
    expect(seen).toEqual(order(expected));
    // A bounded range reads only inside it.
    const inRange: string[] = [];
    for await (const page of groupKeysNewestFirst(c, ["ix:a", "ix:b"], { min: 700, max: 900 }, 3)) inRange.push(...page.map((p) => p.key));
    expect(inRange).toEqual(order(expected.filter((e) => e.score >= 700 && e.score <= 900)).map((e) => e.key));
  });
});

describe("statistics", () => {
  test("nearest-rank percentiles on known durations", () => {
    const oneToHundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentilesOf(oneToHundred)).toEqual({ count: 100, p50: 50, p95: 95, p99: 99 });
    expect(percentilesOf([7])).toEqual({ count: 1, p50: 7, p95: 7, p99: 7 });
    expect(percentilesOf([])).toEqual({ count: 0, p50: 0, p95: 0, p99: 0 });
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
    expect(percentilesOf([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000]).p95).toBe(1000);
  });

  test("summary counts and the per-proxy window of the newest records", () => {
    // Newest first: proxy p's newest 3 are 300, 200, 100; its older 9999 falls outside a window of 3.
    const records = [
      requestRecord({ proxy: "p", host: "p", duration_ms: 300, status: 200, method: "GET", ip: "1.1.1.1" }),
      requestRecord({ proxy: "p", host: "p", duration_ms: 200, status: 500, method: "POST", ip: "1.1.1.2" }),
      requestRecord({ host: "unknown.test", duration_ms: 1, status: 404, method: "GET", ip: "1.1.1.1" }),
      requestRecord({ proxy: "p", host: "p", duration_ms: 100, status: 301, method: "GET", ip: "1.1.1.3" }),
      requestRecord({ proxy: "p", host: "p", duration_ms: 9999, status: 200, method: "GET", ip: "1.1.1.3" }),
    ];
    expect(summarize(records, 3)).toEqual({
      total: 5,
      errors: 2,
      error_rate: 0.4,
      unique_ips: 3,
      by_status_class: { "2xx": 2, "5xx": 1, "4xx": 1, "3xx": 1 },
      by_host: { p: 4, "unknown.test": 1 },
      by_method: { GET: 4, POST: 1 },
      duration_ms_by_proxy: { p: { count: 3, p50: 200, p95: 300, p99: 300 }, "unknown.test": { count: 1, p50: 1, p95: 1, p99: 1 } },
    });
  });

  test("hourly counters and distinct addresses per host over the hours covered", async () => {
    const h0 = T;
    const h1 = T + HOUR;
    await seedFlush(redis.client, h0 + 10, [
      requestRecord({ ts: h0, proxy: "one.test", host: "one.test", ip: "10.0.0.1", status: 200 }),
      requestRecord({ ts: h0, proxy: "one.test", host: "one.test", ip: "10.0.0.2", status: 500 }),
      requestRecord({ ts: h0, host: "stray.test", ip: "10.0.0.9", status: 404 }),
    ]);
    await seedFlush(redis.client, h1 + 10, [
      requestRecord({ ts: h1, proxy: "one.test", host: "one.test", ip: "10.0.0.1", status: 200 }),
      requestRecord({ ts: h1, proxy: "one.test", host: "one.test", ip: "10.0.0.3", status: 200 }),
      requestRecord({ ts: h1, proxy: "two.test", host: "two.test", ip: "10.0.0.1", status: 502 }),
    ]);
    const hours = hoursCovered(h0 + 5, h1 + 5);
    expect(hours).toEqual([hourBucket(h0), hourBucket(h1)]);
    expect(await readHourlyStats(redis.client, hours)).toEqual({
      hourly: [
        { hour: hourBucket(h0), requests: 3, errors: 2 },
        { hour: hourBucket(h1), requests: 3, errors: 1 },
      ],
      unique_ips_by_host: { "one.test": 3, "stray.test": 1, "two.test": 1 },
    });
    // Narrowed to one host (a non-admin's proxies): that host's fields only, never the total.
    expect(await readHourlyStats(redis.client, hours, (h) => h === "one.test")).toEqual({
      hourly: [
        { hour: hourBucket(h0), requests: 2, errors: 1 },
        { hour: hourBucket(h1), requests: 2, errors: 0 },
      ],
      unique_ips_by_host: { "one.test": 3 },
    });
  });
});

test("clear deletes every request-log key, with SCAN, and nothing else", async () => {
  await seedTraffic();
  await redis.client.set("proxy:keep.test", "{}");
  await redis.client.set("token:keep", "{}");
  const before = await redis.client.dbsize();
  const deleted = await clearRequestLog(redis.client);
  expect(deleted).toBe(before - 2);
  expect((await redis.client.keys("*")).sort()).toEqual(["proxy:keep.test", "token:keep"]);
  expect(await clearRequestLog(redis.client)).toBe(0);
});

test("the tail reads a group named by two flushes (two nodes, one millisecond) once", async () => {
  const tail = new RequestLogTail(redis.client.duplicate());
  await tail.open();
  const flushMs = T + 5;
  const waiting = tail.next(2000);
  // Node A writes its record and names the group; node B adds its own record to the same hash and names it again.
  await seedFlush(redis.client, flushMs, [requestRecord({ request_id: "node-a", ip: "10.9.0.1" })]);
  expect(ids(await waiting)).toEqual(["node-a"]);
  await seedFlush(redis.client, flushMs, [requestRecord({ request_id: "node-b", ip: "10.9.0.1" })]);
  expect(ids(await tail.next(2000))).toEqual(["node-b"]);
  tail.close();
});

test("the tail delivers flushes written after it opened, not before", async () => {
  await seedFlush(redis.client, T, [requestRecord({ request_id: "before" })]);
  const tail = new RequestLogTail(redis.client.duplicate());
  await tail.open();
  const waiting = tail.next(2000);
  await seedFlush(redis.client, T + 1, [requestRecord({ request_id: "after-1" }), requestRecord({ request_id: "after-2", ip: "10.0.0.7" })]);
  expect(ids(await waiting)).toEqual(["after-1", "after-2"]);
  // Nothing new: an empty answer after the block time.
  expect(await tail.next(50)).toEqual([]);
  // Closing ends a blocked read at once.
  const blocked = tail.next(10_000);
  const started = Date.now();
  tail.close();
  expect(await blocked).toEqual([]);
  expect(Date.now() - started).toBeLessThan(1000);
});
