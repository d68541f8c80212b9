/**
 * The request log's writer: the edge hands it records (never waiting), it
 * queues them in memory and writes them to Redis in one pipeline about every
 * 100 ms. While Redis is slow or away the queue holds up to
 * REQUEST_LOG_QUEUE_MAX records; what arrives beyond that is dropped and
 * counted, and a failed write goes back to the queue to be tried again.
 */
import type { Logger } from "../../core/logger";
import type { CommandConnection } from "../../storage/native-redis";
import type { RequestLogCounts } from "../../metrics/request-log-metrics";
import { isErrorStatus, SLOW_REQUEST_MS, type RequestRecord } from "./record";
import { hourBucket, requestLogKeys as keys } from "./keys";

export interface RequestLogWriterOptions {
  readonly retentionHours: number;
  readonly queueMax: number;
  /** How often the queue is written (default 100 ms). */
  readonly intervalMs?: number;
  /** Records per pipeline; a longer queue is written in several (default 5000). */
  readonly batchMax?: number;
  /** Queued records that start a flush before the next tick (default 1024). */
  readonly flushAt?: number;
  /** Flush entries kept in stream:requests for the live tail (default 1000, about 100 s at one flush per 100 ms). */
  readonly streamMaxLen?: number;
}

/** Its queue, drops and writes are what /metrics reports (RequestLogCounts). */
export class RequestLogWriter implements RequestLogCounts {
  private queue: RequestRecord[] = [];
  private inFlight: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private failing = false;
  dropped = 0;
  written = 0;
  private readonly intervalMs: number;
  private readonly batchMax: number;
  private readonly flushAt: number;
  private readonly streamMaxLen: number;
  private readonly retentionMs: number;

  constructor(
    private readonly redis: CommandConnection,
    private readonly options: RequestLogWriterOptions,
    private readonly log?: Logger,
  ) {
    this.intervalMs = options.intervalMs ?? 100;
    this.batchMax = options.batchMax ?? 5000;
    this.flushAt = options.flushAt ?? 1024;
    this.streamMaxLen = options.streamMaxLen ?? 1000;
    this.retentionMs = options.retentionHours * 3_600_000;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Called by the edge for every answered request; never waits, never throws. */
  record(record: RequestRecord): void {
    const queue = this.queue;
    if (queue.length >= this.options.queueMax) {
      this.dropped++;
      return;
    }
    queue.push(record);
    // Under load a flush starts once `flushAt` records wait rather than at the next tick: records held for
    // 100 ms outlive the young generation, and moving them out of it costs more than a few extra flushes.
    // 1024 rather than fewer: each flush costs ~40 µs of round trip whatever its size (bench/request-log-cost.ts).
    if (queue.length === this.flushAt && !this.inFlight) setImmediate(this.flushSoon);
  }

  private readonly flushSoon = () => void this.flush();

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref?.();
  }

