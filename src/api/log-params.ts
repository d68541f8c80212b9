/**
 * The query string of /api/v1/logs/* turned into a LogFilter. Every problem
 * is a 400 naming the parameter; an unknown parameter is one too (a typo
 * like `?stauts=500` would otherwise silently widen the search).
 */
import { badParameter } from "../core/errors";
import type { LogFilter, PathFilter, StatusFilter } from "../consumers/request-log/filter";
import { DEFAULT_LIMIT, MAX_LIMIT } from "../consumers/request-log/query";

const HOUR_MS = 3_600_000;
export const DEFAULT_HOURS = 24;
/** The longest LOG_RETENTION_HOURS (366 days): nothing older can exist. */
export const MAX_HOURS = 24 * 366;
export const DEFAULT_WINDOW = 1000;
export const MAX_WINDOW = 10_000;

/** Parameters every list endpoint takes (events adds `window`; follow takes only host, status, ip). */
export const FILTER_PARAMS = ["ip", "host", "user", "client_id", "status", "method", "path", "since", "until", "hours", "limit", "errors", "slow"] as const;
export const FOLLOW_PARAMS = ["host", "status", "ip"] as const;

type Query = Readonly<Record<string, string | undefined>>;

export interface ParsedQuery {
  readonly filter: LogFilter;
  readonly limit: number;
  readonly window: number;
}

export function parseLogQuery(query: Query, allowed: readonly string[], now: number, fixed: Partial<Record<"ip" | "host" | "user" | "client_id", string>> = {}): ParsedQuery {
  for (const name of Object.keys(query)) {
    if (!allowed.includes(name)) throw badParameter(`${name}: unknown parameter (expected one of ${allowed.join(", ")})`);
  }
  const text = (name: string, max: number) => {
    const value = fixed[name as keyof typeof fixed] ?? query[name];
    if (value === undefined) return undefined;
    if (value === "" || value.length > max || /[\u0000-\u001f\s]/.test(value)) throw badParameter(`${name}: expected 1 to ${max} characters without spaces`);
    return value;
  };
  const until = query.until === undefined ? null : time("until", query.until);
  if (query.since !== undefined && query.hours !== undefined) throw badParameter("hours: give since or hours, not both");
  const since = query.since !== undefined ? time("since", query.since) : (until ?? now) - hours(query.hours) * HOUR_MS;
  if (until !== null && since > until) throw badParameter("since: must not be after until");
  const host = text("host", 253)?.toLowerCase();
  const method = text("method", 16);
  if (method !== undefined && !/^[A-Za-z]+$/.test(method)) throw badParameter("method: expected letters only, like GET");
  const filter: LogFilter = {
    ip: text("ip", 64),
    host,
    user: text("user", 256),
    client_id: text("client_id", 256),
    status: query.status === undefined ? undefined : parseStatus(query.status),
    method: method?.toUpperCase(),
    path: query.path === undefined ? undefined : parsePath(query.path),
    since,
    until,
    errorsOnly: flag("errors", query.errors),
    slowOnly: flag("slow", query.slow),
  };
  return {
    filter: dropUndefined(filter),
    limit: integer("limit", query.limit, DEFAULT_LIMIT, MAX_LIMIT),
    window: integer("window", query.window, DEFAULT_WINDOW, MAX_WINDOW),
  };
}

export function parseStatus(value: string): StatusFilter {
  if (/^[1-5][0-9][0-9]$/.test(value)) return { exact: Number(value) };
  if (/^[1-5]xx$/i.test(value)) return { class: Number(value[0]) };
  throw badParameter(`status: expected a code like 502 or a class like 5xx, got ${JSON.stringify(value.slice(0, 20))}`);
}

function parsePath(value: string): PathFilter {
  if (!value.startsWith("/") || value.length > 2048) throw badParameter("path: expected a path starting with / (a trailing * matches a prefix)");
  return value.endsWith("*") ? { prefix: value.slice(0, -1) } : { exact: value };
}

/** Epoch milliseconds, or an ISO 8601 date-time. */
function time(name: string, value: string): number {
  const ms = /^[0-9]{1,15}$/.test(value) ? Number(value) : /^\d{4}-\d\d-\d\d/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw badParameter(`${name}: expected epoch milliseconds or an ISO 8601 time, got ${JSON.stringify(value.slice(0, 40))}`);
  return ms;
}

function hours(value: string | undefined): number {
  if (value === undefined) return DEFAULT_HOURS;
  const n = /^[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!(n > 0 && n <= MAX_HOURS)) throw badParameter(`hours: expected a number above 0 and at most ${MAX_HOURS}`);
  return n;
}

function integer(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = /^[0-9]{1,7}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= max)) throw badParameter(`${name}: expected a whole number from 1 to ${max}`);
  return n;
}

function flag(name: string, value: string | undefined): boolean {
  if (value === undefined || value === "false" || value === "0") return false;
  if (value === "" || value === "true" || value === "1") return true;
  throw badParameter(`${name}: expected true or false`);
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
