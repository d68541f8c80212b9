/**
 * Optimistic transactions: WATCH some keys, read, queue writes on a MULTI, EXEC;
 * if another writer touched a watched key meanwhile, EXEC aborts and the whole
 * read-decide-write runs again. WATCH belongs to a connection, so each
 * transaction runs on a short-lived duplicate of the shared client.
 */
import type { ChainableCommander, Redis } from "ioredis";

/** What one attempt decided: writes to commit with a result, or a result without writing. */
export type Outcome<T> = { readonly commit: ChainableCommander; readonly result: T } | { readonly result: T };

const MAX_ATTEMPTS = 5;

export class TransactionConflictError extends Error {
  override name = "TransactionConflictError";
}

export async function watchAndCommit<T>(
  redis: Redis,
  watched: readonly string[],
  attempt: (conn: Redis) => Promise<Outcome<T>>,
): Promise<T> {
  // With Sentinel, this connection lives for one write: it asks a sentinel for the master, and skips
  // the failover detector (a subscription on every sentinel), which long-lived connections keep.
  const conn = redis.duplicate({ failoverDetector: false });
  conn.on("error", () => {}); // surfaced through the rejected commands instead
  try {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      if (watched.length > 0) await conn.watch(...watched);
      const outcome = await attempt(conn);
      if (!("commit" in outcome)) {
        await conn.unwatch();
        return outcome.result;
      }
      const replies = await outcome.commit.exec();
      if (replies === null) continue; // a watched key changed: decide again
      const failed = replies.find(([err]) => err);
      if (failed) throw failed[0];
      return outcome.result;
    }
    throw new TransactionConflictError(`${watched.join(", ")} kept changing during ${MAX_ATTEMPTS} attempts`);
  } finally {
    conn.disconnect();
  }
}
