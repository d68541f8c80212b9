/**
 * What a request-log query asks for, and the test each record must pass. A
 * group hash holds every record of one client address in one flush, so the
 * index that found it is only a hint: every filter is checked on every record.
 */
import { isErrorStatus, SLOW_REQUEST_MS, type RequestRecord } from "./record";

/** An exact status (502) or a class (5 for 5xx). */
export type StatusFilter = { readonly exact: number } | { readonly class: number };

/** An exact path, or a prefix (written `/api/*`). */
export type PathFilter = { readonly exact: string } | { readonly prefix: string };

export interface LogFilter {
  readonly ip?: string;
  /** The Host asked for, or the proxy that matched (`*.example.com` matches records of that wildcard proxy). */
  readonly host?: string;
  readonly user?: string;
  readonly client_id?: string;
  readonly status?: StatusFilter;
  /** Upper case. */
  readonly method?: string;
  readonly path?: PathFilter;
  /** Epoch ms, inclusive: records that arrived at or after. */
  readonly since: number;
  /** Epoch ms, inclusive; null is "up to now". */
  readonly until: number | null;
  readonly errorsOnly?: boolean;
  readonly slowOnly?: boolean;
}

export function statusMatches(status: number, filter: StatusFilter): boolean {
  return "exact" in filter ? status === filter.exact : Math.floor(status / 100) === filter.class;
}

export function pathMatches(path: string, filter: PathFilter): boolean {
  return "exact" in filter ? path === filter.exact : path.startsWith(filter.prefix);
}

export function recordMatches(record: RequestRecord, filter: LogFilter): boolean {
  if (record.ts < filter.since || (filter.until !== null && record.ts > filter.until)) return false;
  if (filter.ip !== undefined && record.ip !== filter.ip) return false;
  if (filter.host !== undefined && record.host !== filter.host && record.proxy !== filter.host) return false;
  if (filter.user !== undefined && record.user !== filter.user) return false;
  if (filter.client_id !== undefined && record.client_id !== filter.client_id) return false;
  if (filter.method !== undefined && record.method !== filter.method) return false;
  if (filter.status !== undefined && !statusMatches(record.status, filter.status)) return false;
  if (filter.path !== undefined && !pathMatches(record.path, filter.path)) return false;
  if (filter.errorsOnly && !isErrorStatus(record.status)) return false;
  if (filter.slowOnly && record.duration_ms < SLOW_REQUEST_MS) return false;
  return true;
}

/**
 * The records of one stored hash field: a JSON array (one flush's records of
 * one client), or one record as written before records were grouped into
 * arrays. Anything else (a foreign or damaged field) is skipped, not fatal.
 */
export function parseStoredRecords(json: string): RequestRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return [];
  }
  const records: RequestRecord[] = [];
  for (const item of Array.isArray(value) ? value : [value]) {
    const record = asRecord(item);
    if (record) records.push(record);
  }
  return records;
}

function asRecord(value: unknown): RequestRecord | null {
  const record = value as RequestRecord | null;
  return record && typeof record === "object" && typeof record.ts === "number" && typeof record.status === "number" ? record : null;
}

/** Newest first; ties by request id so pages are stable. */
export const newestFirst = (a: RequestRecord, b: RequestRecord) => b.ts - a.ts || (a.request_id < b.request_id ? -1 : a.request_id > b.request_id ? 1 : 0);
