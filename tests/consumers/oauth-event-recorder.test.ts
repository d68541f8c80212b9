/**
 * The OAuth event recorder against a real Redis: batched writes land in the
 * stream, the flow list and the indexes with TTLs; a full queue and an
 * unreachable Redis drop events and count them, and recording never throws
 * or waits.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { newFlowId, oauthEvent } from "../../src/consumers/oauth-events/event";
import { oauthEventKeys } from "../../src/consumers/oauth-events/keys";
import { findFlows, summarize } from "../../src/consumers/oauth-events/query";
import { OAuthEventRecorder } from "../../src/consumers/oauth-events/recorder";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;

beforeAll(async () => {
  redis = await startTestRedis();
});

afterAll(async () => {
  await redis?.stop();
});

describe("OAuthEventRecorder", () => {
  test("one flush writes the stream, the flow and its indexes, each with the retention as TTL", async () => {
    const recorder = new OAuthEventRecorder(redis.client, { retentionHours: 2 });
    const flow = newFlowId();
    recorder.record(oauthEvent(flow, "authorize", "ok", { client_id: "c-1", ip: "192.0.2.1" }));
    recorder.record(oauthEvent(flow, "allowlist", "refused", { client_id: "c-1", ip: "192.0.2.1", user: "Bob", reason: "user not in allowlist (X)" }));
    await recorder.flush();
    expect(recorder.written).toBe(2);
    const keys = [oauthEventKeys.stream, oauthEventKeys.flow(flow), oauthEventKeys.byClient("c-1"), oauthEventKeys.byUser("bob"), oauthEventKeys.byIp("192.0.2.1")];
    for (const key of keys) {
      const ttl = await redis.client.ttl(key);
      expect({ key, ok: ttl > 7000 && ttl <= 7200 }).toEqual({ key, ok: true });
    }
    const [found] = await findFlows(redis.client, { user: "BOB", hours: 1, limit: 5 });
    expect(found!.flow_id).toBe(flow);
    expect(found!.steps.map((s) => s.step)).toEqual(["authorize", "allowlist"]);
    expect(found!.outcome).toBe("refused");
    expect(found!.reason).toBe("user not in allowlist (X)");
  });

  test("beyond the queue cap events are dropped and counted, never thrown", () => {
    const recorder = new OAuthEventRecorder(redis.client, { retentionHours: 1, queueMax: 3 });
    for (let i = 0; i < 10; i++) recorder.record(oauthEvent(newFlowId(), "authorize", "ok", {}));
    expect(recorder.dropped).toBe(7);
  });

  test("Redis unreachable: the batch is dropped and counted, and flush still resolves", async () => {
    const gone = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    const recorder = new OAuthEventRecorder(gone, { retentionHours: 1 });
    for (let i = 0; i < 4; i++) recorder.record(oauthEvent(newFlowId(), "token", "ok", {}));
    await recorder.flush();
    expect(recorder.dropped).toBe(4);
    expect(recorder.written).toBe(0);
    await recorder.stop();
    gone.disconnect();
  });
});

test("a write Redis refuses (here a key of the wrong type) drops its batch and counts it", async () => {
  const flow = newFlowId();
  await redis.client.set(oauthEventKeys.flow(flow), "not a list");
  const recorder = new OAuthEventRecorder(redis.client, { retentionHours: 1 });
  recorder.record(oauthEvent(flow, "authorize", "ok", {}));
  recorder.record(oauthEvent(flow, "callback", "ok", {}));
  await recorder.flush();
  expect(recorder.dropped).toBe(2);
  expect(recorder.written).toBe(0);
});

describe("summaries and events", () => {
  test("free text is bounded; empty fields are null", () => {
    const event = oauthEvent(newFlowId(), "authorize", "refused", { reason: "x".repeat(1000), client_id: "" });
    expect(event.reason!.length).toBeLessThanOrEqual(301);
    expect(event.client_id).toBeNull();
  });

  test("a flow is ok until a step is refused or fails; the first refusal gives the reason", () => {
    const id = newFlowId();
    const ok = oauthEvent(id, "authorize", "ok", { client_id: "c" });
    const refused = oauthEvent(id, "token", "refused", { reason: "first", user: "u" });
    const failed = oauthEvent(id, "refresh", "error", { reason: "second" });
    expect(summarize(id, [ok]).outcome).toBe("ok");
    expect(summarize(id, [ok, refused, failed])).toMatchObject({ outcome: "refused", reason: "first", client_id: "c", user: "u" });
  });
});
