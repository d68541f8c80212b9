/**
 * This node's rate-limit counters, shared with the other nodes through Redis
 * without the request path ever waiting on it. A call is admitted or refused
 * against what this node knows (window-count.ts); the calls admitted here
 * reach Redis in one pipeline (INCRBY per counter and window, with an expiry
 * just past the window), and Redis's answer — the cluster's total — becomes
 * this node's count. One pipeline is in flight at a time:
 * - calls of a counter Redis has not answered for within SYNC_INTERVAL_MS
 *   (a node's first call in a window, or after a pause), or of one at half
 *   its limit, are sent on the next turn of the event loop (or when the
 *   pipeline in flight returns); other calls every SYNC_INTERVAL_MS;
 * - every SYNC_INTERVAL_MS, counters between half their limit and the limit
 *   are also read (GET), so that a node learns of the others' calls without
 *   making any itself.
 *
 * Accuracy: on one node the count is exact. Across nodes a count can pass
 * its limit by the calls the other nodes admitted that this one had not
 * heard of yet. A node decides on a view at most SYNC_INTERVAL_MS plus a
 * round trip old, except for the one call that makes it ask again after a
 * pause (its first in the window, or its first after an idle spell below
 * half the limit: past half it reads every interval anyway). Hence: over by
 * at most the calls the other nodes admitted in the last ~SYNC_INTERVAL_MS
 * + a round trip, plus one call per node — never more than
 * (nodes − 1) × limit.
 *
 * Without Redis the counts stay local (each node enforces the limits by
 * itself) and are sent when it is back, if their window is still open.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../core/logger";
import { keys } from "../../storage/keys";
import type { Charge } from "./rate-rules";
import {
  beginSend,
  charge,
  failSend,
  fits,
  isUrgent,
  needsRefresh,
  newCount,
  retryAfterSeconds,
  rollForward,
  settleRead,
  settleSend,
  windowEnd,
  windowIndex,
  type WindowCount,
} from "./window-count";

export const SYNC_INTERVAL_MS = 100;
/** Counters this node holds at most; past it a call with a new counter is refused (fail closed) until windows end. */
export const MAX_COUNTERS = 100_000;
/** A window's key outlives it by this much, for nodes whose clocks run late. */
const EXPIRY_SLACK_MS = 30_000;

export type ChargeOutcome = { readonly ok: true } | { readonly ok: false; readonly index: number; readonly retryAfter: number };

interface Counter extends WindowCount {
  readonly windowMs: number;
  /** The limit it was last charged against (rules can change). */
  limit: number;
  /** The counter key as Redis keys name it: a digest, fixed length whatever the client_id or tool name. */
  readonly digest: string;
}

/** One counter in a pipeline: `amount` calls added (INCRBY), or 0: read (GET). */
interface Sent {
  readonly counter: Counter;
  readonly window: number;
  readonly amount: number;
  /** Where its INCRBY or GET reply is among the pipeline's replies. */
  readonly reply: number;
}

const ADMITTED: ChargeOutcome = Object.freeze({ ok: true as const });

