/**
 * The request log's writer: the edge hands it records (never waiting), it
 * queues them in memory and writes them to Redis in one pipeline about every
 * 100 ms. While Redis is slow or away the queue holds up to
 * REQUEST_LOG_QUEUE_MAX records; what arrives beyond that is dropped and
 * counted, and a failed write goes back to the queue to be tried again.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../core/logger";
import { isErrorStatus, SLOW_REQUEST_MS, type RequestRecord } from "./record";
import { hourBucket, requestLogKeys as keys } from "./keys";

export interface RequestLogWriterOptions {
  readonly retentionHours: number;
  readonly queueMax: number;
  /** How often the queue is written (default 100 ms). */
  readonly intervalMs?: number;
  /** Records per pipeline; a longer queue is written in several (default 5000). */
  readonly batchMax?: number;
  /** Flush entries kept in stream:requests for the live tail (default 1000, about 100 s at one flush per 100 ms). */
  readonly streamMaxLen?: number;
}

/** What the writer has done, for /metrics. */
export interface RequestLogCounters {
  readonly queued: number;
  readonly dropped: number;
  readonly written: number;
}

export class RequestLogWriter implements RequestLogCounters {
  private queue: RequestRecord[] = [];
  private inFlight: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private failing = false;
  dropped = 0;
  written = 0;
  private readonly intervalMs: number;
  private readonly batchMax: number;
  private readonly streamMaxLen: number;
  private readonly retentionMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: RequestLogWriterOptions,
    private readonly log?: Logger,
  ) {
    this.intervalMs = options.intervalMs ?? 100;
    this.batchMax = options.batchMax ?? 5000;
    this.streamMaxLen = options.streamMaxLen ?? 1000;
    this.retentionMs = options.retentionHours * 3_600_000;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Called by the edge for every answered request; never waits, never throws. */
  record(record: RequestRecord): void {
    if (this.queue.length >= this.options.queueMax) this.dropped++;
    else this.queue.push(record);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref?.();
  }

  /** Writes what is queued; resolves when that write is done (or failed and requeued). One write at a time. */
  flush(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.queue.length === 0 || this.redis.status !== "ready") return Promise.resolve();
    const batch = this.queue.length <= this.batchMax ? this.queue : this.queue.slice(0, this.batchMax);
    this.queue = batch === this.queue ? [] : this.queue.slice(this.batchMax);
    this.inFlight = this.write(batch).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** Stops the timer and writes everything queued, giving up at `deadline` (epoch ms); returns how many records were left unwritten. */
  async stop(deadline: number): Promise<number> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while ((this.queue.length > 0 || this.inFlight) && Date.now() < deadline) {
      if (this.inFlight) await this.inFlight;
      else if (this.redis.status !== "ready") await Bun.sleep(20);
      else await this.flush();
    }
    return this.queue.length;
  }

  private async write(batch: RequestRecord[]): Promise<void> {
    try {
      const results = await this.pipelineFor(batch, Date.now()).exec();
      const failed = results?.find(([error]) => error)?.[0];
      if (failed) throw failed;
      this.written += batch.length;
      if (this.failing) this.log?.info({ queued: this.queue.length }, "request log: writing to Redis again");
      this.failing = false;
    } catch (error) {
      // Back to the front of the queue; what no longer fits under the cap is dropped, and counted.
      const kept = batch.concat(this.queue);
      const excess = kept.length - this.options.queueMax;
      if (excess > 0) {
        this.dropped += excess;
        kept.length = this.options.queueMax;
      }
      this.queue = kept;
      if (!this.failing) this.log?.warn({ err: (error as Error).message, queued: kept.length }, "request log: Redis write failed; records stay queued");
      this.failing = true;
    }
  }

  /**
   * One flush: records of one client address go into one hash (field =
   * request id); each index gets that hash's key once; counters and unique
   * addresses are summed per host and hour before they are sent.
   */
  private pipelineFor(batch: readonly RequestRecord[], flushMs: number) {
    const ttlSeconds = Math.ceil(this.retentionMs / 1000);
    const pipeline = this.redis.pipeline();
    const groups = new Map<string, { fields: string[]; indexes: Set<string> }>();
    const hourly = new Map<string, { requests: Map<string, number>; errors: Map<string, number>; ips: Map<string, Set<string>> }>();
    const lines: string[] = new Array(batch.length);
    let hourStart = -1;
    let hour = "";
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]!;
      const json = JSON.stringify(record);
      lines[i] = json;
      let group = groups.get(record.ip);
      if (!group) groups.set(record.ip, (group = { fields: [], indexes: new Set() }));
      group.fields.push(record.request_id, json);
      const indexes = group.indexes;
      indexes.add(keys.byHost(record.host));
      indexes.add(keys.byStatus(record.status));
      indexes.add(keys.byPath(record.method, record.path));
      if (record.user !== undefined) indexes.add(keys.byUser(record.user));
      if (record.client_id !== undefined) indexes.add(keys.byClient(record.client_id));
      const error = isErrorStatus(record.status);
      if (error) indexes.add(keys.errors);
      if (record.duration_ms >= SLOW_REQUEST_MS) indexes.add(keys.slow);

      // Hour buckets change once an hour: the string is made when they do.
      const start = record.ts - (record.ts % 3_600_000);
      if (start !== hourStart) {
        hourStart = start;
        hour = hourBucket(start);
      }
      let stats = hourly.get(hour);
      if (!stats) hourly.set(hour, (stats = { requests: new Map(), errors: new Map(), ips: new Map() }));
      const host = record.proxy ?? record.host;
      stats.requests.set(host, (stats.requests.get(host) ?? 0) + 1);
      if (error) stats.errors.set(host, (stats.errors.get(host) ?? 0) + 1);
      let ips = stats.ips.get(host);
      if (!ips) stats.ips.set(host, (ips = new Set()));
      ips.add(record.ip);
    }

    const touchedIndexes = new Set<string>();
    for (const [ip, group] of groups) {
      const key = keys.group(flushMs, ip);
      pipeline.hset(key, ...group.fields);
      pipeline.expire(key, ttlSeconds);
      group.indexes.add(keys.byIp(ip));
      for (const index of group.indexes) {
        pipeline.zadd(index, flushMs, key);
        touchedIndexes.add(index);
      }
    }
    // An index lives as long as its newest record; entries older than the retention are trimmed as it is written.
    for (const index of touchedIndexes) {
      pipeline.zremrangebyscore(index, "-inf", flushMs - this.retentionMs);
      pipeline.expire(index, ttlSeconds);
    }
    for (const [bucket, stats] of hourly) {
      for (const [key, counts] of [[keys.hourlyRequests(bucket), stats.requests], [keys.hourlyErrors(bucket), stats.errors]] as const) {
        if (counts.size === 0) continue;
        let total = 0;
        for (const [host, count] of counts) {
          pipeline.hincrby(key, `host:${host}`, count);
          total += count;
        }
        pipeline.hincrby(key, "total", total);
        pipeline.expire(key, ttlSeconds);
      }
      for (const [host, ips] of stats.ips) {
        const key = keys.uniqueIps(host, bucket);
        pipeline.pfadd(key, ...ips);
        pipeline.expire(key, ttlSeconds);
      }
    }
    pipeline.xadd(keys.stream, "MAXLEN", "~", this.streamMaxLen, "*", "records", `[${lines.join(",")}]`);
    pipeline.expire(keys.stream, ttlSeconds);
    return pipeline;
  }
}
