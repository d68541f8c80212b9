/**
 * `portcullis proxy resource-set|resource-show|resource-clear|resource-list`:
 * a proxy's protected resource metadata (RFC 9728; 002 `resource_*` fields)
 * over /api/v1/proxy/targets/{hostname}/resource. resource-set sends only the
 * fields given; "" resets one. Every answer shows the resource URI tokens must
 * name and the metadata document clients will get.
 *
 * `--hacker-one-research <id>` is the spec's `hacker-one-research` recipe
 * argument: it sets the X-HackerOne-Research response header (the researcher
 * identity HackerOne programs ask for) through the proxy's
 * custom_response_headers (so on the responses it forwards); "" removes it.
 */
import type { Command } from "commander";
import type { ProxyRecord } from "../../storage/proxy-repository";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderItem, renderList, type Column } from "../output";
import type { OutputFormat } from "../settings";
import { flattenItem } from "./oauth-output";
import { listOrDefault } from "./proxy-auth";

export const HACKER_ONE_HEADER = "X-HackerOne-Research";

/** A proxy's resource settings as GET/POST/DELETE …/resource answer. */
export interface ProxyResourceView {
  hostname: string;
  resource_endpoint: string | null;
  resource: string;
  metadata_url: string;
  metadata_url_root: string;
  metadata_preview: Record<string, unknown>;
  [field: string]: unknown;
}

export interface ResourceFlags {
  endpoint?: string;
  scopes?: string;
  stateful?: boolean;
  overrideBackend?: boolean;
  bearerMethods?: string;
  docSuffix?: string;
  versions?: string;
  serverInfo?: string;
  customMetadata?: string;
  hackerOneResearch?: string;
}

/** A JSON object option; "" → null (clears it). */
export function parseJsonObject(flag: string, value: string, example: string): Record<string, unknown> | null {
  if (value.trim() === "") return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new CliError(`${flag}: not valid JSON (${(err as Error).message}); expected an object, e.g. '${example}'`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new CliError(`${flag}: expected a JSON object, e.g. '${example}'`);
  return parsed as Record<string, unknown>;
}

/** The POST body for the flags given, and nothing else (the X-HackerOne-Research header is not a resource field). */
export function resourceBody(flags: ResourceFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.endpoint !== undefined) body.resource_endpoint = flags.endpoint.trim() === "" ? null : flags.endpoint.trim();
  if (flags.scopes !== undefined) body.resource_scopes = listOrDefault(flags.scopes);
  if (flags.stateful !== undefined) body.resource_stateful = flags.stateful;
  if (flags.overrideBackend !== undefined) body.resource_override_backend = flags.overrideBackend;
  if (flags.bearerMethods !== undefined) body.resource_bearer_methods = listOrDefault(flags.bearerMethods);
  if (flags.docSuffix !== undefined) body.resource_documentation_suffix = flags.docSuffix.trim() === "" ? null : flags.docSuffix.trim();
  if (flags.versions !== undefined) body.resource_versions = listOrDefault(flags.versions);
  if (flags.serverInfo !== undefined) body.resource_server_info = parseJsonObject("--server-info", flags.serverInfo, '{"name":"My MCP server","version":"1.0"}');
  if (flags.customMetadata !== undefined) {
    body.resource_custom_metadata = parseJsonObject("--custom-metadata", flags.customMetadata, '{"service_documentation":"https://docs.example.com"}');
  }
  return body;
}

/**
 * The proxy's response headers with X-HackerOne-Research set to `value` (any
 * spelling of the name replaced), or without it for ""; null when none remain.
 */
export function withHackerOneHeader(headers: Record<string, string> | null, value: string): Record<string, string> | null {
  const kept = Object.entries(headers ?? {}).filter(([name]) => name.toLowerCase() !== HACKER_ONE_HEADER.toLowerCase());
  if (value.trim() !== "") kept.push([HACKER_ONE_HEADER, value.trim()]);
  return kept.length > 0 ? Object.fromEntries(kept) : null;
}

/** json/yaml: the API's object; csv: flattened; table: the settings, then the document clients get. */
export function renderProxyResource(view: ProxyResourceView, format: OutputFormat): string {
  if (format === "json" || format === "yaml") return renderItem(view, format);
  if (format === "csv") return renderItem(flattenItem(view), "csv");
  const { metadata_preview: preview, ...settings } = view;
  const table = renderItem(flattenItem(settings), "table");
  const where =
    view.resource_endpoint === null
      ? `Metadata served at ${view.metadata_url} while auth is on (portcullis proxy auth-enable ${view.hostname}); set --endpoint to serve it regardless:`
      : `Metadata served at ${view.metadata_url} (and ${view.metadata_url_root}):`;
  return `${table}\n${where}\n${renderItem(flattenItem(preview), "table")}`;
}

/** One row of resource-list: a proxy whose gateway serves protected resource metadata. */
export interface ProtectedProxyRow {
  hostname: string;
  resource: string;
  resource_endpoint: string | null;
  scopes_supported: string[];
  auth_enabled: boolean;
  metadata_url: string;
}

type ListedProxy = Pick<ProxyRecord, "hostname" | "auth_enabled" | "resource_endpoint" | "resource_scopes" | "auth_allowed_scopes">;

const endpointPath = (endpoint: string | null) => (endpoint === null || endpoint === "/" ? "" : endpoint);

/**
 * The proxies that serve /.well-known/oauth-protected-resource (a
 * resource_endpoint, or auth on), as the gateway states them: the resource URI
 * and metadata URL on https, the scopes the document lists.
 */
