/**
 * LiveConfig on a real Redis: the host table follows proxy events, and stays
 * the very same table through events it is not built from (a revoked token,
 * a certificate), so nothing is recompiled for them and what connections
 * keep per proxy entry (raw-edge's reuse) stays valid.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import pino from "pino";
import { LiveConfig } from "../../src/dispatcher/live-config";
import { queueEvent } from "../../src/orchestration/events";
import { createStores } from "../../src/storage/stores";
import { proxyRecord } from "../helpers/records";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let live: LiveConfig;

beforeAll(async () => {
  redis = await startTestRedis();
  live = new LiveConfig(redis.client, createStores(redis.client), pino({ level: "silent" }));
  await live.start();
});
afterAll(async () => {
  await live?.stop();
  await redis?.stop();
});

/** Waits until the follower has applied every event written so far. */
async function caughtUp(): Promise<void> {
  const latest = (await redis.client.xrevrange("events:workflow", "+", "-", "COUNT", 1))[0]?.[0];
  for (let i = 0; i < 200 && live.appliedEventId !== latest; i++) await Bun.sleep(10);
  expect(live.appliedEventId).toBe(latest);
}

test("a proxy event rebuilds the table; other events leave the very same table, and the next proxy event still rebuilds it", async () => {
  const stores = createStores(redis.client);
  expect(await stores.proxies.create(proxyRecord("one.example.test"))).toBe(true);
  await caughtUp();
  const withOne = live.table;
  expect(withOne.lookup("one.example.test")?.hostname).toBe("one.example.test");

  const tx = redis.client.multi();
  queueEvent(tx, { event_type: "oauth_token_revoked", data: { jti: "j1" } });
  queueEvent(tx, { event_type: "certificate_ready", hostname: "one.example.test" });
  await tx.exec();
  await caughtUp();
  expect(live.table).toBe(withOne);

  expect(await stores.proxies.create(proxyRecord("two.example.test"))).toBe(true);
  await caughtUp();
  expect(live.table).not.toBe(withOne);
  expect(live.table.lookup("two.example.test")?.hostname).toBe("two.example.test");
});
