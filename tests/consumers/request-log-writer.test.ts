/**
 * The request log writer when Redis is slow, refuses writes or is gone, and at
 * shutdown: nothing is lost but what exceeds the queue cap, and the drop
 * counter says exactly how much that was. Real redis-server processes.
 */
import { afterEach, expect, test } from "bun:test";
import pino from "pino";
import type { Redis } from "ioredis";
import { RequestLogWriter } from "../../src/consumers/request-log/writer";
import type { RequestRecord } from "../../src/consumers/request-log/record";
import { connectNativeRedis, type CommandConnection } from "../../src/storage/native-redis";
import { requestRecord } from "../helpers/request-log-seed";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { storedRequestRecords } from "../helpers/stored-request-records";

const silent = pino({ level: "silent" });
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A test Redis, and the writer's own connection to it (Bun's client, as the gateway uses). */
async function withRedis(): Promise<{ server: TestRedis; gateway: CommandConnection }> {
  const server = await startTestRedis();
  const gateway = connectNativeRedis({ url: server.url });
  await until(() => gateway.ready);
  cleanups.push(() => server.stop(), () => gateway.close());
  return { server, gateway };
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check(); await Bun.sleep(10)) {
    if (Date.now() > deadline) throw new Error("timed out");
  }
}

/** Records written to Redis, by request id. */
async function stored(redis: Redis): Promise<Set<string>> {
  return new Set((await storedRequestRecords(redis)).keys());
}

const records = (n: number, ip = "192.0.2.10"): RequestRecord[] => Array.from({ length: n }, () => requestRecord({ ip }));

/** A writer whose timer never fires during a test: flushes happen when the test says. */
function manualWriter(redis: CommandConnection, queueMax: number) {
  return new RequestLogWriter(redis, { retentionHours: 1, queueMax, intervalMs: 3_600_000 }, silent);
}

test("a slow Redis: records queue up to the cap, the rest are dropped and counted exactly, the queue is written once Redis answers", async () => {
  const { server, gateway } = await withRedis();
  const writer = manualWriter(gateway, 100);
  const first = records(10);
  for (const r of first) writer.record(r);
  // Writes block (as in a Redis stalled by a long command): the first flush stays in flight.
  await server.client.call("CLIENT", "PAUSE", "5000", "WRITE");
  const inFlight = writer.flush();
  const later = records(150);
  for (const r of later) writer.record(r);
  expect(writer.queued).toBe(100);
  expect(writer.dropped).toBe(50);
  await server.client.call("CLIENT", "UNPAUSE");
  await inFlight;
  await writer.flush();
  expect(writer.written).toBe(110);
  expect(writer.dropped).toBe(50);
  const ids = await stored(server.client);
  expect(ids.size).toBe(110);
  for (const r of [...first, ...later.slice(0, 100)]) expect(ids.has(r.request_id)).toBe(true);
});

test("a write Redis refuses (out of memory) goes back to the queue and is written later", async () => {
  const { server, gateway } = await withRedis();
  const writer = manualWriter(gateway, 1000);
  for (const r of records(40)) writer.record(r);
  await server.client.config("SET", "maxmemory-policy", "noeviction");
  await server.client.config("SET", "maxmemory", "1");
  await writer.flush();
  expect(writer.written).toBe(0);
  expect(writer.queued).toBe(40);
  expect(writer.dropped).toBe(0);
  await server.client.config("SET", "maxmemory", "0");
  await writer.flush();
  expect(writer.written).toBe(40);
  expect((await stored(server.client)).size).toBe(40);
});

