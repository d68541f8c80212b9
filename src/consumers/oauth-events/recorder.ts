/**
 * Writes OAuth flow events to Redis without ever holding up a sign-in: the
 * OAuth endpoints hand events over (no await, no throw), they wait in a
 * bounded in-memory queue, and one pipeline writes them about every 100 ms.
 * A full queue or a failed write drops events and counts them: a trace is
 * worth less than a sign-in, so nothing is retried.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../core/logger";
import type { OAuthEvent, OAuthEventSink } from "./event";
import { oauthEventKeys as keys } from "./keys";

export interface OAuthEventRecorderOptions {
  /** LOG_RETENTION_HOURS: every key expires this long after its last write; the stream is trimmed to it. */
  readonly retentionHours: number;
  /** Events held in memory at most (default 10 000). */
  readonly queueMax?: number;
  /** Default 100 ms. */
  readonly intervalMs?: number;
}

/** A flow's list keeps its latest events only: a long-lived grant's refreshes cannot grow it without bound. */
export const MAX_EVENTS_PER_FLOW = 200;

export class OAuthEventRecorder implements OAuthEventSink {
  private queue: OAuthEvent[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private inFlight: Promise<void> | null = null;
  private readonly queueMax: number;
  private readonly retentionMs: number;
  /** Events lost to a full queue or a failed write. */
  dropped = 0;
  written = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: OAuthEventRecorderOptions,
    private readonly log?: Logger,
  ) {
    this.queueMax = options.queueMax ?? 10_000;
    this.retentionMs = options.retentionHours * 3_600_000;
  }

  record(event: OAuthEvent): void {
    if (this.queue.length >= this.queueMax) this.dropped++;
    else this.queue.push(event);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.intervalMs ?? 100);
    this.timer.unref?.();
  }

  /** Writes what is queued; one write at a time. Never rejects. */
  flush(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.queue.length === 0) return Promise.resolve();
    const batch = this.queue;
    this.queue = [];
    if (this.redis.status !== "ready") {
      this.lose(batch.length, "redis is not connected");
      return Promise.resolve();
    }
    this.inFlight = this.write(batch).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** Stops the timer and writes what is left (bounded by the Redis command timeout). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
    await this.flush();
  }

  private async write(batch: OAuthEvent[]): Promise<void> {
    const now = Date.now();
    const ttl = Math.ceil(this.retentionMs / 1000);
    const oldest = now - this.retentionMs;
    const pipeline = this.redis.pipeline();
    const flows = new Set<string>();
    const indexes = new Set<string>();
    for (const event of batch) {
      const json = JSON.stringify(event);
      pipeline.xadd(keys.stream, "MINID", "~", String(oldest), "*", "event", json);
      pipeline.rpush(keys.flow(event.flow_id), json);
      flows.add(event.flow_id);
      const score = Date.parse(event.ts);
      for (const index of indexesOf(event)) {
        pipeline.zadd(index, score, event.flow_id);
        indexes.add(index);
      }
    }
    pipeline.expire(keys.stream, ttl);
    for (const flow of flows) pipeline.ltrim(keys.flow(flow), -MAX_EVENTS_PER_FLOW, -1).expire(keys.flow(flow), ttl);
    // Flows older than the retention leave the indexes, which expire themselves once nothing new arrives.
    for (const index of indexes) pipeline.zremrangebyscore(index, "-inf", oldest).expire(index, ttl);
    try {
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([err]) => err);
      if (failed) throw failed[0];
      this.written += batch.length;
    } catch (err) {
      this.lose(batch.length, (err as Error).message);
    }
  }

  private lose(count: number, why: string): void {
    this.dropped += count;
    this.log?.warn({ dropped: count, dropped_total: this.dropped, err: why }, "oauth flow events not written");
  }
}

function indexesOf(event: OAuthEvent): string[] {
  const found: string[] = [];
  if (event.client_id) found.push(keys.byClient(event.client_id));
  if (event.user) found.push(keys.byUser(event.user.toLowerCase()));
  if (event.ip) found.push(keys.byIp(event.ip));
  return found;
}
