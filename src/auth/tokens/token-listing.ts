/**
 * Read-only views over the token keys for the admin API. The keyspace is
 * walked with SCAN (never KEYS, which blocks Redis for everyone).
 */
import type { Redis } from "ioredis";
import { keys } from "../../storage/keys";
import { parseJson, type AccessTokenRecord, type GrantRecord } from "./token-records";

const SCAN_BATCH = 500;

/** Every key starting with `prefix`, a batch at a time, each once (SCAN may repeat a key while Redis rehashes). */
export async function* scanKeys(redis: Redis, prefix: string): AsyncGenerator<string[]> {
  const seen = new Set<string>();
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", SCAN_BATCH);
    cursor = next;
    const fresh = batch.filter((key) => !seen.has(key));
    for (const key of fresh) seen.add(key);
    if (fresh.length > 0) yield fresh;
  } while (cursor !== "0");
}

/** Live access tokens, newest first; by user through the user's index, otherwise by scanning. */
export async function listAccessTokens(redis: Redis, filter: { clientId?: string; sub?: string }): Promise<AccessTokenRecord[]> {
  const found: AccessTokenRecord[] = [];
  const collect = async (tokenKeys: string[]) => {
    if (tokenKeys.length === 0) return;
    for (const raw of await redis.mget(tokenKeys)) {
      const record = parseJson<AccessTokenRecord>(raw);
      if (record && (!filter.clientId || record.client_id === filter.clientId) && (!filter.sub || record.sub === filter.sub)) found.push(record);
    }
  };
  if (filter.sub !== undefined) {
    const jtis = await redis.zrangebyscore(keys.oauthUserTokens(filter.sub), Date.now(), "+inf");
    await collect(jtis.map(keys.oauthToken));
  } else {
    for await (const batch of scanKeys(redis, keys.oauthToken(""))) await collect(batch);
  }
  return found.sort((a, b) => b.iat - a.iat || a.jti.localeCompare(b.jti));
}

/** Grants with whether each still has a live refresh token, newest first. */
export async function listGrantsWithRefresh(redis: Redis): Promise<{ grant: GrantRecord; hasRefreshToken: boolean }[]> {
  const found: { grant: GrantRecord; hasRefreshToken: boolean }[] = [];
  for await (const batch of scanKeys(redis, keys.oauthGrant(""))) {
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.hmget(key, "record", "refresh");
    for (const [err, reply] of (await pipeline.exec()) ?? []) {
      if (err) continue;
      const [record, refresh] = reply as [string | null, string | null];
      const grant = parseJson<GrantRecord>(record);
      if (grant) found.push({ grant, hasRefreshToken: refresh !== null });
    }
  }
  return found.sort((a, b) => b.grant.created_at - a.grant.created_at || a.grant.grant_id.localeCompare(b.grant.grant_id));
}

export async function countTokens(redis: Redis): Promise<{ access_tokens: number; refresh_tokens: number; grants: number; revoked: number }> {
  let accessTokens = 0;
  for await (const batch of scanKeys(redis, keys.oauthToken(""))) accessTokens += batch.length;
  const grants = await listGrantsWithRefresh(redis);
  const revoked = await redis.zcount(keys.oauthRevoked, `(${Date.now()}`, "+inf");
  return {
    access_tokens: accessTokens,
    // A grant holds at most one live refresh token; rotated ones are only tombstones.
    refresh_tokens: grants.filter((g) => g.hasRefreshToken).length,
    grants: grants.length,
    revoked,
  };
}