test("Redis gone for a while under load: only what exceeds the cap is lost, and the counter says how much", async () => {
  const { server, gateway } = await withRedis();
  const writer = new RequestLogWriter(gateway, { retentionHours: 1, queueMax: 200, intervalMs: 20 }, silent);
  writer.start();
  cleanups.push(() => writer.stop(Date.now()));
  // Redis refuses every connection: as good as gone (the gateway's connection is cut and cannot come back).
  await server.client.call("CONFIG", "SET", "maxclients", "1");
  await server.client.call("CLIENT", "KILL", "SKIPME", "yes");
  await until(() => !gateway.ready, 5_000);
  const sent = records(350);
  for (const r of sent) {
    writer.record(r);
    if (sent.indexOf(r) % 50 === 0) await Bun.sleep(30);
  }
  expect(writer.dropped).toBe(150);
  // Redis is back: the queue drains on its own.
  await server.client.call("CONFIG", "SET", "maxclients", "10000");
  await until(() => gateway.ready);
  const back = Date.now() + 10_000;
  while (writer.written < 200 && Date.now() < back) await Bun.sleep(20);
  expect(writer.written).toBe(200);
  expect(writer.dropped).toBe(150);
  expect((await stored(server.client)).size).toBe(200);
});

test("stop writes everything still queued before it returns", async () => {
  const { server, gateway } = await withRedis();
  const writer = manualWriter(gateway, 10_000);
  writer.start();
  const sent = [...records(300, "192.0.2.1"), ...records(200, "192.0.2.2")];
  for (const r of sent) writer.record(r);
  expect(await writer.stop(Date.now() + 5_000)).toBe(0);
  expect((await stored(server.client)).size).toBe(500);
});

test("stop gives up at its deadline when Redis cannot take the records, and says how many were left", async () => {
  const { server, gateway } = await withRedis();
  const writer = manualWriter(gateway, 10_000);
  for (const r of records(25)) writer.record(r);
  await server.client.config("SET", "maxmemory-policy", "noeviction");
  await server.client.config("SET", "maxmemory", "1");
  const started = Date.now();
  expect(await writer.stop(Date.now() + 300)).toBe(25);
  expect(Date.now() - started).toBeLessThan(2_000);
  await server.client.config("SET", "maxmemory", "0");
});

test("one flush stores each client's records as one JSON array in one hash field, in arrival order, with a TTL", async () => {
  const { server, gateway } = await withRedis();
  const writer = manualWriter(gateway, 1000);
  const mine = records(30, "192.0.2.20");
  const theirs = records(5, "192.0.2.21");
  for (let i = 0; i < 30; i++) {
    writer.record(mine[i]!);
    if (i < 5) writer.record(theirs[i]!);
  }
  await writer.flush();
  const groups = (await server.client.keys("req:*")).sort();
  expect(groups).toHaveLength(2);
  for (const [group, expected] of [[groups[0]!, mine], [groups[1]!, theirs]] as const) {
    expect(group.endsWith(`:${expected[0]!.ip}`)).toBe(true);
    const fields = await server.client.hgetall(group);
    expect(Object.keys(fields)).toEqual([expected[0]!.request_id]);
    expect(JSON.parse(fields[expected[0]!.request_id]!)).toEqual(expected);
    expect(await server.client.ttl(group)).toBeGreaterThan(0);
  }
});

test("one client's records under several users and OAuth clients: each user's and client's index names the flush's group", async () => {
  const { server, gateway } = await withRedis();
  const writer = manualWriter(gateway, 1000);
  // One address (a shared NAT or load balancer) with tokens of two users and two OAuth clients, interleaved.
  const who = [["alice", "client-1"], ["bob", "client-1"], ["alice", "client-2"], [undefined, undefined], ["alice", "client-1"]] as const;
  for (const [user, client_id] of who) writer.record(requestRecord({ ip: "192.0.2.30", user, client_id }));
  await writer.flush();
  const [group] = await server.client.keys("req:*");
  for (const index of ["idx:req:user:alice", "idx:req:user:bob", "idx:req:client:client-1", "idx:req:client:client-2"]) {
    expect(await server.client.zrange(index, "0", "-1")).toEqual([group!]);
  }
  expect(await server.client.keys("idx:req:user:*")).toHaveLength(2);
  expect(await server.client.keys("idx:req:client:*")).toHaveLength(2);
});
