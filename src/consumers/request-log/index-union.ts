/**
 * Group keys from one or more index sorted sets (member = group hash key,
 * score = flush time), newest first, a page at a time, each key once.
 *
 * Paging a union by score has one trap: ties. Each round asks every index
 * for its next `pageSize` members below the cursor. Members scored above the
 * highest "floor" (the lowest score an index returned when it filled its
 * page) are complete; members at the floor are fetched whole with a
 * ZRANGEBYSCORE floor floor (one flush's groups: bounded by the flush size).
 * The next round starts strictly below the floor, so every round makes
 * progress and none repeats or skips a group.
 */
import type { Redis } from "ioredis";

export interface ScoredKey {
  readonly key: string;
  readonly score: number;
}

export async function* groupKeysNewestFirst(
  redis: Redis,
  indexKeys: readonly string[],
  range: { readonly min: number; readonly max: number | null },
  pageSize: number,
): AsyncGenerator<ScoredKey[]> {
  if (indexKeys.length === 0) return;
  let cursor = range.max === null ? "+inf" : String(range.max);
  const min = String(range.min);
  while (true) {
    const pipeline = redis.pipeline();
    for (const index of indexKeys) pipeline.zrevrangebyscore(index, cursor, min, "WITHSCORES", "LIMIT", 0, pageSize);
    const replies = await execOrThrow(pipeline);
    const found = new Map<string, number>();
    let floor: number | null = null;
    for (const reply of replies) {
      const flat = reply as string[];
      for (let i = 0; i < flat.length; i += 2) found.set(flat[i]!, Number(flat[i + 1]));
      if (flat.length / 2 >= pageSize) {
        const lowest = Number(flat[flat.length - 1]);
        floor = floor === null ? lowest : Math.max(floor, lowest);
      }
    }
    if (found.size === 0) return;
    if (floor !== null) {
      const ties = redis.pipeline();
      for (const index of indexKeys) ties.zrangebyscore(index, floor, floor);
      for (const reply of await execOrThrow(ties)) for (const key of reply as string[]) found.set(key, floor);
    }
    const page = [...found]
      .filter(([, score]) => floor === null || score >= floor)
      .map(([key, score]) => ({ key, score }))
      .sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : 1));
    yield page;
    if (floor === null) return;
    cursor = `(${floor}`;
  }
}

export async function execOrThrow(pipeline: ReturnType<Redis["pipeline"]>): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
