/**
 * /api/v1/logs — the request log, queried (spec "Log Query API"). Every
 * list answers `{ records, count, truncated }`, newest first; `truncated`
 * means more records may match than were returned (the limit, or the
 * per-query read bound was reached). Non-admin tokens see only records of
 * proxies they own; clearing the log is for the admin alone.
 */
import { Elysia } from "elysia";
import type { Redis } from "ioredis";
import { forbidden } from "../../core/errors";
import { clearRequestLog } from "../../consumers/request-log/clear";
import type { LogFilter } from "../../consumers/request-log/filter";
import { hoursCovered, readHourlyStats } from "../../consumers/request-log/hourly-stats";
import { queryRequestLog } from "../../consumers/request-log/query";
import { summarize } from "../../consumers/request-log/stats";
import type { ProxyRepository } from "../../storage/proxy-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, type Caller } from "../caller";
import { FILTER_PARAMS, parseLogQuery } from "../log-params";
import { logVisibility } from "../log-visibility";
import { FILTER_PARAMETER_DOCS } from "./logs-openapi";

/** Records /events reads at most for its totals and percentiles (the hourly counters cover any volume). */
export const EVENTS_MAX_RECORDS = 20_000;
const EVENTS_PARAMS = [...FILTER_PARAMS.filter((p) => p !== "limit"), "window"];

export interface LogRouteDeps {
  readonly redis: Redis;
  readonly tokens: TokenRepository;
  readonly proxies: ProxyRepository;
}

type Query = Record<string, string | undefined>;
type Fixed = Partial<Record<"ip" | "host" | "user" | "client_id", string>>;

export function logRoutes(deps: LogRouteDeps) {
  const search = async (caller: Caller, query: Query, fixed: Fixed = {}, forced: Partial<LogFilter> = {}) => {
    const { filter, limit } = parseLogQuery(query, FILTER_PARAMS, Date.now(), fixed);
    const visibility = await logVisibility(caller, deps.proxies);
    if (visibility.nothing) return { records: [], count: 0, truncated: false };
    return queryRequestLog(deps.redis, { ...filter, ...forced }, { limit, visible: visibility.record, visibleHosts: visibility.hosts });
  };
  const list = (summary: string, description: string, pathParameter?: { name: string; description: string }) => ({
    detail: {
      summary,
      description: `${description} Answers { records, count, truncated }, newest first.`,
      parameters: [...(pathParameter ? [{ name: pathParameter.name, in: "path" as const, required: true, description: pathParameter.description, schema: { type: "string" as const } }] : []), ...FILTER_PARAMETER_DOCS],
    },
  });

  return new Elysia({ prefix: "/logs", tags: ["logs"] })
    .resolve(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/search", ({ caller, query }) => search(caller, query), list("Search the request log", "Every filter applies to every record."))
    .get("/ip/:ip", ({ caller, query, params }) => search(caller, query, { ip: params.ip }), list("Requests from one client address", "The real client address (PROXY protocol or a trusted X-Forwarded-For).", { name: "ip", description: "Client IP address" }))
    .get("/host/:hostname", ({ caller, query, params }) => search(caller, query, { host: params.hostname }), list("Requests for one hostname", "The Host asked for, or a (wildcard) proxy's hostname.", { name: "hostname", description: "Host or proxy hostname" }))
    .get("/client/:client_id", ({ caller, query, params }) => search(caller, query, { client_id: params.client_id }), list("Requests of one OAuth client", "Requests whose bearer token was issued to this client.", { name: "client_id", description: "OAuth client_id" }))
    .get("/user/:user", ({ caller, query, params }) => search(caller, query, { user: params.user }), list("Requests of one user", "Requests authenticated as this user (the token's subject).", { name: "user", description: "User (e.g. a GitHub login)" }))
    .get("/errors", ({ caller, query }) => search(caller, query, {}, { errorsOnly: true }), list("Failed requests (status 400 and above)", "The other filters narrow further."))
    .get("/slow", ({ caller, query }) => search(caller, query, {}, { slowOnly: true }), list("Slow requests (1 s and longer)", "The other filters narrow further."))
    .get(
      "/events",
      async ({ caller, query }) => {
        const now = Date.now();
        const { filter, window } = parseLogQuery(query, EVENTS_PARAMS, now);
        const until = filter.until ?? now;
        const visibility = await logVisibility(caller, deps.proxies);
        const read = visibility.nothing
          ? { records: [], truncated: false }
          : await queryRequestLog(deps.redis, filter, { limit: EVENTS_MAX_RECORDS, visible: visibility.record, visibleHosts: visibility.hosts });
        const wanted = filter.host;
        const allowedHost =
          visibility.nothing ? () => false : visibility.host || wanted ? (host: string) => (!visibility.host || visibility.host(host)) && (!wanted || host === wanted) : undefined;
        const hourly = await readHourlyStats(deps.redis, hoursCovered(filter.since, until), allowedHost);
        return {
          since: filter.since,
          until,
          ...summarize(read.records, window),
          percentile_window: window,
          records_read: read.records.length,
          truncated: read.truncated,
          ...hourly,
        };
      },
      {
        detail: {
          summary: "Request statistics for a time window",
          description:
            "Totals, counts by status class, host and method, and the error rate over the records in the window (up to 20000 records: `truncated` says when there were more); " +
            "p50/p95/p99 duration_ms per proxy over its latest `window` records; hourly requests and errors, and distinct client addresses per host (HyperLogLog), from the hourly counters.",
          parameters: [
            ...FILTER_PARAMETER_DOCS.filter((p) => p.name !== "limit"),
            { name: "window", in: "query" as const, description: "Records per proxy the percentiles are computed over (default 1000, at most 10000)", schema: { type: "integer" as const } },
          ],
        },
      },
    )
    .delete(
      "/",
      async ({ caller }) => {
        if (caller.role !== "admin") throw forbidden("clearing the request log needs the admin token");
        return { deleted: await clearRequestLog(deps.redis) };
      },
      { detail: { summary: "Delete the whole request log (admin only)", description: "Every request-log key (records, indexes, stream, hourly counters); answers { deleted: <keys> }." } },
    );
}