export class ClusterRateCounters {
  /** limit key → caller key → counter. */
  private readonly counters = new Map<string, Map<string, Counter>>();
  private count = 0;
  private readonly dirty = new Set<Counter>();
  /** Counters between half their limit and the limit: read with every sync. */
  private readonly hot = new Set<Counter>();
  private urgent = false;
  private inFlight: Promise<void> | null = null;
  private promptScheduled = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Redis failed: no prompt syncs until the next tick, and one log line per outage. */
  private failing = false;
  private running = false;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly options: { readonly syncIntervalMs?: number; readonly now?: () => number; readonly maxCounters?: number } = {},
  ) {}

  start(): void {
    this.running = true;
    this.timer = setInterval(() => this.tick(), this.interval);
  }

  /** Sends what is still unsent (best effort), then stops. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    await this.inFlight;
    if (this.dirty.size > 0 && !this.failing) await this.sync();
  }

  /**
   * Charges the caller's counter of each limit with its cost if all of them
   * stay within their limits, and none otherwise (a refused batch spends
   * nothing). Synchronous.
   */
  tryCharge(charges: readonly Charge[], caller: string): ChargeOutcome {
    const now = this.now();
    const counters: Counter[] = [];
    // Every limit is looked at: the refusal names the one that frees up last, so its Retry-After is worth waiting for.
    let refusal: { ok: false; index: number; retryAfter: number } | null = null;
    for (let i = 0; i < charges.length; i++) {
      const { limit, cost } = charges[i]!;
      const counter = this.counterFor(limit.key, caller, limit.windowMs, limit.limit, now);
      const retryAfter = counter === null ? 1 : fits(counter, cost, limit.limit) ? 0 : retryAfterSeconds(counter, now, limit.windowMs);
      if (retryAfter > (refusal?.retryAfter ?? 0)) refusal = { ok: false, index: i, retryAfter };
      if (counter !== null) counters.push(counter);
    }
    if (refusal !== null) return refusal;
    for (let i = 0; i < counters.length; i++) {
      const counter = counters[i]!;
      counter.limit = charges[i]!.limit.limit;
      charge(counter, charges[i]!.cost);
      this.dirty.add(counter);
      this.track(counter);
      if (!this.urgent && isUrgent(counter, counter.limit, now, this.interval)) this.urgent = true;
    }
    if (this.urgent) this.schedulePrompt();
    return ADMITTED;
  }

  /** How many counters this node holds (for tests and metrics). */
  get size(): number {
    return this.count;
  }

  private get interval(): number {
    return this.options.syncIntervalMs ?? SYNC_INTERVAL_MS;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private counterFor(limitKey: string, caller: string, windowMs: number, limit: number, now: number): Counter | null {
    let callers = this.counters.get(limitKey);
    let counter = callers?.get(caller);
    if (counter !== undefined) {
      rollForward(counter, now, windowMs);
      return counter;
    }
    const max = this.options.maxCounters ?? MAX_COUNTERS;
    if (this.count >= max) {
      this.prune(now);
      if (this.count >= max) return null;
      callers = this.counters.get(limitKey);
    }
    if (callers === undefined) this.counters.set(limitKey, (callers = new Map()));
    counter = { ...newCount(windowIndex(now, windowMs)), windowMs, limit, digest: digest(`${limitKey}\n${caller}`) };
    callers.set(caller, counter);
    this.count++;
    return counter;
  }

  private schedulePrompt(): void {
    if (this.promptScheduled || this.inFlight || this.failing || !this.running) return;
    this.promptScheduled = true;
    setImmediate(() => {
      this.promptScheduled = false;
      if (!this.inFlight) void this.sync();
    });
  }

  private tick(): void {
    const now = this.now();
    this.prune(now);
    if (this.inFlight || (this.dirty.size === 0 && this.hot.size === 0)) return;
    void this.sync();
  }

  private track(counter: Counter): void {
    if (needsRefresh(counter, counter.limit)) this.hot.add(counter);
    else this.hot.delete(counter);
  }

  /** Drops counters whose window is over: nothing of them is needed any more. */
  private prune(now: number): void {
    for (const [limitKey, callers] of this.counters) {
      for (const [caller, counter] of callers) {
        if (windowEnd(counter.window, counter.windowMs) > now) continue;
        callers.delete(caller);
        this.count--;
        this.dirty.delete(counter);
        this.hot.delete(counter);
      }
      if (callers.size === 0) this.counters.delete(limitKey);
    }
  }

  /** One pipeline with every dirty counter and every hot one; then again at once if something urgent came in meanwhile. */
  private sync(): Promise<void> {
    const sent: Sent[] = [];
    const pipeline = this.redis.pipeline();
    let replies = 0;
    for (const counter of this.dirty) {
      const amount = beginSend(counter);
      if (amount === 0) continue;
      const key = keys.mcpRateCount(counter.digest, counter.window);
      pipeline.incrby(key, amount);
      pipeline.pexpireat(key, windowEnd(counter.window, counter.windowMs) + EXPIRY_SLACK_MS);
      sent.push({ counter, window: counter.window, amount, reply: replies });
      replies += 2;
    }
    for (const counter of this.hot) {
      if (this.dirty.has(counter)) continue;
      pipeline.get(keys.mcpRateCount(counter.digest, counter.window));
      sent.push({ counter, window: counter.window, amount: 0, reply: replies++ });
    }
    this.dirty.clear();
    this.urgent = false;
    if (sent.length === 0) return Promise.resolve();
    const flight = pipeline.exec().then(
      (replies) => this.settle(sent, replies),
      (err: Error) => this.fail(sent, err),
    );
    this.inFlight = flight.finally(() => {
      this.inFlight = null;
      if (this.urgent) this.schedulePrompt();
    });
    return this.inFlight;
  }

  private settle(sent: readonly Sent[], replies: [Error | null, unknown][] | null): void {
    const now = this.now();
    for (const { counter, window, amount, reply } of sent) {
      const [err, value] = replies?.[reply] ?? [new Error("no reply"), null];
      // INCRBY answers a number; GET a string, or null when no node counted anything yet.
      const total = typeof value === "number" ? value : typeof value === "string" ? Number(value) : value === null && amount === 0 ? 0 : NaN;
      if (err || !Number.isFinite(total)) {
        if (amount > 0) {
          failSend(counter, window, amount);
          this.dirty.add(counter);
        }
        continue;
      }
      if (amount > 0) settleSend(counter, window, amount, total, now);
      else settleRead(counter, window, total, now);
      this.track(counter);
    }
    if (this.failing) {
      this.failing = false;
      this.log.info("MCP rate-limit counters are shared through redis again");
    }
  }

  private fail(sent: readonly Sent[], err: Error): void {
    for (const { counter, window, amount } of sent) {
      if (amount === 0) continue;
      failSend(counter, window, amount);
      this.dirty.add(counter);
    }
    if (!this.failing) this.log.warn({ err: err.message }, "redis unavailable: MCP rate limits are enforced per node until it is back");
    this.failing = true;
  }
}

/** 128 bits of SHA-256: a caller cannot pick a client_id whose counter is another caller's. */
function digest(key: string): string {
  return new Bun.CryptoHasher("sha256").update(key).digest("base64url").slice(0, 22);
}
