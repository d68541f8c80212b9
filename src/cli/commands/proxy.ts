/** `portcullis proxy …`: the spec's proxy commands over /api/v1/proxy/targets. */
import { Option, type Command } from "commander";
import type { ProxyRecord } from "../../storage/proxy-repository";
import { ApiError } from "../api-client";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderChange, renderItem, renderList, type Column } from "../output";
import type { OutputFormat } from "../settings";
import { registerProxyOAuthCommands } from "./oauth-proxy";
import { AUTH_MODES, listOrDefault, registerProxyAuthCommands } from "./proxy-auth";
import { registerProxyMcpCommands } from "./proxy-mcp";
import { registerProxyResourceCommands } from "./proxy-resource";
import { ROUTE_COLUMNS, splitList, type RouteView } from "./route";

/** The fields the CLI reads; show/create print every field the API returns. */
export type ProxyView = Pick<
  ProxyRecord,
  "hostname" | "target_url" | "enabled" | "enable_http" | "enable_https" | "auth_enabled" | "cert_name" | "route_mode" | "created_at"
> & {
  /** A certificate that exists, "pending", "failed: <reason>", or null (the API's view of cert_name). */
  certificate?: string | null;
};

export interface RouteControlView {
  hostname: string;
  route_mode: string;
  enabled_routes: string[];
  disabled_routes: string[];
  effective_routes: RouteView[];
}

/** "HTTP | HTTPS", "HTTPS", "HTTP | disabled": the listeners that serve it, and whether it serves at all. */
export function proxyStatus(p: Pick<ProxyView, "enabled" | "enable_http" | "enable_https">): string {
  const parts: string[] = [];
  if (p.enable_http) parts.push("HTTP");
  if (p.enable_https) parts.push("HTTPS");
  if (!p.enabled) parts.push("disabled");
  return parts.join(" | ");
}

export const PROXY_COLUMNS: Column<ProxyView>[] = [
  { header: "Hostname", value: (p) => p.hostname },
  { header: "Target", value: (p) => p.target_url },
  { header: "Status", value: proxyStatus },
  { header: "Auth", value: (p) => p.auth_enabled, kind: "bool" },
  // An older gateway sends no `certificate`: its cert_name is the best there is.
  { header: "Certificate", value: (p) => (p.certificate !== undefined ? p.certificate : p.cert_name) },
  { header: "Routes", value: (p) => p.route_mode },
  { header: "Created", value: (p) => p.created_at, kind: "date" },
];

/** "proxy mcp.test → http://127.0.0.1:3000": what create/update print by default. */
export function proxyLine(p: Pick<ProxyView, "hostname" | "target_url" | "enabled">): string {
  return `proxy ${p.hostname} → ${p.target_url}${p.enabled ? "" : " (disabled)"}`;
}

export function proxySummary(proxies: readonly Pick<ProxyView, "auth_enabled">[]): string {
  const n = proxies.length;
  return `Summary: ${n} ${n === 1 ? "proxy" : "proxies"} | ${proxies.filter((p) => p.auth_enabled).length} with auth`;
}

/**
 * `--header NAME=VALUE` values as a header map. The split is at the first "=",
 * so values may contain "=". A missing "=" or a name given twice would reach
 * the server as a different map than meant, so they stop here.
 */
export function parseHeaders(flag: string, values: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const seen = new Set<string>();
  for (const item of values) {
    const equals = item.indexOf("=");
    const name = equals < 0 ? "" : item.slice(0, equals).trim();
    if (name === "") throw new CliError(`${flag} ${JSON.stringify(item)}: expected NAME=VALUE, e.g. ${flag} X-Env=prod`);
    if (seen.has(name.toLowerCase())) throw new CliError(`${flag}: ${name} is given twice`);
    seen.add(name.toLowerCase());
    headers[name] = item.slice(equals + 1);
  }
  return headers;
}

/** Collects a repeatable option's values; commander calls it once per occurrence. */
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** The flags `proxy create` and `proxy update` share; commander fills in what was given. */
export interface ProxyFlags {
  target?: string;
  preserveHost?: boolean;
  enableHttp?: boolean;
  enableHttps?: boolean;
  header?: string[];
  responseHeader?: string[];
  clearHeaders?: boolean;
  clearResponseHeaders?: boolean;
  disabled?: boolean;
  enable?: boolean;
  disable?: boolean;
}

