/**
 * The audit log in Redis: one stream entry per API write, trimmed by MINID
 * to AUDIT_RETENTION_DAYS. API writes are rare, so each entry is written on
 * its own, without awaiting it in the request: a failed write is logged and
 * counted, never turned into a failed API call.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../core/logger";
import type { AuditEntry } from "./entry";
import { auditKeys as keys } from "./keys";

export interface AuditQuery {
  /** Entries of this token name only. */
  readonly token?: string;
  /** Entries whose path is this one, or starts with it when it ends in `*`. */
  readonly path?: string;
  /** Epoch ms: entries from then on. */
  readonly since: number;
  readonly limit: number;
}

const PAGE = 500;
/** Entries read per query at most (filters are applied to what is read). */
const READ_MAX = 50_000;

export class AuditLog {
  /** Entries that could not be written. */
  dropped = 0;
  private readonly retentionMs: number;
  private pending = new Set<Promise<void>>();

  constructor(
    private readonly redis: Redis,
    retentionDays: number,
    private readonly log?: Logger,
  ) {
    this.retentionMs = retentionDays * 86_400_000;
  }

  /** Hands the entry to Redis; never throws, never makes the caller wait. */
  record(entry: AuditEntry): void {
    const now = Date.now();
    const write = this.redis
      .multi()
      .xadd(keys.stream, "MINID", "~", String(now - this.retentionMs), "*", "entry", JSON.stringify(entry))
      .expire(keys.stream, Math.ceil(this.retentionMs / 1000))
      .exec()
      .then((results) => {
        const failed = results?.find(([err]) => err);
        if (!results || failed) throw failed?.[0] ?? new Error("transaction aborted");
      })
      .catch((err: Error) => {
        this.dropped++;
        this.log?.warn({ err: err.message, method: entry.method, path: entry.path, status: entry.status }, "audit entry not written");
      })
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  /** Resolves when every entry handed over so far is written (or failed): for shutdown and tests. */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** Entries newest first. */
  async query(query: AuditQuery): Promise<{ entries: AuditEntry[]; truncated: boolean }> {
    const entries: AuditEntry[] = [];
    let end = "+";
    let read = 0;
    while (read < READ_MAX) {
      const page = await this.redis.xrevrange(keys.stream, end, String(query.since), "COUNT", PAGE);
      read += page.length;
      for (const [, fields] of page) {
        const entry = parse(fields[1]);
        if (entry && matches(entry, query)) entries.push(entry);
        if (entries.length > query.limit) return { entries: entries.slice(0, query.limit), truncated: true };
      }
      if (page.length < PAGE) return { entries, truncated: false };
      end = `(${page[page.length - 1]![0]}`;
    }
    return { entries, truncated: true };
  }
}

function matches(entry: AuditEntry, query: AuditQuery): boolean {
  if (query.token !== undefined && entry.token !== query.token) return false;
  if (query.path !== undefined) {
    const prefix = query.path.endsWith("*") ? query.path.slice(0, -1) : null;
    if (prefix !== null ? !entry.path.startsWith(prefix) : entry.path.replace(/\/+$/, "") !== query.path.replace(/\/+$/, "")) return false;
  }
  return true;
}

function parse(raw: string | undefined): AuditEntry | null {
  try {
    const entry = JSON.parse(raw ?? "") as AuditEntry;
    return typeof entry?.path === "string" ? entry : null;
  } catch {
    return null;
  }
}
