/**
 * The counters other modules bump, read back through a Prometheus registry
 * and an independent text parser: edge auth outcomes per host, open
 * WebSockets and event streams, OAuth token events, the request-log queue (a
 * real RequestLogWriter on a real Redis), and the periodic Redis PING (its
 * latency histogram, and failures once Redis is gone).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { RequestLogWriter } from "../../src/consumers/request-log/writer";
import { connectNativeRedis } from "../../src/storage/native-redis";
import type { RequestRecord } from "../../src/consumers/request-log/record";
import { AuthMetrics } from "../../src/metrics/auth-metrics";
import { OAuthTokenMetrics } from "../../src/metrics/oauth-token-metrics";
import { RedisProbe } from "../../src/metrics/redis-probe";
import { registerRequestLogMetrics, type RequestLogCounts } from "../../src/metrics/request-log-metrics";
import { StreamMetrics } from "../../src/metrics/stream-metrics";
import { parsePrometheusText, sample, samples } from "../helpers/prometheus-text";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const read = async (registry: Registry) => parsePrometheusText(await registry.metrics());

describe("portcullis_auth_outcomes_total", () => {
  test("counts ok, 401 and 403 per host, and only the outcomes that happened", async () => {
    const registry = new Registry();
    const auth = new AuthMetrics(registry);
    auth.ok("a.test");
    auth.ok("a.test");
    auth.refused("a.test", 401);
    auth.refused("b.test", 403);
    auth.refused("b.test", 403);
    auth.refused("b.test", 401);
    const families = await read(registry);
    expect(families["portcullis_auth_outcomes_total"]!.type).toBe("counter");
    const value = (host: string, outcome: string) => sample(families, "portcullis_auth_outcomes_total", { host, outcome }).value;
    expect(value("a.test", "ok")).toBe(2);
    expect(value("a.test", "401")).toBe(1);
    expect(value("b.test", "403")).toBe(2);
    expect(value("b.test", "401")).toBe(1);
    // a.test was never refused with 403, b.test never let through: no series for them.
    const labels = samples(families, "portcullis_auth_outcomes_total").map((s) => `${s.labels.host} ${s.labels.outcome}`);
    expect(labels.sort()).toEqual(["a.test 401", "a.test ok", "b.test 401", "b.test 403"]);
    expect(auth.count("a.test", "ok")).toBe(2);

    // Counts accumulate across scrapes (a counter, not a per-scrape delta).
    auth.ok("a.test");
    expect(sample(await read(registry), "portcullis_auth_outcomes_total", { host: "a.test", outcome: "ok" }).value).toBe(3);
  });
});

describe("open streams", () => {
  test("the gauges follow opened and closed, per kind", async () => {
    const registry = new Registry();
    const streams = new StreamMetrics(registry);
    streams.opened("websocket");
    streams.opened("websocket");
    streams.opened("event_stream");
    let families = await read(registry);
    expect(sample(families, "portcullis_open_websockets", {}).value).toBe(2);
    expect(sample(families, "portcullis_open_event_streams", {}).value).toBe(1);
    streams.closed("websocket");
    streams.closed("event_stream");
    families = await read(registry);
    expect(sample(families, "portcullis_open_websockets", {}).value).toBe(1);
    expect(sample(families, "portcullis_open_event_streams", {}).value).toBe(0);
  });
});

describe("portcullis_oauth_tokens_total", () => {
  test("every event is present from the start; counts add up", async () => {
    const registry = new Registry();
    const tokens = new OAuthTokenMetrics(registry);
    let families = await read(registry);
    for (const event of ["issued", "refreshed", "revoked"]) expect(sample(families, "portcullis_oauth_tokens_total", { event }).value).toBe(0);
    tokens.count("issued");
    tokens.count("issued");
    tokens.count("revoked");
    families = await read(registry);
    expect(sample(families, "portcullis_oauth_tokens_total", { event: "issued" }).value).toBe(2);
    expect(sample(families, "portcullis_oauth_tokens_total", { event: "refreshed" }).value).toBe(0);
    expect(sample(families, "portcullis_oauth_tokens_total", { event: "revoked" }).value).toBe(1);
  });
});

describe("request-log queue", () => {
  const record = (i: number): RequestRecord => ({
    ts: Date.now(),
    node: "metrics-test",
    ip: "192.0.2.1",
    method: "GET",
    host: "log.metrics.test",
    path: `/r/${i}`,
    status: 200,
    bytes_in: 0,
    bytes_out: 10,
    duration_ms: 1,
    kind: "proxy",
    auth: "none",
    request_id: `req-${i}`,
  });

  test("without a writer the series read 0", async () => {
    const registry = new Registry();
    registerRequestLogMetrics(registry, () => undefined);
    const families = await read(registry);
    for (const name of ["portcullis_request_log_queue_depth", "portcullis_request_log_dropped_total", "portcullis_request_log_written_total"]) {
      expect(sample(families, name, {}).value).toBe(0);
    }
  });

  test("a real writer's queue depth, drops past the cap, and records written to Redis", async () => {
    const registry = new Registry();
    const connection = connectNativeRedis({ url: redis.url });
    while (!connection.ready) await Bun.sleep(5);
    const writer = new RequestLogWriter(connection, { retentionHours: 1, queueMax: 3 });
    let counts: RequestLogCounts | undefined;
    registerRequestLogMetrics(registry, () => counts);
    counts = writer;
    for (let i = 0; i < 5; i++) writer.record(record(i));
    let families = await read(registry);
    expect(sample(families, "portcullis_request_log_queue_depth", {}).value).toBe(3);
    expect(sample(families, "portcullis_request_log_dropped_total", {}).value).toBe(2);
    expect(sample(families, "portcullis_request_log_written_total", {}).value).toBe(0);
    expect(families["portcullis_request_log_dropped_total"]!.type).toBe("counter");

    await writer.flush();
    families = await read(registry);
    expect(sample(families, "portcullis_request_log_queue_depth", {}).value).toBe(0);
    expect(sample(families, "portcullis_request_log_written_total", {}).value).toBe(3);
    expect(sample(families, "portcullis_request_log_dropped_total", {}).value).toBe(2);
    connection.close();
  });
});

describe("Redis PING probe", () => {
  test("times a PING per interval into the histogram; counts failures once Redis is gone", async () => {
    const own = await startTestRedis();
    const client = new Redis(own.url, { maxRetriesPerRequest: 1, commandTimeout: 500, retryStrategy: () => 50 });
    client.on("error", () => {});
    const registry = new Registry();
    const probe = new RedisProbe(client, registry, 50);
    try {
      probe.start();
      let families = await read(registry);
      for (let i = 0; i < 100 && (sample(families, "portcullis_redis_command_duration_seconds", {}).count ?? 0) < 3; i++) {
        await Bun.sleep(20);
        families = await read(registry);
      }
      const durations = sample(families, "portcullis_redis_command_duration_seconds", {});
      expect(families["portcullis_redis_command_duration_seconds"]!.type).toBe("histogram");
      expect(durations.count).toBeGreaterThanOrEqual(3);
      expect(durations.sum).toBeGreaterThan(0);
      // Loopback Redis answers well under 100 ms.
      expect(durations.buckets!["0.1"]).toBe(durations.count!);
      expect(sample(families, "portcullis_redis_ping_failures_total", {}).value).toBe(0);

      await own.stop();
      const answered = durations.count!;
      let failures = 0;
      for (let i = 0; i < 200 && failures < 2; i++) {
        await Bun.sleep(20);
        families = await read(registry);
        failures = sample(families, "portcullis_redis_ping_failures_total", {}).value!;
      }
      expect(failures).toBeGreaterThanOrEqual(2);
      // A failed PING is not timed as a latency.
      expect(sample(families, "portcullis_redis_command_duration_seconds", {}).count! - answered).toBeLessThanOrEqual(1);
    } finally {
      probe.stop();
      client.disconnect();
      await own.stop().catch(() => {});
    }
  }, 15_000);
});
