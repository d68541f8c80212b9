/** `portcullis route …`: the spec's route commands over /api/v1/routes. */
import { Option, type Command } from "commander";
import { routeMethods, routePath, routeScope, routeTarget } from "../../dispatcher/route-labels";
import type { RouteRecord } from "../../storage/route-repository";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderChange, renderItem, renderList, type Column } from "../output";
import { warnAboutUnservedHostnames } from "./route-hostnames";

export type RouteView = Omit<RouteRecord, "owner_token_hash">;

export { routeMethods, routePath, routeScope, routeTarget };

export const ROUTE_COLUMNS: Column<RouteView>[] = [
  { header: "Priority", value: (r) => r.priority },
  { header: "ID", value: (r) => r.route_id },
  { header: "Path", value: routePath },
  { header: "Methods", value: routeMethods },
  { header: "Target", value: routeTarget },
  { header: "Scope", value: routeScope },
  { header: "Enabled", value: (r) => r.enabled, kind: "bool" },
  { header: "Description", value: (r) => r.description },
];

export const LIST_SCOPES = ["all", "global", "proxy"] as const;
export type ListScope = (typeof LIST_SCOPES)[number];

export function filterByScope<T extends Pick<RouteView, "scope">>(routes: readonly T[], scope: ListScope): T[] {
  return scope === "all" ? [...routes] : routes.filter((r) => r.scope === scope);
}

export function emptyRoutesHint(scope: ListScope): string {
  const create = "portcullis route create <path> url <target-url>";
  if (scope === "all") return `No routes yet. Create one: ${create}`;
  return `No ${scope} routes. Create one: ${create} --scope ${scope}${scope === "proxy" ? " --proxies <hostname>" : ""}`;
}

/** "a, b,,c" → ["a", "b", "c"]; "" → [] (how a list flag clears a list). */
export function splitList(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/** A JSON number would reach the server as a float or a string it reports less clearly: check it here. */
export function parseInteger(flag: string, value: string): number {
  if (!/^\s*-?\d+\s*$/.test(value)) throw new CliError(`${flag} ${JSON.stringify(value)}: expected an integer`);
  return Number(value);
}

/** The flags `route create` and `route update` share; commander fills in what was given. */
export interface RouteFlags {
  priority?: string;
  methods?: string;
  regex?: boolean;
  description?: string;
  scope?: string;
  proxies?: string;
  path?: string;
  targetType?: string;
  targetValue?: string;
  id?: string;
  disabled?: boolean;
  enable?: boolean;
  disable?: boolean;
}

/**
 * The request body for the flags given, and nothing else (the server fills its
 * defaults on create and keeps stored values on update). `--proxies` without
 * `--scope` means scope "proxy": a global route ignores its proxy list, so
 * sending both would silently do something other than asked.
 */
export function routeBody(flags: RouteFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.id !== undefined) body.route_id = flags.id;
  if (flags.path !== undefined) body.path_pattern = flags.path;
  if (flags.targetType !== undefined) body.target_type = flags.targetType;
  if (flags.targetValue !== undefined) body.target_value = flags.targetValue;
  if (flags.priority !== undefined) body.priority = parseInteger("--priority", flags.priority);
  if (flags.methods !== undefined) body.methods = splitList(flags.methods);
  if (flags.regex !== undefined) body.is_regex = flags.regex;
  if (flags.description !== undefined) body.description = flags.description;
  if (flags.proxies !== undefined) body.proxy_hostnames = splitList(flags.proxies);
  const scope = flags.scope ?? (flags.proxies !== undefined ? "proxy" : undefined);
  if (scope !== undefined) body.scope = scope;
  if (flags.disabled || flags.disable) body.enabled = false;
  if (flags.enable) body.enabled = true;
  return body;
}

const path = (id: string) => `/api/v1/routes/${encodeURIComponent(id)}`;

/** "route api: /api/ → http://10.0.0.7:8080/ (priority 90, global)": what create/update print by default. */
export function routeLine(route: RouteView): string {
  const disabled = route.enabled ? "" : ", disabled";
  return `route ${route.route_id}: ${routePath(route)} → ${routeTarget(route)} (priority ${route.priority}, ${routeScope(route)}${disabled})`;
}

