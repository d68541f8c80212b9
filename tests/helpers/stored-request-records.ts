/** The request log as stored in Redis, read straight from its group hashes (not through the query code under test). */
import type { Redis } from "ioredis";
import { parseStoredRecords } from "../../src/consumers/request-log/filter";
import type { RequestRecord } from "../../src/consumers/request-log/record";

export interface StoredRequestRecord {
  readonly record: RequestRecord;
  /** The `req:{flush ms}:{ip}` hash holding it. */
  readonly groupKey: string;
}

/** Every stored record with its hash, by request id. */
export async function storedRequestRecords(redis: Redis): Promise<Map<string, StoredRequestRecord>> {
  const stored = new Map<string, StoredRequestRecord>();
  for (const groupKey of await redis.keys("req:*")) {
    for (const json of await redis.hvals(groupKey)) {
      for (const record of parseStoredRecords(json)) stored.set(record.request_id, { record, groupKey });
    }
  }
  return stored;
}
