/**
 * Copies every key of one Redis database into another with DUMP and RESTORE:
 * values of every type (streams with their consumer groups included) and each
 * key's remaining time to live. Batches are pipelined both ways, so a restore
 * costs round trips per thousand keys, not per key.
 */
import type { Redis } from "ioredis";

const BATCH = 1_000;

export interface CopyOutcome {
  copied: number;
  /** Keys that expired between the scan and their DUMP. */
  expired: number;
}

export async function copyKeys(from: Redis, to: Redis): Promise<CopyOutcome> {
  const outcome: CopyOutcome = { copied: 0, expired: 0 };
  let cursor = "0";
  do {
    const [next, keys] = await from.scanBuffer(cursor, "COUNT", BATCH);
    cursor = next.toString();
    if (keys.length === 0) continue;
    const read = from.pipeline();
    for (const key of keys) read.dumpBuffer(key).pttl(key);
    const values = unwrap(await read.exec());
    const write = to.pipeline();
    let writes = 0;
    keys.forEach((key, i) => {
      const dump = values[i * 2] as Buffer | null;
      const ttl = values[i * 2 + 1] as number;
      if (dump === null || ttl === -2) {
        outcome.expired++;
        return;
      }
      // No REPLACE: the target was checked empty (or flushed), so a key already there means someone else is writing.
      write.restore(key, ttl > 0 ? ttl : 0, dump);
      writes++;
    });
    if (writes > 0) unwrap(await write.exec());
    outcome.copied += writes;
  } while (cursor !== "0");
  return outcome;
}

function unwrap(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error("the Redis pipeline was aborted");
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
