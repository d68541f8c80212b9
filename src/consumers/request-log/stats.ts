/**
 * Statistics over a set of records (GET /api/v1/logs/events): pure, so the
 * numbers can be checked against known traffic without Redis.
 */
import { isErrorStatus, type RequestRecord } from "./record";

export interface Percentiles {
  /** Records the percentiles are computed over (at most the window). */
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

export interface RecordSummary {
  readonly total: number;
  readonly errors: number;
  /** errors / total, 0 when there is no traffic. */
  readonly error_rate: number;
  readonly unique_ips: number;
  readonly by_status_class: Record<string, number>;
  readonly by_host: Record<string, number>;
  readonly by_method: Record<string, number>;
  /** Response time per proxy (the matched proxy, or the Host for requests no proxy took) over its last `window` records. */
  readonly duration_ms_by_proxy: Record<string, Percentiles>;
}

/** Nearest-rank percentile (the smallest value with at least p % of values at or below it) of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function percentilesOf(durations: readonly number[]): Percentiles {
  const sorted = [...durations].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** `records` newest first; the percentile window takes each proxy's first `window` of them. */
export function summarize(records: readonly RequestRecord[], window: number): RecordSummary {
  const byStatusClass: Record<string, number> = {};
  const byHost: Record<string, number> = {};
  const byMethod: Record<string, number> = {};
  const durations = new Map<string, number[]>();
  const ips = new Set<string>();
  let errors = 0;
  for (const record of records) {
    bump(byStatusClass, `${Math.floor(record.status / 100)}xx`);
    bump(byHost, record.host);
    bump(byMethod, record.method);
    ips.add(record.ip);
    if (isErrorStatus(record.status)) errors++;
    const proxy = record.proxy ?? record.host;
    let list = durations.get(proxy);
    if (!list) durations.set(proxy, (list = []));
    if (list.length < window) list.push(record.duration_ms);
  }
  const percentiles: Record<string, Percentiles> = {};
  for (const [proxy, list] of [...durations].sort(([a], [b]) => (a < b ? -1 : 1))) percentiles[proxy] = percentilesOf(list);
  return {
    total: records.length,
    errors,
    error_rate: records.length === 0 ? 0 : errors / records.length,
    unique_ips: ips.size,
    by_status_class: byStatusClass,
    by_host: byHost,
    by_method: byMethod,
    duration_ms_by_proxy: percentiles,
  };
}
