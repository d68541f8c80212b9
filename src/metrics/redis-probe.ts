/**
 * Redis latency as this node sees it: a PING every few seconds on the main
 * connection, timed into a histogram, failures counted. One command per
 * interval, never one per request, so measuring costs Redis and the event
 * loop nothing worth noticing. A ping still unanswered when the next is due
 * is not doubled up.
 */
import type { Redis } from "ioredis";
import { Counter, Histogram, type Registry } from "prom-client";

export const REDIS_PROBE_INTERVAL_MS = 5_000;
/** Seconds: loopback Redis answers in well under a millisecond; the top buckets catch a struggling one. */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class RedisProbe {
  private readonly durations: Histogram;
  private readonly failures: Counter;
  private timer: ReturnType<typeof setInterval> | undefined;
  private inFlight = false;

  constructor(
    private readonly redis: Redis,
    registry: Registry,
    private readonly intervalMs = REDIS_PROBE_INTERVAL_MS,
  ) {
    this.durations = new Histogram({
      name: "portcullis_redis_command_duration_seconds",
      help: `Round trip of a PING to Redis on the gateway's main connection, sent every ${intervalMs / 1000} s`,
      buckets: BUCKETS,
      registers: [registry],
    });
    this.failures = new Counter({
      name: "portcullis_redis_ping_failures_total",
      help: "PINGs to Redis that failed or timed out (the connection's command timeout)",
      registers: [registry],
    });
  }

  /** Pings now, then every interval. */
  start(): void {
    if (this.timer) return;
    void this.ping();
    this.timer = setInterval(() => void this.ping(), this.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One probe; resolves when it is recorded. */
  async ping(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    const start = Bun.nanoseconds();
    try {
      await this.redis.ping();
      this.durations.observe((Bun.nanoseconds() - start) / 1e9);
    } catch {
      this.failures.inc();
    } finally {
      this.inFlight = false;
    }
  }
}
