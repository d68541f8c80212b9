/**
 * `portcullis logs …`: the request log over /api/v1/logs. Lists print
 * newest first (json/yaml: the records as the API returns them); `events`
 * prints statistics; `follow` tails new requests live over SSE until
 * interrupted (or `--count` of them).
 */
import type { Command } from "commander";
import type { RequestRecord } from "../../consumers/request-log/record";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderItem, renderList, type Column } from "../output";
import { requestLine } from "../request-line";
import type { CliSettings } from "../settings";
import { followApiEvents } from "../sse";

interface LogList {
  records: RequestRecord[];
  count: number;
  truncated: boolean;
}

interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface LogEvents {
  since: number;
  until: number;
  total: number;
  errors: number;
  error_rate: number;
  unique_ips: number;
  by_status_class: Record<string, number>;
  by_host: Record<string, number>;
  by_method: Record<string, number>;
  duration_ms_by_proxy: Record<string, Percentiles>;
  percentile_window: number;
  records_read: number;
  truncated: boolean;
  hourly: { hour: string; requests: number; errors: number }[];
  unique_ips_by_host: Record<string, number>;
}

export const RECORD_COLUMNS: Column<RequestRecord>[] = [
  { header: "Time (UTC)", value: (r) => new Date(r.ts).toISOString().replace("T", " ").slice(0, 23) },
  { header: "Client IP", value: (r) => r.ip },
  { header: "Method", value: (r) => r.method },
  { header: "Host", value: (r) => r.host },
  { header: "Path", value: (r) => r.path },
  { header: "Status", value: (r) => r.status },
  { header: "ms", value: (r) => r.duration_ms },
  { header: "User", value: (r) => r.user },
  { header: "Error", value: (r) => r.error ?? (r.auth !== "ok" && r.auth !== "none" ? r.auth : undefined) },
  { header: "Request ID", value: (r) => r.request_id },
];

const EMPTY_HINT = "No requests match in this time window (try --hours 168, or fewer filters).";

/** The filter options of the list commands, by API query parameter. */
interface FilterFlags {
  ip?: string;
  host?: string;
  user?: string;
  client?: string;
  status?: string;
  method?: string;
  path?: string;
  hours?: string;
  since?: string;
  until?: string;
  limit?: string;
  errors?: boolean;
  slow?: boolean;
}

const FLAG_PARAMS: [keyof FilterFlags, string][] = [
  ["ip", "ip"],
  ["host", "host"],
  ["user", "user"],
  ["client", "client_id"],
  ["status", "status"],
  ["method", "method"],
  ["path", "path"],
  ["hours", "hours"],
  ["since", "since"],
  ["until", "until"],
  ["limit", "limit"],
];
/** `key=value` words `logs search` accepts, by API parameter (client is client_id). */
const SEARCH_KEYS = new Map([...FLAG_PARAMS.map(([flag, param]) => [flag, param] as const), ["client_id", "client_id"], ["errors", "errors"], ["slow", "slow"]]);

function withFilterOptions(command: Command, except: readonly (keyof FilterFlags)[] = []): Command {
  const options: [keyof FilterFlags, string, string][] = [
    ["ip", "--ip <ip>", "client IP address"],
    ["host", "--host <hostname>", "hostname asked for, or a proxy's hostname"],
    ["user", "--user <user>", "authenticated user"],
    ["client", "--client <client-id>", "OAuth client_id"],
    ["status", "--status <status>", "exact status (502) or class (5xx)"],
    ["method", "--method <method>", "HTTP method"],
    ["path", "--path <path>", "exact path, or a prefix ending in * (quote it: '/api/*')"],
    ["hours", "--hours <hours>", "how far back (default 24)"],
    ["since", "--since <time>", "from this time: epoch ms or ISO 8601 (instead of --hours)"],
    ["until", "--until <time>", "up to this time (default now)"],
    ["limit", "--limit <n>", "records at most (default 100, at most 1000)"],
    ["errors", "--errors", "only status 400 and above"],
    ["slow", "--slow", "only requests of 1 s and longer"],
  ];
  for (const [key, flags, description] of options) if (!except.includes(key)) command.option(flags, description);
  return command;
}

