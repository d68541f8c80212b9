/**
 * The writer's hourly counters, read back for a time window: requests and
 * errors per hour (stats:requests|errors:{YYYYMMDD:HH}, fields `total` and
 * `host:{proxy or host}`), and distinct client addresses per host from the
 * HyperLogLogs (PFCOUNT over the window's hours counts each address once).
 */
import type { Redis } from "ioredis";
import { execOrThrow } from "./index-union";
import { hourBucket, requestLogKeys as keys } from "./keys";

const HOUR_MS = 3_600_000;
/** The longest LOG_RETENTION_HOURS (366 days): a longer window reads only its latest hours, nothing older exists. */
export const MAX_STATS_HOURS = 24 * 366;

export interface HourlyCount {
  readonly hour: string;
  readonly requests: number;
  readonly errors: number;
}

export interface HourlyStats {
  readonly hourly: HourlyCount[];
  readonly unique_ips_by_host: Record<string, number>;
}

/** The hour buckets a window touches, oldest first. */
export function hoursCovered(since: number, until: number): string[] {
  const hours: string[] = [];
  const first = Math.max(since - (since % HOUR_MS), until - (until % HOUR_MS) - (MAX_STATS_HOURS - 1) * HOUR_MS);
  for (let start = first; start <= until; start += HOUR_MS) hours.push(hourBucket(start));
  return hours;
}

const HOST_FIELD = "host:";

/**
 * `allowedHost` narrows the counts to some hosts (a non-admin caller's
 * proxies): then an hour's numbers are the sum of those hosts' fields,
 * never the `total` that includes other tokens' traffic.
 */
export async function readHourlyStats(redis: Redis, hours: readonly string[], allowedHost?: (host: string) => boolean): Promise<HourlyStats> {
  const pipeline = redis.pipeline();
  for (const hour of hours) pipeline.hgetall(keys.hourlyRequests(hour)).hgetall(keys.hourlyErrors(hour));
  const replies = (await execOrThrow(pipeline)) as Record<string, string>[];
  const hosts = new Set<string>();
  const hourly = hours.map((hour, i) => {
    const requests = replies[2 * i]!;
    const errors = replies[2 * i + 1]!;
    for (const field of Object.keys(requests)) {
      if (field.startsWith(HOST_FIELD) && (!allowedHost || allowedHost(field.slice(HOST_FIELD.length)))) hosts.add(field.slice(HOST_FIELD.length));
    }
    return { hour, requests: countOf(requests, allowedHost), errors: countOf(errors, allowedHost) };
  });
  const sortedHosts = [...hosts].sort();
  const counting = redis.pipeline();
  for (const host of sortedHosts) counting.pfcount(...hours.map((hour) => keys.uniqueIps(host, hour)));
  const counts = (await execOrThrow(counting)) as number[];
  return { hourly, unique_ips_by_host: Object.fromEntries(sortedHosts.map((host, i) => [host, counts[i]!])) };
}

function countOf(fields: Record<string, string>, allowedHost?: (host: string) => boolean): number {
  if (!allowedHost) return Number(fields.total ?? 0);
  let sum = 0;
  for (const [field, value] of Object.entries(fields)) {
    if (field.startsWith(HOST_FIELD) && allowedHost(field.slice(HOST_FIELD.length))) sum += Number(value);
  }
  return sum;
}
