/**
 * Reading the request log: pick the index that narrows a query most, walk its
 * groups newest first, read them in pipelines, keep the records that pass
 * every filter (and the caller's visibility), stop at `limit`.
 *
 * Work is bounded: at most `maxGroups` group hashes are read per query; a
 * query that stops there (or at its limit with groups left) says
 * `truncated`, so a caller knows to narrow the time range or add a filter.
 */
import type { Redis } from "ioredis";
import { execOrThrow, groupKeysNewestFirst } from "./index-union";
import { newestFirst, parseStoredRecords, recordMatches, type LogFilter } from "./filter";
import { requestLogKeys as keys } from "./keys";
import type { RequestRecord } from "./record";

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** Group hashes one query may read (one hash is one client's records of one ~100 ms flush). */
export const MAX_GROUPS_PER_QUERY = 5000;
/**
 * Records are indexed by flush time, which follows the request's arrival by
 * its duration plus up to one flush interval: an `until` bound reads groups
 * flushed this much later too (requests longer than this still match by
 * their own time once found through a later bound).
 */
export const FLUSH_SLACK_MS = 5 * 60_000;
const PAGE_SIZE = 100;

/** Every status code an index may exist for: the union of these is every record. */
const ALL_STATUSES = Array.from({ length: 500 }, (_, i) => 100 + i);

export interface QueryOptions {
  readonly limit: number;
  /** The caller's visibility rule (ownership); absent for the admin. */
  readonly visible?: (record: RequestRecord) => boolean;
  /**
   * Hosts that hold every visible record (a non-admin's proxies, when none
   * is a wildcard): their host indexes together are one more source to
   * choose from, so a token's query does not walk everyone's traffic.
   */
  readonly visibleHosts?: readonly string[];
  readonly maxGroups?: number;
}

export interface QueryResult {
  readonly records: RequestRecord[];
  readonly count: number;
  readonly truncated: boolean;
}

/** An index choice: one or more sorted sets whose union holds every group that can match. */
type Source = readonly string[];

/**
 * The sources a filter allows, most specific first; the cheapest is picked
 * by counting members in the time range. With no narrowing filter the
 * source is every status index (each record is in exactly one).
 */
export function candidateSources(filter: LogFilter, visibleHosts?: readonly string[]): { sources: Source[]; statusUnion: readonly number[] | null } {
  const sources: Source[] = [];
  if (visibleHosts) sources.push(visibleHosts.map(keys.byHost));
  if (filter.ip !== undefined) sources.push([keys.byIp(filter.ip)]);
  if (filter.client_id !== undefined) sources.push([keys.byClient(filter.client_id)]);
  if (filter.user !== undefined) sources.push([keys.byUser(filter.user)]);
  if (filter.path && "exact" in filter.path && filter.method !== undefined) sources.push([keys.byPath(filter.method, filter.path.exact)]);
  // A wildcard proxy's records are indexed under each real host: it narrows nothing by itself.
  if (filter.host !== undefined && !filter.host.startsWith("*.")) sources.push([keys.byHost(filter.host)]);
  if (filter.status && "exact" in filter.status) sources.push([keys.byStatus(filter.status.exact)]);
  if (filter.slowOnly) sources.push([keys.slow]);
  const errorClass = filter.status && "class" in filter.status && filter.status.class >= 4;
  if (filter.errorsOnly || errorClass) sources.push([keys.errors]);
  if (sources.length > 0) return { sources, statusUnion: null };
  const statuses = filter.status && "class" in filter.status ? ALL_STATUSES.filter((s) => Math.floor(s / 100) === (filter.status as { class: number }).class) : ALL_STATUSES;
  return { sources, statusUnion: statuses };
}

function scoreRange(filter: LogFilter): { min: number; max: number | null } {
  return { min: filter.since, max: filter.until === null ? null : filter.until + FLUSH_SLACK_MS };
}

async function chooseSource(redis: Redis, filter: LogFilter, visibleHosts?: readonly string[]): Promise<Source> {
  const { sources, statusUnion } = candidateSources(filter, visibleHosts);
  const { min, max } = scoreRange(filter);
  const upper = max === null ? "+inf" : max;
  if (statusUnion) {
    // Only the status indexes that exist take part in the union's rounds.
    const pipeline = redis.pipeline();
    for (const status of statusUnion) pipeline.exists(keys.byStatus(status));
    const exists = await execOrThrow(pipeline);
    return statusUnion.filter((_, i) => exists[i] === 1).map(keys.byStatus);
  }
  if (sources.length === 1) return sources[0]!;
  const pipeline = redis.pipeline();
  for (const source of sources) for (const key of source) pipeline.zcount(key, min, upper);
  const counts = (await execOrThrow(pipeline)) as number[];
  // A union's size is at most the sum of its members' (a group can be in several).
  let offset = 0;
  const sizes = sources.map((source) => counts.slice(offset, (offset += source.length)).reduce((a, b) => a + b, 0));
  let best = 0;
  for (let i = 1; i < sizes.length; i++) if (sizes[i]! < sizes[best]!) best = i;
  return sources[best]!;
}

export async function queryRequestLog(redis: Redis, filter: LogFilter, options: QueryOptions): Promise<QueryResult> {
  const maxGroups = options.maxGroups ?? MAX_GROUPS_PER_QUERY;
  if (options.visibleHosts?.length === 0) return { records: [], count: 0, truncated: false };
  const source = await chooseSource(redis, filter, options.visibleHosts);
  const matched: RequestRecord[] = [];
  let groupsRead = 0;
  let stoppedEarly = false;
  const pages = groupKeysNewestFirst(redis, source, scoreRange(filter), PAGE_SIZE);
  walk: for await (const page of pages) {
    for (let start = 0; start < page.length; ) {
      if (matched.length >= options.limit || groupsRead >= maxGroups) {
        stoppedEarly = true;
        break walk;
      }
      const batch = page.slice(start, start + Math.min(PAGE_SIZE, maxGroups - groupsRead));
      start += batch.length;
      groupsRead += batch.length;
      const pipeline = redis.pipeline();
      for (const { key } of batch) pipeline.hgetall(key);
      for (const hash of await execOrThrow(pipeline)) {
        // An expired group reads as {}: skipped.
        for (const json of Object.values(hash as Record<string, string>)) {
          for (const record of parseStoredRecords(json)) {
            if (recordMatches(record, filter) && (!options.visible || options.visible(record))) matched.push(record);
          }
        }
      }
    }
  }
  if (stoppedEarly) await pages.return(undefined);
  matched.sort(newestFirst);
  const records = matched.slice(0, options.limit);
  return { records, count: records.length, truncated: stoppedEarly || matched.length > options.limit };
}
