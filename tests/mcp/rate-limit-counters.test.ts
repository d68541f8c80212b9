/**
 * This node's counters (ClusterRateCounters) against a real Redis, with the
 * clock injected: windows roll, counters of ended windows are dropped, the
 * table is bounded (and refuses rather than admit uncounted), a refused
 * batch spends nothing, and stop() sends what was counted.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import pino from "pino";
import { ClusterRateCounters } from "../../src/mcp/rate-limit/cluster-counters";
import { compileRateLimits } from "../../src/mcp/rate-limit/rate-rules";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const silent = pino({ level: "silent" });
const [perMinute] = compileRateLimits([{ tool: "search", per_minute: 3 }], "counters.example.com").limits;
const one = [{ limit: perMinute!, cost: 1 }];
const T0 = 1_800_000_000_000;

function counters(now: { t: number }, maxCounters?: number) {
  return new ClusterRateCounters(redis.client, silent, { now: () => now.t, syncIntervalMs: 10, maxCounters });
}

test("a window's budget, Retry-After to its end, and a fresh budget in the next", async () => {
  const clock = { t: T0 + 15_000 };
  const c = counters(clock);
  c.start();
  for (let i = 0; i < 3; i++) expect(c.tryCharge(one, "alice").ok).toBe(true);
  expect(c.tryCharge(one, "alice")).toEqual({ ok: false, index: 0, retryAfter: 45 });
  expect(c.tryCharge(one, "bob").ok).toBe(true);
  clock.t = T0 + 60_000;
  expect(c.tryCharge(one, "alice").ok).toBe(true);
  await c.stop();
});

test("over several limits: the refusal names the one that frees up last", async () => {
  const clock = { t: T0 + 3_600_000 + 15_500 };
  const c = counters(clock);
  const [second, minute, hour] = compileRateLimits([{ tool: "x", per_second: 1, per_minute: 1, per_hour: 1 }], "counters.example.com").limits;
  const all = [second!, minute!, hour!].map((limit) => ({ limit, cost: 1 }));
  expect(c.tryCharge(all, "erin").ok).toBe(true);
  expect(c.tryCharge(all, "erin")).toEqual({ ok: false, index: 2, retryAfter: 3600 - 15 });
  // Only the per-second limit is spent: it alone is named.
  expect(c.tryCharge([{ limit: second!, cost: 1 }], "frank").ok).toBe(true);
  expect(c.tryCharge([{ limit: minute!, cost: 1 }, { limit: second!, cost: 1 }], "frank")).toEqual({ ok: false, index: 1, retryAfter: 1 });
});

test("a refused batch spends nothing", async () => {
  const clock = { t: T0 };
  const c = counters(clock);
  expect(c.tryCharge([{ limit: perMinute!, cost: 2 }], "carol").ok).toBe(true);
  expect(c.tryCharge([{ limit: perMinute!, cost: 2 }], "carol").ok).toBe(false);
  expect(c.tryCharge(one, "carol").ok).toBe(true);
  expect(c.tryCharge(one, "carol").ok).toBe(false);
});

test("counters of ended windows are dropped; a full table refuses a new caller until then", async () => {
  const clock = { t: T0 };
  const c = counters(clock, 2);
  expect(c.tryCharge(one, "a").ok).toBe(true);
  expect(c.tryCharge(one, "b").ok).toBe(true);
  expect(c.tryCharge(one, "c")).toEqual({ ok: false, index: 0, retryAfter: 1 });
  // Known callers go on as before.
  expect(c.tryCharge(one, "a").ok).toBe(true);
  clock.t = T0 + 60_000;
  expect(c.tryCharge(one, "c").ok).toBe(true);
  expect(c.size).toBe(1);
});

test("stop() sends what was counted: another node starts from the cluster's count", async () => {
  await redis.client.flushdb();
  const clock = { t: T0 + 120_000 };
  // Never started: nothing is sent before stop().
  const first = counters(clock);
  expect(first.tryCharge([{ limit: perMinute!, cost: 2 }], "dave").ok).toBe(true);
  await Bun.sleep(50);
  expect(await redis.client.keys("mcp:ratelimit:*")).toHaveLength(0);
  await first.stop();
  expect(await redis.client.keys("mcp:ratelimit:*")).toHaveLength(1);
  const second = counters(clock);
  second.start();
  // Its first call is decided before it heard anything; the answer brings the cluster's count.
  expect(second.tryCharge(one, "dave").ok).toBe(true);
  await Bun.sleep(50);
  expect(second.tryCharge(one, "dave").ok).toBe(false);
  await second.stop();
});
