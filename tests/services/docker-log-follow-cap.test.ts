/**
 * The cap on open service log follows (SERVICE_LOG_FOLLOWS_MAX per node,
 * SERVICE_LOG_FOLLOWS_PER_TOKEN per token), with real SSE connections to a
 * real gateway and a real Docker API (podman): past a cap a follow is 429
 * JSON with Retry-After and opens no engine stream; a follow the client
 * closes, or one that ends with its container, frees its slot; /metrics
 * shows the open count (portcullis_service_log_follows).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openLogFollowCount } from "../../src/services/docker-engine";
import { LOG_FOLLOW_RETRY_AFTER_SECONDS } from "../../src/services/log-follow-slots";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

let engine: TestDockerEngine;
let redis: TestRedis;
let gw: TestGateway;
let alice: string;
let bob: string;

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost, SERVICE_LOG_FOLLOWS_MAX: "3", SERVICE_LOG_FOLLOWS_PER_TOKEN: "2" });
  alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token;
  expect((await gw.apiAs(alice, "POST", "/api/v1/services/", { service_name: "alice-svc", image: TEST_IMAGE })).status).toBe(201);
  expect((await gw.apiAs(bob, "POST", "/api/v1/services/", { service_name: "bob-svc", image: TEST_IMAGE })).status).toBe(201);
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

interface Follow {
  readonly status: number;
  readonly headers: Headers;
  readonly json: any;
  close(): Promise<void>;
}

/** Opens a follow; an accepted one is read until its first SSE comment, so it is really open. */
async function follow(token: string, service: string): Promise<Follow> {
  const abort = new AbortController();
  const res = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/api/v1/services/${service}/logs?follow=true&lines=1`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  if (res.status !== 200) return { status: res.status, headers: res.headers, json: await res.json(), close: async () => {} };
  const reader = res.body!.getReader();
  const first = await reader.read();
  expect(new TextDecoder().decode(first.value)).toContain(": following");
  return {
    status: 200,
    headers: res.headers,
    json: null,
    async close() {
      abort.abort();
      await reader.cancel().catch(() => {});
    },
  };
}

/** portcullis_service_log_follows on this gateway's /metrics. */
async function followsGauge(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`)).text();
  return Number(/^portcullis_service_log_follows (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

describe("log follow caps", () => {
  test("per token and per node: 429 with Retry-After past either; a closed follow frees its slot", async () => {
    const before = openLogFollowCount();
    const a1 = await follow(alice, "alice-svc");
    const a2 = await follow(alice, "alice-svc");
    expect([a1.status, a2.status]).toEqual([200, 200]);

    // Alice's third: her token's cap (2), though the node has room.
    const a3 = await follow(alice, "alice-svc");
    expect([a3.status, a3.json.error, a3.headers.get("retry-after")]).toEqual([429, "too_many_requests", String(LOG_FOLLOW_RETRY_AFTER_SECONDS)]);
    expect(a3.headers.get("content-type")).toContain("application/json");
    expect(a3.json.detail).toContain("SERVICE_LOG_FOLLOWS_PER_TOKEN=2");
    expect(openLogFollowCount()).toBe(before + 2); // a refused follow opened no engine stream
    expect(await followsGauge()).toBe(2);

    // Bob's first takes the node's last slot (3); his second meets the node's cap.
    const b1 = await follow(bob, "bob-svc");
    expect(b1.status).toBe(200);
    const b2 = await follow(bob, "bob-svc");
    expect([b2.status, b2.headers.get("retry-after")]).toEqual([429, String(LOG_FOLLOW_RETRY_AFTER_SECONDS)]);
    expect(b2.json.detail).toContain("SERVICE_LOG_FOLLOWS_MAX=3");

    // Alice closes one: her slot and the node's come back, and Bob's next follow is served.
    await a1.close();
    expect(await within(3_000, async () => openLogFollowCount() === before + 2)).toBe(true);
    let b3: Follow | null = null;
    expect(await within(3_000, async () => {
      const attempt = await follow(bob, "bob-svc");
      if (attempt.status === 200) b3 = attempt;
      return attempt.status === 200;
    })).toBe(true);
    // The node is full again.
    expect((await follow(alice, "alice-svc")).status).toBe(429);

    expect(await followsGauge()).toBe(3);
    for (const open of [a2, b1, b3!]) await open.close();
    expect(await within(3_000, async () => openLogFollowCount() === before)).toBe(true);
    expect(await within(3_000, async () => (await followsGauge()) === 0)).toBe(true);
    // Every slot is free: three follows at once again.
    const again = [await follow(alice, "alice-svc"), await follow(alice, "alice-svc"), await follow(bob, "bob-svc")];
    expect(again.map((f) => f.status)).toEqual([200, 200, 200]);
    for (const open of again) await open.close();
    expect(await within(3_000, async () => openLogFollowCount() === before)).toBe(true);
  }, 60_000);

  test("a follow that ends with its container frees its slot", async () => {
    const f1 = await follow(bob, "bob-svc");
    const f2 = await follow(bob, "bob-svc");
    expect([f1.status, f2.status]).toEqual([200, 200]);
    expect((await follow(bob, "bob-svc")).status).toBe(429);
    // Stopping the container ends both follows from the engine's side, without the client closing.
    expect((await gw.apiAs(bob, "POST", "/api/v1/services/bob-svc/stop")).status).toBe(200);
    expect((await gw.apiAs(bob, "POST", "/api/v1/services/bob-svc/start")).status).toBe(200);
    expect(await within(5_000, async () => {
      const attempt = await follow(bob, "bob-svc");
      await attempt.close();
      return attempt.status === 200;
    })).toBe(true);
    await f1.close();
    await f2.close();
  }, 60_000);
});