/** The request body for the flags given, and nothing else: the server fills defaults or keeps stored values. */
export function proxyBody(flags: ProxyFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.target !== undefined) body.target_url = flags.target;
  if (flags.preserveHost !== undefined) body.preserve_host_header = flags.preserveHost;
  if (flags.enableHttp !== undefined) body.enable_http = flags.enableHttp;
  if (flags.enableHttps !== undefined) body.enable_https = flags.enableHttps;
  if (flags.header !== undefined) body.custom_headers = parseHeaders("--header", flags.header);
  if (flags.responseHeader !== undefined) body.custom_response_headers = parseHeaders("--response-header", flags.responseHeader);
  if (flags.clearHeaders) body.custom_headers = null;
  if (flags.clearResponseHeaders) body.custom_response_headers = null;
  if (flags.disabled || flags.disable) body.enabled = false;
  if (flags.enable) body.enabled = true;
  return body;
}

/** The certificate fields of `proxy create`, only when given: the gateway requests the proxy's certificate with them. */
export function proxyCertificateBody(flags: { staging?: boolean; email?: string }): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.staging !== undefined) body.staging = flags.staging;
  if (flags.email !== undefined) body.cert_email = flags.email;
  return body;
}

/** The query of `proxy delete`: ?delete_cert=true, and &force=true, which only means something with it. */
export function proxyDeleteQuery(flags: { deleteCert?: boolean; force?: boolean }): string {
  if (flags.force && !flags.deleteCert) throw new CliError("proxy delete: --force is for --delete-cert (delete the certificate even if other proxies use it)");
  if (!flags.deleteCert) return "";
  return flags.force ? "?delete_cert=true&force=true" : "?delete_cert=true";
}

/** The body of PUT …/routes; repeated flags and comma lists combine, and "" clears a list. */
export function routeControlBody(flags: { mode?: string; enableRoute?: string[]; disableRoute?: string[] }): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.mode !== undefined) body.route_mode = flags.mode;
  if (flags.enableRoute !== undefined) body.enabled_routes = flags.enableRoute.flatMap(splitList);
  if (flags.disableRoute !== undefined) body.disabled_routes = flags.disableRoute.flatMap(splitList);
  return body;
}

/** json/yaml: the API's object; csv: the effective routes; table: the mode and lists, then the routes. */
export function renderRouteControl(control: RouteControlView, format: OutputFormat): string {
  const { effective_routes: routes, ...mode } = control;
  if (format === "json" || format === "yaml") return renderItem({ ...control }, format);
  if (format === "csv") return renderList(routes, ROUTE_COLUMNS, "csv", "");
  const summary = renderItem(
    { ...mode, enabled_routes: mode.enabled_routes.join(", "), disabled_routes: mode.disabled_routes.join(", ") },
    "table",
  );
  const empty = `No routes apply to ${control.hostname}: its target_url gets every request.`;
  return `${summary}\nEffective routes, in evaluation order:\n${renderList(routes, ROUTE_COLUMNS, "table", empty)}`;
}

const path = (hostname: string) => `/api/v1/proxy/targets/${encodeURIComponent(hostname)}`;

/** Flags create and update share: each boolean has its --no- form so "not given" leaves the server's value. */
function addSettingOptions(command: Command): Command {
  return command
    .option("--preserve-host", "send the client's Host header to the backend (server default)")
    .option("--no-preserve-host", "send the backend's own host")
    .option("--enable-http", "serve on the HTTP listener (server default)")
    .option("--no-enable-http", "do not serve on the HTTP listener")
    .option("--enable-https", "serve on the HTTPS listener (server default)")
    .option("--no-enable-https", "do not serve on the HTTPS listener")
    .option("--header <NAME=VALUE>", "header set on requests to the backend (repeatable)", collect)
    .option("--response-header <NAME=VALUE>", "header set on responses to clients (repeatable)", collect);
}