/** The query string for the API: flags, then `key=value` words (several may share one argument: `"status=5xx method=POST"`). */
export function logQuery(flags: FilterFlags, words: readonly string[] = []): string {
  const params = new URLSearchParams();
  for (const [flag, param] of FLAG_PARAMS) {
    const value = flags[flag];
    if (typeof value === "string") params.set(param, value);
  }
  if (flags.errors) params.set("errors", "true");
  if (flags.slow) params.set("slow", "true");
  for (const word of words.flatMap((w) => w.split(/\s+/)).filter(Boolean)) {
    const eq = word.indexOf("=");
    const param = eq > 0 ? SEARCH_KEYS.get(word.slice(0, eq) as keyof FilterFlags) : undefined;
    if (!param) throw new CliError(`${JSON.stringify(word)}: expected key=value with a key among ${[...SEARCH_KEYS.keys()].join(", ")}`);
    params.set(param, word.slice(eq + 1));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

const segment = encodeURIComponent;

export function registerLogCommands(program: Command, context: CommandContext): void {
  const logs = program.command("logs").description("Query the gateway's logs: requests answered (search … follow), OAuth sign-ins, the audit log");

  const list = async (path: string, flags: FilterFlags, words: readonly string[] = []) => {
    const { client, settings, print, note } = context();
    const result = await client.get<LogList>(`/api/v1/logs${path}${logQuery(flags, words)}`);
    print(renderList(result.records, RECORD_COLUMNS, settings.format, EMPTY_HINT));
    if (result.truncated && settings.format === "table") note(`${result.count} shown; more match (raise --limit, up to 1000, or narrow --hours / the filters)`);
  };

  withFilterOptions(
    logs
      .command("search")
      .description("Search with filters: flags, or key=value words (status=5xx method=POST path=/api/*)")
      .argument("[filters...]", "key=value filters: ip, host, user, client, status, method, path, hours, since, until, limit, errors, slow"),
  ).action((words: string[], flags: FilterFlags) => list("/search", flags, words));

  for (const [name, argument, param, description] of [
    ["ip", "<ip>", "ip", "Requests from one client address"],
    ["host", "<hostname>", "host", "Requests for one hostname (or a proxy's, wildcards too)"],
    ["client", "<client-id>", "client", "Requests of one OAuth client"],
    ["user", "<user>", "user", "Requests of one authenticated user"],
  ] as const) {
    withFilterOptions(logs.command(name).description(description).argument(argument, param), [param]).action((value: string, flags: FilterFlags) =>
      list(`/${name}/${segment(value)}`, flags),
    );
  }
  withFilterOptions(logs.command("errors").description("Failed requests (status 400 and above)"), ["errors"]).action((flags: FilterFlags) => list("/errors", flags));
  withFilterOptions(logs.command("slow").description("Slow requests (1 s and longer)"), ["slow"]).action((flags: FilterFlags) => list("/slow", flags));

  withFilterOptions(
    logs
      .command("events")
      .alias("stats")
      .description("Statistics for a time window: totals, status classes, hosts, methods, hourly counts, unique clients, p50/p95/p99 per proxy")
      .option("--window <n>", "records per proxy for the percentiles (default 1000)"),
    ["limit"],
  ).action(async (flags: FilterFlags & { window?: string }) => {
    const { client, settings, print } = context();
    const query = logQuery(flags);
    const windowParam = flags.window ? `${query ? "&" : "?"}window=${encodeURIComponent(flags.window)}` : "";
    print(renderEvents(await client.get<LogEvents>(`/api/v1/logs/events${query}${windowParam}`), settings.format));
  });

  logs
    .command("clear")
    .description("Delete the whole request log (admin only)")
    .action(async () => {
      const { client, settings, print } = context();
      const result = await client.delete<{ deleted: number }>("/api/v1/logs");
      print(settings.format === "table" ? `Deleted ${result.deleted} request-log keys.` : renderItem(result, settings.format));
    });

  logs
    .command("follow")
    .description("Print new requests as they happen (live tail); Ctrl-C stops")
    .option("--host <hostname>", "only this hostname (or proxy)")
    .option("--status <status>", "only this status (502) or class (5xx)")
    .option("--ip <ip>", "only this client address")
    .option("--count <n>", "stop after this many requests")
    .action(async (flags: { host?: string; status?: string; ip?: string; count?: string }) => {
      const { settings, print, colour } = context();
      const count = flags.count === undefined ? Infinity : Number(flags.count);
      if (!(count >= 1) || !Number.isInteger(count === Infinity ? 1 : count)) throw new CliError("--count: expected a whole number of at least 1");
      const query = logQuery({ host: flags.host, status: flags.status, ip: flags.ip });
      let printed = 0;
      await follow(settings, query, (record) => {
        print(settings.format === "table" ? requestLine(record, colour === true) : JSON.stringify(record));
        return ++printed < count;
      });
    });
}

/** Reads the SSE tail and hands each record to `onRecord` until it answers false. */
export async function follow(settings: CliSettings, query: string, onRecord: (record: RequestRecord) => boolean): Promise<void> {
  const outcome = await followApiEvents(settings, `/api/v1/logs/follow${query}`, "request", (data) => onRecord(data as RequestRecord));
  if (outcome === "ended") throw new CliError("the gateway ended the live tail (restarting?); run the command again");
}

const percent = (rate: number) => `${(rate * 100).toFixed(1)}%`;
const counts = (values: Record<string, number>) =>
  Object.entries(values)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, n]) => `${key}: ${n}`)
    .join(", ");

