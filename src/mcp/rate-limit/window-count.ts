/**
 * One rate-limit counter on one node: the calls of one identity to one limit
 * in the current fixed window, as far as this node knows the cluster's count.
 * Windows are aligned to the epoch (window n spans [n·W, (n+1)·W)), so every
 * node counts into the same window without talking to the others. Pure: the
 * time comes in as an argument.
 *
 * The count this node goes by is `synced + sending + unsent`: the cluster's
 * total as Redis last answered it (which holds what this node had sent),
 * what is on its way there, and what was admitted here since.
 */

export interface WindowCount {
  /** The window's index: floor(time / windowMs). */
  window: number;
  /** The cluster-wide count Redis last answered for this window. */
  synced: number;
  /** Sent to Redis in the pipeline in flight, not answered yet. */
  sending: number;
  /** Admitted here and not sent yet. */
  unsent: number;
  /** When Redis last answered for this window (ms since the epoch), or -Infinity: until then this node knows nothing of the others' calls. */
  heardAt: number;
}

export function windowIndex(now: number, windowMs: number): number {
  return Math.floor(now / windowMs);
}

/** When the window ends, in ms since the epoch. */
export function windowEnd(window: number, windowMs: number): number {
  return (window + 1) * windowMs;
}

export function newCount(window: number): WindowCount {
  return { window, synced: 0, sending: 0, unsent: 0, heardAt: -Infinity };
}

/** Starts the window `now` falls in, when the count is of an earlier one. */
export function rollForward(count: WindowCount, now: number, windowMs: number): void {
  const window = windowIndex(now, windowMs);
  if (window === count.window) return;
  count.window = window;
  count.synced = 0;
  count.sending = 0;
  count.unsent = 0;
  count.heardAt = -Infinity;
}

/** The calls this node knows of in the window. */
export function known(count: WindowCount): number {
  return count.synced + count.sending + count.unsent;
}

/** Whether `cost` more calls stay within `limit`. */
export function fits(count: WindowCount, cost: number, limit: number): boolean {
  return known(count) + cost <= limit;
}

/** Counts admitted calls. */
export function charge(count: WindowCount, cost: number): void {
  count.unsent += cost;
}

/**
 * Whether the count should reach Redis at once rather than with the next
 * periodic sync: Redis has not answered for it within `freshMs` (another
 * node may have spent the budget meanwhile; the answer tells), or half the
 * limit is used (where the nodes' unsent calls could add up past it).
 */
export function isUrgent(count: WindowCount, limit: number, now: number, freshMs: number): boolean {
  return count.unsent > 0 && (now - count.heardAt > freshMs || known(count) * 2 >= limit);
}

/**
 * Whether the other nodes' calls matter to this count now: at or past half
 * the limit and not at it yet. Such a count is read from Redis with every
 * sync, also when this node has nothing to send. A count at its limit needs
 * no reading: counts never go down within a window.
 */
export function needsRefresh(count: WindowCount, limit: number): boolean {
  const n = known(count);
  return n * 2 >= limit && n < limit;
}

/** Whole seconds until the window ends, at least 1: the Retry-After of a refusal. */
export function retryAfterSeconds(count: WindowCount, now: number, windowMs: number): number {
  return Math.max(1, Math.ceil((windowEnd(count.window, windowMs) - now) / 1000));
}

/** Moves the unsent calls into a pipeline; returns how many to add in Redis. */
export function beginSend(count: WindowCount): number {
  const amount = count.unsent;
  count.sending += amount;
  count.unsent = 0;
  return amount;
}

/**
 * Redis answered INCRBY for `window` with `total`, which holds the `sent`
 * calls. The count never goes down within a window: if Redis lost the key
 * (a restart), what this node knew stands.
 */
export function settleSend(count: WindowCount, window: number, sent: number, total: number, now: number): void {
  if (count.window !== window) return;
  count.sending -= sent;
  count.synced = Math.max(total, count.synced + sent);
  count.heardAt = now;
}

/** Redis answered GET for `window` with the cluster's `total` (what this node sent included). */
export function settleRead(count: WindowCount, window: number, total: number, now: number): void {
  if (count.window !== window) return;
  count.synced = Math.max(count.synced, total);
  count.heardAt = now;
}

/** The pipeline failed: the calls are sent again with the next one. */
export function failSend(count: WindowCount, window: number, sent: number): void {
  if (count.window !== window) return;
  count.sending -= sent;
  count.unsent += sent;
}
