/**
 * The live tail: new flushes from stream:requests as they are written, on a
 * connection of its own (XREAD BLOCK holds a connection for as long as it
 * waits, so it can never share the gateway's command connection).
 */
import type { Redis } from "ioredis";
import { parseStoredRecords } from "./filter";
import { requestLogKeys as keys } from "./keys";
import type { RequestRecord } from "./record";

/** Request ids a tail remembers to drop repeats (a few seconds of heavy traffic). */
const SEEN_MAX = 20_000;

export class RequestLogTail {
  private lastId: string | null = null;
  private readonly seen = new Set<string>();
  private closed = false;

  /** `connection` is owned by the tail from now on (a redis.duplicate()); close() ends it. */
  constructor(private readonly connection: Redis) {}

  /**
   * Marks "now": only flushes written after this are read. Taken from the
   * stream's last entry rather than XREAD's `$`, which would skip whatever
   * arrives between two blocking reads.
   */
  async open(): Promise<void> {
    const last = await this.connection.xrevrange(keys.stream, "+", "-", "COUNT", 1);
    this.lastId = last[0]?.[0] ?? "0-0";
  }

  /** The records of flushes written since the last call; [] after `blockMs` without any, or once closed. */
  async next(blockMs: number): Promise<RequestRecord[]> {
    if (this.lastId === null) throw new Error("RequestLogTail.next before open");
    if (this.closed) return [];
    let reply: [string, [string, string[]][]][] | null;
    try {
      reply = (await this.connection.xread("COUNT", 100, "BLOCK", blockMs, "STREAMS", keys.stream, this.lastId)) as typeof reply;
    } catch (error) {
      if (this.closed) return [];
      throw error;
    }
    const groups: string[] = [];
    for (const [, entries] of reply ?? []) {
      for (const [id, fields] of entries) {
        this.lastId = id;
        for (let i = 0; i + 1 < fields.length; i += 2) {
          if (fields[i] === "groups") groups.push(...parseGroupKeys(fields[i + 1]!));
        }
      }
    }
    if (groups.length === 0) return [];
    // Each entry names the hashes its flush wrote; their records are read from there (the writer does not write them twice).
    const pipeline = this.connection.pipeline();
    for (const key of new Set(groups)) pipeline.hvals(key);
    const records: RequestRecord[] = [];
    for (const [error, values] of (await pipeline.exec()) ?? []) {
      if (error) continue;
      for (const json of values as string[]) {
        for (const record of parseStoredRecords(json)) if (this.firstSighting(record.request_id)) records.push(record);
      }
    }
    return records.sort((a, b) => a.ts - b.ts);
  }

  /**
   * Two nodes flushing in the same millisecond for the same client write one
   * hash, and each names it in its own stream entry: the second reading
   * would repeat the first one's records. Ids seen lately are remembered
   * (bounded: the oldest are forgotten first).
   */
  private firstSighting(requestId: string): boolean {
    if (this.seen.has(requestId)) return false;
    this.seen.add(requestId);
    if (this.seen.size > SEEN_MAX) {
      for (const oldest of this.seen) {
        this.seen.delete(oldest);
        if (this.seen.size <= SEEN_MAX / 2) break;
      }
    }
    return true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // disconnect() ends a blocked XREAD at once; quit() would wait for it.
    this.connection.disconnect();
  }
}

function parseGroupKeys(json: string): string[] {
  try {
    const list = JSON.parse(json) as unknown;
    return Array.isArray(list) ? list.filter((key): key is string => typeof key === "string" && key.startsWith("req:")) : [];
  } catch {
    return [];
  }
}
