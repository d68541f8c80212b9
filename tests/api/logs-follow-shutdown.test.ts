/**
 * A gateway shutting down ends its live tails at once (they have nothing to
 * finish), instead of holding the shutdown for the whole grace period that
 * requests in flight get; the follower's Redis connection closes with it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TAIL_CONNECTION_NAME } from "../../src/api/routes/logs-follow";
import { SHUTDOWN_TIMING } from "../../src/dispatcher/shutdown";
import { GATEWAY_ADMIN, startTestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(() => redis.stop());

const tails = async () => String(await redis.client.client("LIST")).split("\n").filter((line) => line.includes(` name=${TAIL_CONNECTION_NAME} `)).length;

test("stop() ends open tails well within the grace period", async () => {
  const gw = await startTestGateway(redis);
  const res = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/api/v1/logs/follow`, { headers: { authorization: `Bearer ${GATEWAY_ADMIN}` } });
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  expect(first).toContain(": following");
  expect(await tails()).toBe(1);
  const started = Date.now();
  const ended = (async () => {
    while (!(await reader.read()).done);
    return Date.now() - started;
  })();
  await gw.stop();
  const took = Date.now() - started;
  expect(took).toBeLessThan(SHUTDOWN_TIMING.graceMs / 2);
  expect(await ended).toBeLessThan(SHUTDOWN_TIMING.graceMs / 2);
  expect(await tails()).toBe(0);
}, 30_000);
