/** LogFollowSlots: the per-node and per-token caps on open service log follows (src/services/log-follow-slots.ts). */
import { describe, expect, test } from "bun:test";
import { ApiError } from "../../src/core/errors";
import { LOG_FOLLOW_RETRY_AFTER_SECONDS, LogFollowSlots } from "../../src/services/log-follow-slots";

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("log follow slots", () => {
  test("per token, then per node; a release frees one slot once, however often it is called", () => {
    const slots = new LogFollowSlots(3, 2);
    const a1 = slots.acquire("a");
    slots.acquire("a");
    const perToken = refusal(() => slots.acquire("a"));
    expect([perToken.status, perToken.code, perToken.retryAfterSeconds]).toEqual([429, "too_many_requests", LOG_FOLLOW_RETRY_AFTER_SECONDS]);
    expect(perToken.detail).toContain("SERVICE_LOG_FOLLOWS_PER_TOKEN=2");
    slots.acquire("b");
    expect(refusal(() => slots.acquire("c")).detail).toContain("SERVICE_LOG_FOLLOWS_MAX=3");
    expect([slots.count(), slots.count("a"), slots.count("b"), slots.count("c")]).toEqual([3, 2, 1, 0]);

    a1();
    a1(); // a second call must not free another follow's slot
    expect([slots.count(), slots.count("a")]).toEqual([2, 1]);
    const c1 = slots.acquire("c");
    expect(refusal(() => slots.acquire("b")).detail).toContain("SERVICE_LOG_FOLLOWS_MAX=3");
    c1();
    expect(slots.count()).toBe(2);
  });

  test("a refused acquire takes nothing", () => {
    const slots = new LogFollowSlots(1, 1);
    slots.acquire("a");
    for (let i = 0; i < 5; i++) refusal(() => slots.acquire("a"));
    for (let i = 0; i < 5; i++) refusal(() => slots.acquire("b"));
    expect([slots.count(), slots.count("a"), slots.count("b")]).toEqual([1, 1, 0]);
  });
});
