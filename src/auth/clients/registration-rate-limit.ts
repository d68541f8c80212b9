/**
 * How many clients one IP may register per minute (OAUTH_REGISTRATION_RATE_LIMIT).
 * A fixed window per calendar minute, counted in Redis so every node shares it.
 */
import type { Redis } from "ioredis";
import { keys } from "../../storage/keys";

export interface RateDecision {
  readonly allowed: boolean;
  /** Seconds until the window resets (for Retry-After); at least 1. */
  readonly retryAfterSeconds: number;
}

/** Counts one registration attempt from `ip` and says whether it is within `limitPerMinute`. */
export async function countRegistration(redis: Redis, ip: string, limitPerMinute: number, nowMs = Date.now()): Promise<RateDecision> {
  const minute = Math.floor(nowMs / 60_000);
  const key = keys.oauthRegistrationRate(ip, minute);
  // The key outlives its minute a little so a clock skew between nodes does not reset it early.
  const results = await redis.multi().incr(key).expire(key, 120).exec();
  const count = Number(results?.[0]?.[1] ?? 0);
  return {
    allowed: count <= limitPerMinute,
    retryAfterSeconds: Math.max(1, Math.ceil(((minute + 1) * 60_000 - nowMs) / 1000)),
  };
}