export function protectedProxies(proxies: readonly ListedProxy[]): ProtectedProxyRow[] {
  return proxies
    .filter((p) => p.resource_endpoint != null || p.auth_enabled)
    .map((p) => ({
      hostname: p.hostname,
      resource: `https://${p.hostname}${endpointPath(p.resource_endpoint ?? null)}`,
      resource_endpoint: p.resource_endpoint ?? null,
      scopes_supported: (p.resource_scopes?.length ? p.resource_scopes : p.auth_allowed_scopes) ?? [],
      auth_enabled: p.auth_enabled,
      metadata_url: `https://${p.hostname}/.well-known/oauth-protected-resource${endpointPath(p.resource_endpoint ?? null)}`,
    }));
}

export const PROTECTED_PROXY_COLUMNS: Column<ProtectedProxyRow>[] = [
  { header: "Hostname", value: (r) => r.hostname },
  { header: "Endpoint", value: (r) => r.resource_endpoint ?? "/" },
  { header: "Scopes", value: (r) => r.scopes_supported.join(", ") },
  { header: "Auth", value: (r) => r.auth_enabled, kind: "bool" },
  { header: "Metadata URL", value: (r) => r.metadata_url },
];

export const EMPTY_PROTECTED_PROXIES_HINT =
  "No proxy serves protected resource metadata. Set some: portcullis proxy resource-set <hostname> --endpoint /mcp --scopes mcp:read,mcp:write";

const proxyPath = (hostname: string) => `/api/v1/proxy/targets/${encodeURIComponent(hostname)}`;

export function registerProxyResourceCommands(proxy: Command, context: CommandContext): void {
  proxy
    .command("resource-set")
    .description("Set some of a proxy's protected resource metadata (RFC 9728, resource_*); the fields not given keep their values")
    .argument("<hostname>", "proxy hostname")
    .option("--endpoint <path>", "the protected endpoint, e.g. /mcp: the resource is https://<hostname><path> (\"\" = the host itself)")
    .option("--scopes <list>", "scopes_supported, e.g. mcp:read,mcp:write (\"\" = auth's allowed scopes, if any)")
    .option("--stateful", "the server keeps session state")
    .option("--no-stateful", "the server keeps no session state (default)")
    .option("--override-backend", "the gateway answers the metadata URLs itself, whatever the backend has")
    .option("--no-override-backend", "ask the backend first; the gateway's document answers where it gives 404 (default)")
    .option("--bearer-methods <list>", "bearer_methods_supported: header (\"\" = header)")
    .option("--doc-suffix <path-or-url>", "resource_documentation: a path appended to the resource URI (e.g. /docs) or an https URL (\"\" = none)")
    .option("--versions <list>", "MCP protocol versions served, e.g. 2025-06-18 (\"\" = none listed)")
    .option("--server-info <json>", "server description as a JSON object, e.g. '{\"name\":\"Tools\",\"version\":\"1.0\"}' (\"\" clears)")
    .option("--custom-metadata <json>", "extra metadata members as a JSON object (\"\" clears)")
    .option("--hacker-one-research <id>", `send ${HACKER_ONE_HEADER}: <id> on the responses the proxy forwards (\"\" removes it)`)
    .action(async (hostname: string, flags: ResourceFlags) => {
      const body = resourceBody(flags);
      if (Object.keys(body).length === 0 && flags.hackerOneResearch === undefined) {
        throw new CliError("proxy resource-set: nothing to set; e.g. --endpoint /mcp --scopes mcp:read,mcp:write (see `portcullis proxy resource-set --help`)");
      }
      const { client, settings, print, note } = context();
      // The resource fields first: a refused value changes nothing.
      let view = Object.keys(body).length > 0 ? await client.post<ProxyResourceView>(`${proxyPath(hostname)}/resource`, body) : null;
      if (flags.hackerOneResearch !== undefined) {
        const current = await client.get<Pick<ProxyRecord, "custom_response_headers">>(proxyPath(hostname));
        const headers = withHackerOneHeader(current.custom_response_headers, flags.hackerOneResearch);
        await client.put(proxyPath(hostname), { custom_response_headers: headers });
        const value = flags.hackerOneResearch.trim();
        note(value === "" ? `${hostname}: ${HACKER_ONE_HEADER} removed` : `${hostname}: forwarded responses now carry ${HACKER_ONE_HEADER}: ${value}`);
      }
      view ??= await client.get<ProxyResourceView>(`${proxyPath(hostname)}/resource`);
      print(renderProxyResource(view, settings.format));
    });

  proxy
    .command("resource-show")
    .description("Show a proxy's protected resource settings, its resource URI, and the metadata document clients get")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderProxyResource(await client.get<ProxyResourceView>(`${proxyPath(hostname)}/resource`), settings.format));
    });

  proxy
    .command("resource-clear")
    .description("Clear a proxy's protected resource metadata (every resource_* field back to its default)")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderProxyResource(await client.delete<ProxyResourceView>(`${proxyPath(hostname)}/resource`), settings.format));
    });

  proxy
    .command("resource-list")
    .description("List the proxies that serve protected resource metadata (a resource endpoint set, or auth on)")
    .action(async () => {
      const { client, settings, print } = context();
      const rows = protectedProxies(await client.get<ListedProxy[]>("/api/v1/proxy/targets/"));
      print(renderList(rows, PROTECTED_PROXY_COLUMNS, settings.format, EMPTY_PROTECTED_PROXIES_HINT));
    });
}
