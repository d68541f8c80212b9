/**
 * Request-log records written straight to Redis in the layout of
 * src/consumers/request-log/keys.ts, at a flush time the test chooses: for
 * query tests that need traffic spread over hours. (End-to-end tests use the
 * real writer and real requests instead.)
 */
import type { Redis } from "ioredis";
import { hourBucket, requestLogKeys as keys } from "../../src/consumers/request-log/keys";
import { isErrorStatus, SLOW_REQUEST_MS, type RequestRecord } from "../../src/consumers/request-log/record";

let sequence = 0;

/** A complete record; `overrides` set what a test cares about. */
export function requestRecord(overrides: Partial<RequestRecord> = {}): RequestRecord {
  sequence++;
  return {
    ts: Date.now(),
    node: "test-node",
    ip: "192.0.2.1",
    method: "GET",
    host: "app.example.test",
    path: "/",
    status: 200,
    bytes_in: 0,
    bytes_out: 10,
    duration_ms: 5,
    kind: "proxy",
    auth: "none",
    request_id: `req-${sequence.toString().padStart(6, "0")}`,
    ...overrides,
  };
}

/** One flush at `flushMs`: groups per client address, every index, the hourly counters, one stream entry. */
export async function seedFlush(redis: Redis, flushMs: number, records: readonly RequestRecord[], ttlSeconds = 3600): Promise<void> {
  const pipeline = redis.pipeline();
  for (const [ip, own] of Map.groupBy(records, (record) => record.ip)) {
    // As the writer stores them: one field per client and flush, the records as one JSON array.
    const group = keys.group(flushMs, ip);
    pipeline.hset(group, own[0]!.request_id, JSON.stringify(own)).expire(group, ttlSeconds);
  }
  for (const record of records) {
    const group = keys.group(flushMs, record.ip);
    const indexes = [keys.byIp(record.ip), keys.byHost(record.host), keys.byStatus(record.status), keys.byPath(record.method, record.path)];
    if (record.user !== undefined) indexes.push(keys.byUser(record.user));
    if (record.client_id !== undefined) indexes.push(keys.byClient(record.client_id));
    if (isErrorStatus(record.status)) indexes.push(keys.errors);
    if (record.duration_ms >= SLOW_REQUEST_MS) indexes.push(keys.slow);
    for (const index of indexes) pipeline.zadd(index, flushMs, group).expire(index, ttlSeconds);
    const hour = hourBucket(record.ts);
    const host = record.proxy ?? record.host;
    for (const key of isErrorStatus(record.status) ? [keys.hourlyRequests(hour), keys.hourlyErrors(hour)] : [keys.hourlyRequests(hour)]) {
      pipeline.hincrby(key, "total", 1).hincrby(key, `host:${host}`, 1).expire(key, ttlSeconds);
    }
    pipeline.pfadd(keys.uniqueIps(host, hour), record.ip).expire(keys.uniqueIps(host, hour), ttlSeconds);
  }
  pipeline.xadd(keys.stream, "*", "groups", JSON.stringify([...new Set(records.map((record) => keys.group(flushMs, record.ip)))]));
  const results = await pipeline.exec();
  const failed = results?.find(([error]) => error);
  if (failed) throw failed[0];
}
