/**
 * This node's copy of the revoked access-token list (`oauth:revoked`). The
 * edge asks has() on every authenticated request, so it answers from memory;
 * the copy is reloaded at start and after each `oauth_token_revoked` event
 * (as a StreamFollower). Should Redis be away, the last copy keeps serving.
 */
import type { Redis } from "ioredis";
import type { StreamFollower } from "../../dispatcher/live-config";
import { keys } from "../../storage/keys";

export class RevokedTokens implements StreamFollower {
  /** jti → expiry in ms; an entry is meaningless once its token expired. */
  private revoked = new Map<string, number>();
  private loadsStarted = 0;
  private loadApplied = 0;

  constructor(private readonly redis: Redis) {}

  wants(eventType: string): boolean {
    return eventType === "oauth_token_revoked";
  }

  async reload(): Promise<void> {
    const load = ++this.loadsStarted;
    const scored = await this.redis.zrangebyscore(keys.oauthRevoked, `(${Date.now()}`, "+inf", "WITHSCORES");
    const revoked = new Map<string, number>();
    for (let i = 0; i + 1 < scored.length; i += 2) revoked.set(scored[i]!, Number(scored[i + 1]));
    // Replies arrive in request order, but a stale load must never replace a newer one.
    if (load < this.loadApplied) return;
    this.loadApplied = load;
    this.revoked = revoked;
  }

  has(jti: string): boolean {
    const expiresMs = this.revoked.get(jti);
    return expiresMs !== undefined && expiresMs > Date.now();
  }

  get size(): number {
    return this.revoked.size;
  }
}
