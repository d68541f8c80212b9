/**
 * Read-your-writes at the edge (src/api/applied-here.ts): an API write answers
 * once the node that took it has applied the configuration events written up
 * to then, so "it serves at once" holds for the next request.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { untilAppliedHere } from "../../src/api/applied-here";
import { keys } from "../../src/storage/keys";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let gw: TestGateway;
const backend = namedBackend("applied-here");

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis);
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});

test("waits until the node's applied id reaches the stream's newest entry, and no longer", async () => {
  const newest = await redis.client.xadd(keys.workflowStream, "*", "event_type", "test_only", "hostname", "", "data", "{}", "timestamp", "");
  let applied = "0-0";
  setTimeout(() => (applied = newest!), 60);
  const started = performance.now();
  await untilAppliedHere(redis.client, () => applied);
  const waited = performance.now() - started;
  expect(waited).toBeGreaterThanOrEqual(50);
  expect(waited).toBeLessThan(1_000);
});

test("is bounded: a node that never catches up still gets its answer after the timeout", async () => {
  await redis.client.xadd(keys.workflowStream, "*", "event_type", "test_only", "hostname", "", "data", "{}", "timestamp", "");
  const started = performance.now();
  await untilAppliedHere(redis.client, () => "0-0", 100);
  expect(performance.now() - started).toBeGreaterThanOrEqual(95);
});

test("each proxy created through the API answers at the edge on the very next request", async () => {
  for (let i = 0; i < 30; i++) {
    const hostname = `at-once-${i}.example.test`;
    expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: `http://127.0.0.1:${backend.port}`, enable_https: false })).status).toBe(201);
    const res = await gw.get(hostname, "/");
    expect({ hostname, status: res.status }).toEqual({ hostname, status: 200 });
    await res.arrayBuffer();
  }
});
