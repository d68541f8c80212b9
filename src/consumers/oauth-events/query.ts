/**
 * Reads the OAuth flow trace: flows found by client, user or address (or the
 * latest ones), newest first, each with its steps in order and a summary of
 * how it ended.
 */
import type { Redis } from "ioredis";
import type { OAuthEvent, OAuthOutcome } from "./event";
import { oauthEventKeys as keys } from "./keys";

export interface FlowQuery {
  readonly clientId?: string;
  readonly user?: string;
  readonly ip?: string;
  readonly hours: number;
  readonly limit: number;
}

export interface OAuthFlow {
  readonly flow_id: string;
  readonly started_at: string;
  readonly last_at: string;
  readonly client_id: string | null;
  readonly user: string | null;
  readonly ip: string | null;
  readonly proxy: string | null;
  /** "refused" or "error" when any step was; else "ok". */
  readonly outcome: OAuthOutcome;
  /** The first refusal's or error's reason. */
  readonly reason: string | null;
  readonly steps: readonly OAuthEvent[];
}

/** The stream is read this many entries at a time when no filter names an index. */
const STREAM_PAGE = 500;
/** At most this many stream entries are read per query. */
const STREAM_MAX = 20_000;

export async function findFlows(redis: Redis, query: FlowQuery, now = Date.now()): Promise<OAuthFlow[]> {
  const since = now - query.hours * 3_600_000;
  // Several filters: the first picks candidates from its index, the others are checked on the events.
  const filters = [query.clientId, query.user, query.ip].filter((f) => f !== undefined).length;
  const candidates = filters > 1 ? query.limit * 10 : query.limit;
  const index = query.clientId !== undefined ? keys.byClient(query.clientId) : query.user !== undefined ? keys.byUser(query.user.toLowerCase()) : query.ip !== undefined ? keys.byIp(query.ip) : null;
  const ids = index ? await redis.zrevrangebyscore(index, "+inf", since, "LIMIT", 0, candidates) : await latestFlowIds(redis, since, candidates);
  const flows = await loadFlows(redis, ids);
  return flows.filter((flow) => matches(flow, query)).slice(0, query.limit);
}

/** One flow, or null when it is unknown or expired. */
export async function findFlow(redis: Redis, flowId: string): Promise<OAuthFlow | null> {
  const [flow] = await loadFlows(redis, [flowId]);
  return flow ?? null;
}

export async function loadFlows(redis: Redis, ids: readonly string[]): Promise<OAuthFlow[]> {
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.lrange(keys.flow(id), 0, -1);
  const results = (await pipeline.exec()) ?? [];
  const flows: OAuthFlow[] = [];
  results.forEach(([err, raw], i) => {
    if (err) throw err;
    const events = (raw as string[]).flatMap(parseEvent);
    if (events.length > 0) flows.push(summarize(ids[i]!, events));
  });
  return flows;
}

/** Pure: a flow's summary from its events (in the order they were recorded). */
export function summarize(flowId: string, events: readonly OAuthEvent[]): OAuthFlow {
  const first = <K extends keyof OAuthEvent>(field: K) => events.find((e) => e[field] !== null)?.[field] ?? null;
  const failure = events.find((e) => e.outcome !== "ok");
  return {
    flow_id: flowId,
    started_at: events[0]!.ts,
    last_at: events[events.length - 1]!.ts,
    client_id: first("client_id") as string | null,
    user: first("user") as string | null,
    ip: first("ip") as string | null,
    proxy: first("proxy") as string | null,
    outcome: failure?.outcome ?? "ok",
    reason: failure?.reason ?? null,
    steps: events,
  };
}

function matches(flow: OAuthFlow, query: FlowQuery): boolean {
  const any = (test: (e: OAuthEvent) => boolean) => flow.steps.some(test);
  if (query.clientId !== undefined && !any((e) => e.client_id === query.clientId)) return false;
  if (query.user !== undefined && !any((e) => e.user?.toLowerCase() === query.user!.toLowerCase())) return false;
  if (query.ip !== undefined && !any((e) => e.ip === query.ip)) return false;
  return true;
}

/** Flow ids of the latest events, newest first, each once. */
async function latestFlowIds(redis: Redis, since: number, limit: number): Promise<string[]> {
  const seen = new Set<string>();
  let end = "+";
  for (let read = 0; read < STREAM_MAX && seen.size < limit; read += STREAM_PAGE) {
    const entries = await redis.xrevrange(keys.stream, end, String(since), "COUNT", STREAM_PAGE);
    for (const [, fields] of entries) {
      const event = parseEvent(fields[1] ?? "")[0];
      if (event) seen.add(event.flow_id);
      if (seen.size >= limit) break;
    }
    if (entries.length < STREAM_PAGE) break;
    end = `(${entries[entries.length - 1]![0]}`;
  }
  return [...seen];
}

function parseEvent(raw: string): OAuthEvent[] {
  try {
    const event = JSON.parse(raw) as OAuthEvent;
    return typeof event?.flow_id === "string" ? [event] : [];
  } catch {
    return [];
  }
}