interface ProxyRow {
  proxy: string;
  requests: number;
  unique_ips: number | undefined;
  p50: number;
  p95: number;
  p99: number;
  sampled: number;
}

const PROXY_COLUMNS: Column<ProxyRow>[] = [
  { header: "Proxy / Host", value: (r) => r.proxy },
  { header: "Requests", value: (r) => r.requests },
  { header: "Unique IPs", value: (r) => r.unique_ips },
  { header: "p50 ms", value: (r) => r.p50 },
  { header: "p95 ms", value: (r) => r.p95 },
  { header: "p99 ms", value: (r) => r.p99 },
  { header: "Sampled", value: (r) => r.sampled },
];

export function proxyRows(events: LogEvents): ProxyRow[] {
  return Object.entries(events.duration_ms_by_proxy).map(([proxy, p]) => ({
    proxy,
    requests: events.by_host[proxy] ?? p.count,
    unique_ips: events.unique_ips_by_host[proxy],
    p50: p.p50,
    p95: p.p95,
    p99: p.p99,
    sampled: p.count,
  }));
}

export function renderEvents(events: LogEvents, format: CliSettings["format"]): string {
  if (format === "json" || format === "yaml") return renderItem(events as unknown as Record<string, unknown>, format);
  const rows = proxyRows(events);
  if (format === "csv") return renderList(rows, PROXY_COLUMNS, format, "");
  const summary = renderItem(
    {
      window: `${new Date(events.since).toISOString()} → ${new Date(events.until).toISOString()}`,
      requests: events.total,
      errors: `${events.errors} (${percent(events.error_rate)})`,
      unique_ips: events.unique_ips,
      status_classes: counts(events.by_status_class) || "—",
      methods: counts(events.by_method) || "—",
      ...(events.truncated ? { note: `statistics over the newest ${events.records_read} records; hourly counts cover all` } : {}),
    },
    "table",
  );
  const hourly = renderList(
    events.hourly.filter((h) => h.requests > 0),
    [
      { header: "Hour (UTC)", value: (h) => h.hour },
      { header: "Requests", value: (h) => h.requests },
      { header: "Errors", value: (h) => h.errors },
    ],
    "table",
    "No requests counted in these hours.",
  );
  return [summary, renderList(rows, PROXY_COLUMNS, "table", "No requests in this window."), hourly].join("\n");
}
