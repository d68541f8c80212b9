/**
 * This node's rate-limit counters, shared with the other nodes through Redis
 * without the request path ever waiting on it. A call is admitted or refused
 * against what this node knows (window-count.ts); the calls admitted here
 * reach Redis in one pipeline (INCRBY per counter and window, with an expiry
 * just past the window), and Redis's answer — the cluster's total — becomes
 * this node's count. One pipeline is in flight at a time:
 * - a counter this node has not heard of in the window, or one at half its
 *   limit, is sent on the next turn of the event loop (or when the pipeline
 *   in flight returns);
 * - the others every SYNC_INTERVAL_MS.
 *
 * Accuracy: on one node the count is exact. Across nodes a count can pass
 * its limit by the calls the other nodes admitted that this one had not
 * heard of yet: per other node, at most the calls it admitted in one Redis
 * round trip (plus the pipeline then in flight) once the count is at half
 * the limit, and below half at most what it admitted in one sync interval —
 * never more than (nodes − 1) × limit per window.
 *
 * Without Redis the counts stay local (each node enforces the limits by
 * itself) and are sent when it is back, if their window is still open.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../core/logger";
import { keys } from "../../storage/keys";
import { beginSend, charge, failSend, fits, isUrgent, newCount, retryAfterSeconds, rollForward, settleSend, windowEnd, windowIndex, type WindowCount } from "./window-count";

export const SYNC_INTERVAL_MS = 100;
/** Counters this node holds at most; past it a call with a new counter is refused (fail closed) until windows end. */
export const MAX_COUNTERS = 100_000;
/** A window's key outlives it by this much, for nodes whose clocks run late. */
const EXPIRY_SLACK_MS = 30_000;

/** What a call is charged with: the counter (a limit's key and the caller's), its window, its limit, how many calls. */
export interface CounterCharge {
  /** Names the limit and the caller; the same on every node. */
  readonly key: string;
  readonly windowMs: number;
  readonly limit: number;
  readonly cost: number;
}

export type ChargeOutcome = { readonly ok: true } | { readonly ok: false; readonly index: number; readonly retryAfter: number };

interface Counter extends WindowCount {
  readonly windowMs: number;
  /** The counter key as Redis keys name it: a digest, fixed length whatever the client_id or tool name. */
  readonly digest: string;
}

interface Sent {
  readonly counter: Counter;
  readonly window: number;
  readonly amount: number;
}

const ADMITTED: ChargeOutcome = Object.freeze({ ok: true as const });

export class ClusterRateCounters {
  private readonly counters = new Map<string, Counter>();
  private readonly dirty = new Set<Counter>();
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
    this.timer = setInterval(() => this.tick(), this.options.syncIntervalMs ?? SYNC_INTERVAL_MS);
  }

  /** Sends what is still unsent (best effort), then stops. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    await this.inFlight;
    if (this.dirty.size > 0 && !this.failing) await this.sync();
  }

  /**
   * Charges every counter with its cost if all of them stay within their
   * limits, and none otherwise (a refused batch spends nothing). Synchronous.
   */
  tryCharge(charges: readonly CounterCharge[]): ChargeOutcome {
    const now = this.now();
    const counters: Counter[] = [];
    for (let i = 0; i < charges.length; i++) {
      const wanted = charges[i]!;
      const counter = this.counterFor(wanted, now);
      if (counter === null) return { ok: false, index: i, retryAfter: 1 };
      if (!fits(counter, wanted.cost, wanted.limit)) return { ok: false, index: i, retryAfter: retryAfterSeconds(counter, now, wanted.windowMs) };
      counters.push(counter);
    }
    for (let i = 0; i < counters.length; i++) {
      const counter = counters[i]!;
      charge(counter, charges[i]!.cost);
      this.dirty.add(counter);
      if (!this.urgent && isUrgent(counter, charges[i]!.limit)) this.urgent = true;
    }
    if (this.urgent) this.schedulePrompt();
    return ADMITTED;
  }

  /** How many counters this node holds (for tests and metrics). */
  get size(): number {
    return this.counters.size;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private counterFor(wanted: CounterCharge, now: number): Counter | null {
    let counter = this.counters.get(wanted.key);
    if (counter !== undefined) {
      rollForward(counter, now, wanted.windowMs);
      return counter;
    }
    if (this.counters.size >= (this.options.maxCounters ?? MAX_COUNTERS)) {
      this.prune(now);
      if (this.counters.size >= (this.options.maxCounters ?? MAX_COUNTERS)) return null;
    }
    counter = { ...newCount(windowIndex(now, wanted.windowMs)), windowMs: wanted.windowMs, digest: digest(wanted.key) };
    this.counters.set(wanted.key, counter);
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
    if (this.inFlight || this.dirty.size === 0) return;
    void this.sync();
  }

  /** Drops counters whose window is over: nothing of them is needed any more. */
  private prune(now: number): void {
    for (const [key, counter] of this.counters) {
      if (windowEnd(counter.window, counter.windowMs) > now) continue;
      this.counters.delete(key);
      this.dirty.delete(counter);
    }
  }

  /** One pipeline with every dirty counter; then again at once if something urgent came in meanwhile. */
  private sync(): Promise<void> {
    const sent: Sent[] = [];
    const pipeline = this.redis.pipeline();
    for (const counter of this.dirty) {
      const amount = beginSend(counter);
      if (amount === 0) continue;
      const key = keys.mcpRateCount(counter.digest, counter.window);
      pipeline.incrby(key, amount);
      pipeline.pexpireat(key, windowEnd(counter.window, counter.windowMs) + EXPIRY_SLACK_MS);
      sent.push({ counter, window: counter.window, amount });
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
    for (let i = 0; i < sent.length; i++) {
      const { counter, window, amount } = sent[i]!;
      const [err, total] = replies?.[i * 2] ?? [new Error("no reply"), null];
      if (err || typeof total !== "number") {
        failSend(counter, window, amount);
        this.dirty.add(counter);
        continue;
      }
      settleSend(counter, window, amount, total);
    }
    if (this.failing) {
      this.failing = false;
      this.log.info("MCP rate-limit counters are shared through redis again");
    }
  }

  private fail(sent: readonly Sent[], err: Error): void {
    for (const { counter, window, amount } of sent) {
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
