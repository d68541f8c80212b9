/**
 * A cap on open log follows (GET /services/{name}/logs?follow=true): each one
 * holds an engine connection and a response stream for as long as the client
 * stays, so a client that opens them in a loop would otherwise exhaust the
 * node's sockets and the engine's. Counted per node and per token; a follow
 * past either cap is refused (429 with Retry-After) before the engine is
 * asked, and a closed follow frees its slot.
 */
import { tooManyRequests } from "../core/errors";

/** A follow slot frees up only when some client goes away; a short wait before trying again is all a client can do. */
export const LOG_FOLLOW_RETRY_AFTER_SECONDS = 10;

export class LogFollowSlots {
  private open = 0;
  private readonly perToken = new Map<string, number>();

  constructor(
    readonly maxPerNode: number,
    readonly maxPerToken: number,
  ) {}

  /** Takes a slot for `tokenHash`, or throws 429 naming the cap reached. The returned release may be called any number of times. */
  acquire(tokenHash: string): () => void {
    const mine = this.perToken.get(tokenHash) ?? 0;
    if (mine >= this.maxPerToken) {
      throw tooManyRequests(`this token already follows ${mine} service logs, the most one token may (SERVICE_LOG_FOLLOWS_PER_TOKEN=${this.maxPerToken}); close one and try again`, LOG_FOLLOW_RETRY_AFTER_SECONDS);
    }
    if (this.open >= this.maxPerNode) {
      throw tooManyRequests(`this gateway node already serves ${this.open} service log follows, its most (SERVICE_LOG_FOLLOWS_MAX=${this.maxPerNode}); try again later`, LOG_FOLLOW_RETRY_AFTER_SECONDS);
    }
    this.open++;
    this.perToken.set(tokenHash, mine + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.open--;
      const left = (this.perToken.get(tokenHash) ?? 1) - 1;
      if (left > 0) this.perToken.set(tokenHash, left);
      else this.perToken.delete(tokenHash);
    };
  }

  /** Follows open now: on this node, and of one token. */
  count(tokenHash?: string): number {
    return tokenHash === undefined ? this.open : (this.perToken.get(tokenHash) ?? 0);
  }
}