  /** Writes what is queued; resolves when that write is done (or failed and requeued). One write at a time. */
  flush(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.queue.length === 0 || !this.redis.ready) return Promise.resolve();
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
      else if (!this.redis.ready) await Bun.sleep(20);
      else {
        await this.flush();
        // A refused write is tried again, but not in a tight loop.
        if (this.failing) await Bun.sleep(50);
      }
    }
    return this.queue.length;
  }

  private async write(batch: RequestRecord[]): Promise<void> {
    try {
      // Sent in one go: Bun's client pipelines the commands of one tick.
      await Promise.all(this.commandsFor(batch, Date.now()).map(([command, args]) => this.redis.send(command, args)));
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
   * One flush: records of one client address go into one hash field as one
   * JSON array (field = the first record's request id, unique to this
   * writer, so two nodes flushing into the same hash in the same millisecond
   * keep both arrays); each index gets that hash's key once; counters and
   * unique addresses are summed per host and hour before they are sent. Consecutive
   * records of a client mostly share host, path and status, so the index and
   * counter keys are looked at only when one of those changes.
   */
  private commandsFor(batch: readonly RequestRecord[], flushMs: number): Command[] {
    const ttl = String(Math.ceil(this.retentionMs / 1000));
    const score = String(flushMs);
    const groups = new Map<string, Group>();
    let group: Group | undefined;
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]!;
      if (group === undefined || group.ip !== record.ip) {
        group = groups.get(record.ip);
        if (!group) groups.set(record.ip, (group = new Group(record.ip)));
      }
      group.records.push(record);
      group.add(record);
    }

    const commands: Command[] = [];
    const touchedIndexes = new Set<string>();
    const hourly = new Map<string, Map<string, HostCount>>();
    for (const [ip, g] of groups) {
      const key = keys.group(flushMs, ip);
      // One string per group: a value per record cost the gateway ~0.4 µs and Redis ~0.5 µs more per record
      // (bench/request-log-cost.ts), in stringify calls, argument encoding and hash entries.
      commands.push(["HSET", [key, g.records[0]!.request_id, JSON.stringify(g.records)]], ["EXPIRE", [key, ttl]]);
      g.indexes.add(keys.byIp(ip));
      for (const index of g.indexes) {
        commands.push(["ZADD", [index, score, key]]);
        touchedIndexes.add(index);
      }
      for (const [hourHost, count] of g.counts) {
        const [hour, host] = splitHourHost(hourHost);
        let hosts = hourly.get(hour);
        if (!hosts) hourly.set(hour, (hosts = new Map()));
        const total = hosts.get(host);
        if (total) {
          total.requests += count.requests;
          total.errors += count.errors;
          total.ips.push(ip);
        } else hosts.set(host, { requests: count.requests, errors: count.errors, ips: [ip] });
      }
    }
    // An index lives as long as its newest record; entries older than the retention are trimmed as it is written.
    const expired = String(flushMs - this.retentionMs);
    for (const index of touchedIndexes) commands.push(["ZREMRANGEBYSCORE", [index, "-inf", expired]], ["EXPIRE", [index, ttl]]);
    for (const [hour, hosts] of hourly) {
      const requestsKey = keys.hourlyRequests(hour);
      const errorsKey = keys.hourlyErrors(hour);
      let requests = 0;
      let errors = 0;
      for (const [host, count] of hosts) {
        commands.push(["HINCRBY", [requestsKey, `host:${host}`, String(count.requests)]]);
        requests += count.requests;
        if (count.errors > 0) commands.push(["HINCRBY", [errorsKey, `host:${host}`, String(count.errors)]]);
        errors += count.errors;
        const uniqueKey = keys.uniqueIps(host, hour);
        commands.push(["PFADD", [uniqueKey, ...count.ips]], ["EXPIRE", [uniqueKey, ttl]]);
      }
      commands.push(["HINCRBY", [requestsKey, "total", String(requests)]], ["EXPIRE", [requestsKey, ttl]]);
      if (errors > 0) commands.push(["HINCRBY", [errorsKey, "total", String(errors)]], ["EXPIRE", [errorsKey, ttl]]);
    }
    // The live tail learns which groups this flush wrote and reads them (records are not written twice).
    const groupKeys = JSON.stringify([...groups.keys()].map((ip) => keys.group(flushMs, ip)));
    commands.push(["XADD", [keys.stream, "MAXLEN", "~", String(this.streamMaxLen), "*", "groups", groupKeys]], ["EXPIRE", [keys.stream, ttl]]);
    return commands;
  }
}

type Command = [name: string, args: string[]];

interface HostCount {
  requests: number;
  errors: number;
  ips: string[];
}

const HOUR_MS = 3_600_000;

/** `{hour}|{host}`: hostnames never contain a bar. */
function splitHourHost(key: string): [string, string] {
  const bar = key.indexOf("|");
  return [key.slice(0, bar), key.slice(bar + 1)];
}

/** One client address's records in one flush, and the index and counter keys they touch. */
class Group {
  /** In queue order; stored as one JSON array. */
  readonly records: RequestRecord[] = [];
  readonly indexes = new Set<string>();
  /** `{hour}|{host}` → requests and errors. */
  readonly counts = new Map<string, { requests: number; errors: number }>();
  private indexedHost = "";
  private countedHost = "";
  private status = 0;
  private method = "";
  private path = "";
  private hourStart = -1;
  private user: string | undefined;
  private clientId: string | undefined;
  private count: { requests: number; errors: number } | undefined;

  constructor(readonly ip: string) {}

  add(record: RequestRecord): void {
    const indexes = this.indexes;
    if (record.host !== this.indexedHost) {
      this.indexedHost = record.host;
      indexes.add(keys.byHost(record.host));
    }
    // Counted by the proxy that answered (a wildcard's hostname), else by the Host asked for.
    const countedHost = record.proxy ?? record.host;
    const hourStart = record.ts - (record.ts % HOUR_MS);
    if (countedHost !== this.countedHost || hourStart !== this.hourStart || this.count === undefined) {
      this.countedHost = countedHost;
      this.hourStart = hourStart;
      const countKey = `${hourBucket(hourStart)}|${countedHost}`;
      this.count = this.counts.get(countKey);
      if (!this.count) this.counts.set(countKey, (this.count = { requests: 0, errors: 0 }));
    }
    this.count.requests++;
    if (record.status !== this.status) {
      this.status = record.status;
      indexes.add(keys.byStatus(record.status));
    }
    if (record.path !== this.path || record.method !== this.method) {
      this.path = record.path;
      this.method = record.method;
      indexes.add(keys.byPath(record.method, record.path));
    }
    // An authenticated client sends the same token request after request: its keys are made when it changes.
    const user = record.user;
    if (user !== undefined && user !== this.user) {
      this.user = user;
      indexes.add(keys.byUser(user));
    }
    const clientId = record.client_id;
    if (clientId !== undefined && clientId !== this.clientId) {
      this.clientId = clientId;
      indexes.add(keys.byClient(clientId));
    }
    if (isErrorStatus(record.status)) {
      this.count.errors++;
      indexes.add(keys.errors);
    }
    if (record.duration_ms >= SLOW_REQUEST_MS) indexes.add(keys.slow);
  }
}
