/**
 * The request log's Redis keys (spec "RequestLogger System"). Records are
 * written in groups: every record of one client address in one flush (about
 * 100 ms) lands in one hash, `req:{flush ms}:{ip}`, as one field: the first
 * record's request id → the records as one JSON array. The indexes are
 * sorted sets of those hash keys scored by the flush time, so a query reads
 * a few hashes and filters their records; every key expires after
 * LOG_RETENTION_HOURS.
 */

/** `YYYYMMDD:HH` in UTC, the hour buckets of the stats keys. */
export function hourBucket(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}:${iso.slice(11, 13)}`;
}

export const requestLogKeys = {
  /** Hash: first request id → JSON array of the records of one client address in one flush (one field per writing node). */
  group: (flushMs: number, ip: string) => `req:${flushMs}:${ip}`,
  byIp: (ip: string) => `idx:req:ip:${ip}`,
  byHost: (host: string) => `idx:req:host:${host}`,
  byUser: (user: string) => `idx:req:user:${user}`,
  byClient: (clientId: string) => `idx:req:client:${clientId}`,
  byStatus: (status: number) => `idx:req:status:${status}`,
  errors: "idx:req:errors",
  slow: "idx:req:slow",
  byPath: (method: string, path: string) => `idx:req:path:${method}:${path}`,
  /** One entry per flush: field `groups`, a JSON array of the group keys that flush wrote (the live tail reads them). */
  stream: "stream:requests",
  /** Hash: `total` and `host:{proxy hostname, or the Host asked for}` → requests in that hour. */
  hourlyRequests: (hour: string) => `stats:requests:${hour}`,
  /** Hash: `total` and `host:{…}` → 4xx/5xx answers in that hour. */
  hourlyErrors: (hour: string) => `stats:errors:${hour}`,
  /** HyperLogLog of client addresses per host and hour. */
  uniqueIps: (host: string, hour: string) => `stats:unique_ips:${host}:${hour}`,
  /** Every key pattern the log writes, for clearing it (DELETE /api/v1/logs). */
  patterns: ["req:*", "idx:req:*", "stream:requests", "stats:requests:*", "stats:errors:*", "stats:unique_ips:*"],
} as const;