function addSharedRouteOptions(command: Command): Command {
  return command
    .option("--priority <n>", "0-1000, higher is tried first (server default 50)")
    .option("--methods <list>", "comma-separated HTTP methods, e.g. GET,POST (empty: every method)")
    .option("--description <text>", "free text")
    .option("--scope <scope>", "global (every proxy; admin only) or proxy (the --proxies listed)")
    .option("--proxies <hostnames>", "comma-separated proxy hostnames (implies --scope proxy)");
}

export function registerRouteCommands(program: Command, context: CommandContext): void {
  const route = program.command("route").description("Manage priority-based path routes");

  route
    .command("list")
    .description("List the routes you can see, highest priority first")
    .addOption(new Option("--scope <scope>", "only global or only proxy-scoped routes").choices([...LIST_SCOPES]).default("all"))
    .action(async (flags: { scope: ListScope }) => {
      const { client, settings, print } = context();
      const rows = filterByScope(await client.get<RouteView[]>("/api/v1/routes/"), flags.scope);
      print(renderList(rows, ROUTE_COLUMNS, settings.format, emptyRoutesHint(flags.scope)));
    });

  route
    .command("show")
    .description("Show one route")
    .argument("<id>", "route id")
    .action(async (id: string) => {
      const { client, settings, print } = context();
      print(renderItem({ ...(await client.get<RouteView>(path(id))) }, settings.format));
    });

  addSharedRouteOptions(
    route
      .command("create")
      .description("Create a route (its id is generated unless --id is given)")
      .argument("<path>", "path prefix starting with /, or a regular expression with --regex")
      .argument("<target-type>", "url or service")
      .argument("<target-value>", "an http(s) URL, or a service name"),
  )
    .option("--regex", "<path> is a regular expression")
    .option("--id <id>", "route id: 1-64 letters, digits, _ . -")
    .option("--disabled", "create it disabled")
    .action(async (pathPattern: string, targetType: string, targetValue: string, flags: RouteFlags) => {
      const { client, settings, print, note } = context();
      const body = routeBody({ ...flags, path: pathPattern, targetType, targetValue });
      const created = await client.post<RouteView>("/api/v1/routes/", body);
      print(renderChange(`created ${routeLine(created)}`, { ...created }, settings.format));
      await warnAboutUnservedHostnames(client, created, note);
    });

  addSharedRouteOptions(
    route
      .command("update")
      .description("Change some settings of a route")
      .argument("<id>", "route id")
      .option("--path <pattern>", "new path prefix or regular expression")
      .option("--target-type <type>", "url or service")
      .option("--target-value <value>", "an http(s) URL, or a service name"),
  )
    .option("--regex", "the path is a regular expression")
    .option("--no-regex", "the path is a prefix")
    .addOption(new Option("--enable", "enable the route").conflicts("disable"))
    .addOption(new Option("--disable", "disable the route"))
    .action(async (id: string, flags: RouteFlags) => {
      const { client, settings, print, note } = context();
      const body = routeBody(flags);
      if (Object.keys(body).length === 0) throw new CliError("route update: nothing to change; see `portcullis route update --help`");
      const updated = await client.put<RouteView>(path(id), body);
      print(renderChange(`updated ${routeLine(updated)}`, { ...updated }, settings.format));
      if (body.proxy_hostnames !== undefined || body.scope !== undefined || body.target_value !== undefined) await warnAboutUnservedHostnames(client, updated, note);
    });

  route
    .command("delete")
    .description("Delete a route")
    .argument("<id>", "route id")
    .action(async (id: string) => {
      const { client, settings, print } = context();
      print(renderItem(await client.delete<Record<string, unknown>>(path(id)), settings.format));
    });

  route
    .command("formatted")
    .description("Print the server's plain-text route table (GET /api/v1/routes/formatted)")
    .action(async () => {
      const { client, print } = context();
      print(((await client.get<string | null>("/api/v1/routes/formatted")) ?? "").replace(/\n$/, ""));
    });
}
