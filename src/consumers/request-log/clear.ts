/**
 * Deleting the whole request log (DELETE /api/v1/logs): every key matching
 * the writer's patterns, found with SCAN (never KEYS, which blocks Redis for
 * the whole keyspace) and removed with UNLINK (freed in the background).
 */
import type { Redis } from "ioredis";
import { requestLogKeys as keys } from "./keys";

export async function clearRequestLog(redis: Redis): Promise<number> {
  let deleted = 0;
  for (const pattern of keys.patterns) {
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (found.length > 0) deleted += await redis.unlink(...found);
    } while (cursor !== "0");
  }
  return deleted;
}
