/**
 * Queues the writes that revoke access tokens, onto a MULTI the caller
 * commits: the jtis join `oauth:revoked` (scored by expiry, pruned as entries
 * expire), their records and index entries go, and every node is told with
 * an `oauth_token_revoked` event in the same transaction.
 */
import type { ChainableCommander } from "ioredis";
import { queueEvent } from "../../orchestration/events";
import { keys } from "../../storage/keys";

/** What revoking needs of a token: its expiry (seconds) for the score, and where it is indexed. */
export interface RevocationTarget {
  readonly jti: string;
  readonly exp: number;
  /** null when unknown (record already gone): the user index entry then expires on its own. */
  readonly sub: string | null;
  readonly grant_id: string;
}

export function queueRevocation(tx: ChainableCommander, tokens: readonly RevocationTarget[], nowMs = Date.now()): void {
  const live = tokens.filter((t) => t.exp * 1000 > nowMs);
  if (live.length === 0) return;
  tx.zadd(keys.oauthRevoked, ...live.flatMap((t) => [t.exp * 1000, t.jti]));
  // An expired token fails verification anyway, so its entry only costs memory on every node.
  tx.zremrangebyscore(keys.oauthRevoked, "-inf", nowMs);
  const untilLastExpiry = Math.max(...live.map((t) => t.exp * 1000)) - nowMs;
  // NX gives a new set its TTL; GT only ever extends an existing one.
  tx.pexpire(keys.oauthRevoked, untilLastExpiry, "NX");
  tx.pexpire(keys.oauthRevoked, untilLastExpiry, "GT");
  for (const t of live) {
    tx.del(keys.oauthToken(t.jti));
    if (t.sub !== null) tx.zrem(keys.oauthUserTokens(t.sub), t.jti);
    tx.zrem(keys.oauthGrantTokens(t.grant_id), t.jti);
  }
  queueEvent(tx, { event_type: "oauth_token_revoked", data: { jtis: live.map((t) => t.jti) } });
}