export function registerProxyCommands(program: Command, context: CommandContext): void {
  const proxy = program.command("proxy").description("Manage proxy targets (hostname → backend)");

  addSettingOptions(
    proxy
      .command("create")
      .description("Create a proxy target; it serves at once")
      .argument("<hostname>", "exact hostname or *.wildcard")
      .argument("<target-url>", "backend URL, http:// or https://"),
  )
    .option("--disabled", "create it disabled (answers 503)")
    .option("--staging", "request its certificate from the ACME CA's staging directory (untrusted; for tests)")
    .option("--no-staging", "request it from the production directory (server default)")
    .option("--email <email>", "ACME account email for its certificate (default: your token's certificate email, else ADMIN_EMAIL)")
    .addOption(new Option("--auth <mode>", "require tokens from the first request on: forward (401 + WWW-Authenticate, for MCP and APIs), redirect (browsers log in) or passthrough").choices([...AUTH_MODES]))
    .option("--resource-endpoint <path>", "serve protected resource metadata for this endpoint from the start, e.g. /mcp")
    .option("--resource-scopes <list>", "the resource's scopes_supported, e.g. mcp:read,mcp:write")
    .action(async (hostname: string, targetUrl: string, flags: ProxyFlags & ProtectionFlags & { staging?: boolean; email?: string }) => {
      const { client, settings, print } = context();
      const body = { hostname, ...proxyBody({ ...flags, target: targetUrl }), ...protectionBody(flags), ...proxyCertificateBody(flags) };
      const created = await client.post<ProxyView & Record<string, unknown>>("/api/v1/proxy/targets/", body);
      print(renderChange(`created ${proxyLine(created)}`, created, settings.format));
    });

  proxy
    .command("list")
    .description("List the proxies you can see")
    .action(async () => {
      const { client, settings, print } = context();
      const rows = await client.get<ProxyView[]>("/api/v1/proxy/targets/");
      print(renderList(rows, PROXY_COLUMNS, settings.format, "No proxies yet. Create one: portcullis proxy create <hostname> <target-url>"));
      if (settings.format === "table" && rows.length > 0) print(proxySummary(rows));
    });

  proxy
    .command("show")
    .description("Show every setting of a proxy")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderItem(await client.get<Record<string, unknown>>(path(hostname)), settings.format));
    });

  addSettingOptions(proxy.command("update").description("Change some settings of a proxy").argument("<hostname>", "proxy hostname"))
    .option("--target <url>", "new backend URL")
    .addOption(new Option("--clear-headers", "remove every request header set by --header").conflicts("header"))
    .addOption(new Option("--clear-response-headers", "remove every response header").conflicts("responseHeader"))
    .addOption(new Option("--enable", "serve again").conflicts("disable"))
    .addOption(new Option("--disable", "stop serving (answers 503)"))
    .action(async (hostname: string, flags: ProxyFlags) => {
      const { client, settings, print } = context();
      const body = proxyBody(flags);
      if (Object.keys(body).length === 0) throw new CliError("proxy update: nothing to change; see `portcullis proxy update --help`");
      const updated = await client.put<ProxyView & Record<string, unknown>>(path(hostname), body);
      print(renderChange(`updated ${proxyLine(updated)}`, updated, settings.format));
    });

  proxy
    .command("delete")
    .description("Delete a proxy; requests in flight finish")
    .argument("<hostname>", "proxy hostname")
    .option("--delete-cert", "also delete its certificate (refused while other proxies use it)")
    .option("--force", "with --delete-cert: delete the certificate even if other proxies use it (they fall back to the default one)")
    .action(async (hostname: string, flags: { deleteCert?: boolean; force?: boolean }) => {
      const query = proxyDeleteQuery(flags);
      const { client, settings, print } = context();
      try {
        print(renderItem(await client.delete<Record<string, unknown>>(path(hostname) + query), settings.format));
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && flags.deleteCert && !flags.force) {
          throw new CliError(`${err.message}. With this CLI: portcullis proxy delete ${hostname} --delete-cert --force`);
        }
        throw err;
      }
    });

  proxy
    .command("routes")
    .description("Show a proxy's route mode and the routes that apply to it")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderRouteControl(await client.get<RouteControlView>(`${path(hostname)}/routes`), settings.format));
    });

  proxy
    .command("routes-set")
    .description("Set a proxy's route mode and its enabled/disabled route lists (a list given replaces the stored one)")
    .argument("<hostname>", "proxy hostname")
    .option("--mode <mode>", "all (every route but the disabled), selective (only the enabled) or none")
    .option("--enable-route <id>", "route id for selective mode (repeatable, or comma-separated; \"\" clears)", collect)
    .option("--disable-route <id>", "route id to skip in mode all (repeatable, or comma-separated; \"\" clears)", collect)
    .action(async (hostname: string, flags: { mode?: string; enableRoute?: string[]; disableRoute?: string[] }) => {
      const { client, settings, print } = context();
      const body = routeControlBody(flags);
      if (Object.keys(body).length === 0) throw new CliError("proxy routes-set: nothing to set; give --mode, --enable-route or --disable-route");
      print(renderRouteControl(await client.put<RouteControlView>(`${path(hostname)}/routes`, body), settings.format));
    });

  registerProxyOAuthCommands(proxy, context);
  registerProxyAuthCommands(proxy, context);
  registerProxyResourceCommands(proxy, context);
  registerProxyMcpCommands(proxy, context);
}

/** proxy create's auth and resource flags: set in the create itself, so the proxy never serves without them. */
interface ProtectionFlags {
  auth?: string;
  resourceEndpoint?: string;
  resourceScopes?: string;
}

function protectionBody(flags: ProtectionFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.auth !== undefined) Object.assign(body, { auth_enabled: true, auth_mode: flags.auth });
  if (flags.resourceEndpoint !== undefined) body.resource_endpoint = flags.resourceEndpoint.trim() === "" ? null : flags.resourceEndpoint.trim();
  if (flags.resourceScopes !== undefined) body.resource_scopes = listOrDefault(flags.resourceScopes);
  return body;
}
