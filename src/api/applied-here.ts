/**
 * Read-your-writes at the edge: an API write answers once the node that took
 * it has applied every configuration event written up to then, so a proxy or
 * route just created serves on this node when the caller gets the answer
 * ("it serves at once"). Bounded: a node whose event follower is behind (Redis
 * slow) still answers after `timeoutMs`; the change then applies a moment later.
 */
import type { Redis } from "ioredis";
import { compareStreamIds } from "../orchestration/events";
import { keys } from "../storage/keys";

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const DEFAULT_TIMEOUT_MS = 2_000;
const POLL_MS = 2;

export function isWrite(method: string): boolean {
  return WRITE_METHODS.has(method);
}

export async function untilAppliedHere(redis: Redis, appliedEventId: () => string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const latest = await redis.xrevrange(keys.workflowStream, "+", "-", "COUNT", 1).catch(() => []);
  const target = latest[0]?.[0];
  if (!target) return;
  for (const deadline = Date.now() + timeoutMs; compareStreamIds(appliedEventId(), target) < 0 && Date.now() < deadline; ) await Bun.sleep(POLL_MS);
}
