/**
 * `portcullis proxy mcp-set|mcp-show|mcp-clear`: what the edge enforces at a
 * proxy's MCP endpoint (`mcp_*` fields) over
 * /api/v1/proxy/targets/{hostname}/mcp-policy. mcp-set sends only the fields
 * given; "" resets one.
 *
 * Scope maps are written `name=scope scope;name=scope` (a tool or method name,
 * `*` matching any run of characters; scopes separated by spaces or commas),
 * or as a JSON object for names that hold `=` or `;`. Rate limits: see
 * proxy-mcp-rate-limits.ts.
 */
import type { Command } from "commander";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderItem } from "../output";
import type { OutputFormat } from "../settings";
import { flattenItem } from "./oauth-output";
import { splitWords } from "./oauth-proxy";
import { listOrDefault } from "./proxy-auth";
import { formatRateLimits, parseRateLimits, type RateLimitRuleText } from "./proxy-mcp-rate-limits";

/** A proxy's MCP policy as GET/POST/DELETE …/mcp-policy answer. */
export interface McpPolicyView {
  hostname: string;
  mcp_tool_scopes: Record<string, string[]> | null;
  mcp_method_scopes: Record<string, string[]> | null;
  mcp_filter_tools: boolean;
  mcp_allowed_origins: string[] | null;
  mcp_rate_limits?: RateLimitRuleText[] | null;
  mcp_endpoint: string | null;
  enforced: boolean;
  policy_scopes: string[];
  [field: string]: unknown;
}

export interface McpFlags {
  toolScopes?: string;
  methodScopes?: string;
  filterTools?: boolean;
  allowedOrigins?: string;
  rateLimits?: string;
}

/** "whoami=mcp:admin;delete_*=files:write files:admin" (or a JSON object) → the map; "" → null. */
export function parseScopeMap(flag: string, value: string): Record<string, string[]> | null {
  const text = value.trim();
  if (text === "") return null;
  if (text.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new CliError(`${flag}: not valid JSON (${(err as Error).message}); e.g. '{"whoami":["mcp:admin"]}'`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new CliError(`${flag}: expected a JSON object of name → list of scopes`);
    return parsed as Record<string, string[]>;
  }
  const map: Record<string, string[]> = {};
  for (const entry of text.split(";").map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new CliError(`${flag}: ${JSON.stringify(entry)} is not name=scopes; e.g. "whoami=mcp:admin;delete_*=files:write"`);
    map[entry.slice(0, eq).trim()] = splitWords(entry.slice(eq + 1));
  }
  return map;
}

/** The POST body for the flags given, and nothing else. */
export function mcpPolicyBody(flags: McpFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.toolScopes !== undefined) body.mcp_tool_scopes = parseScopeMap("--tool-scopes", flags.toolScopes);
  if (flags.methodScopes !== undefined) body.mcp_method_scopes = parseScopeMap("--method-scopes", flags.methodScopes);
  if (flags.filterTools !== undefined) body.mcp_filter_tools = flags.filterTools;
  if (flags.allowedOrigins !== undefined) body.mcp_allowed_origins = listOrDefault(flags.allowedOrigins);
  if (flags.rateLimits !== undefined) body.mcp_rate_limits = parseRateLimits("--rate-limits", flags.rateLimits);
  return body;
}

/** json/yaml: the API's object; csv: flattened; table: flattened, and where the policy applies (or why it does not). */
export function renderMcpPolicy(view: McpPolicyView, format: OutputFormat): string {
  if (format === "json" || format === "yaml") return renderItem(view, format);
  // Rules are objects: one line of them, written as --rate-limits takes them.
  const table = renderItem(flattenItem({ ...view, mcp_rate_limits: formatRateLimits(view.mcp_rate_limits ?? null) }), format);
  if (format !== "table") return table;
  if (!view.enforced) return `${table}\nNot enforced: ${view.hostname} names no MCP endpoint. Name it: portcullis proxy resource-set ${view.hostname} --endpoint /mcp`;
  const scopes = view.policy_scopes.length > 0 ? ` Tokens need these scopes for the calls that name them: ${view.policy_scopes.join(" ")}.` : "";
  return `${table}\nEnforced at https://${view.hostname}${view.mcp_endpoint === "/" ? "" : view.mcp_endpoint} and the paths under it.${scopes}`;
}

const path = (hostname: string) => `/api/v1/proxy/targets/${encodeURIComponent(hostname)}/mcp-policy`;

export function registerProxyMcpCommands(proxy: Command, context: CommandContext): void {
  proxy
    .command("mcp-set")
    .description("Set some of a proxy's MCP endpoint policy (per-tool scopes, tools/list filtering, allowed origins, rate limits); the fields not given keep their values")
    .argument("<hostname>", "proxy hostname")
    .option("--tool-scopes <map>", 'scopes a tools/call needs, by tool name or glob: "whoami=mcp:admin;delete_*=files:write" or a JSON object ("" clears)')
    .option("--method-scopes <map>", 'scopes a JSON-RPC method needs, by method or glob: "resources/read=files:read;prompts/*=mcp:read" ("" clears)')
    .option("--filter-tools", "tools/list answers list only the tools the caller's token may call")
    .option("--no-filter-tools", "tools/list answers are passed as the server sends them (default)")
    .option("--allowed-origins <list>", 'browser origins allowed besides the proxy\'s own, e.g. http://localhost:6274; "*" any ("" = its own only)')
    .option("--rate-limits <rules>", 'calls per user and client, by tool (or method:name): "search=60/minute,1000/hour;method:resources/read=10/second" or a JSON array ("" clears)')
    .action(async (hostname: string, flags: McpFlags) => {
      const body = mcpPolicyBody(flags);
      if (Object.keys(body).length === 0) throw new CliError('proxy mcp-set: nothing to set; e.g. --tool-scopes "whoami=mcp:admin" (see `portcullis proxy mcp-set --help`)');
      const { client, settings, print } = context();
      print(renderMcpPolicy(await client.post<McpPolicyView>(path(hostname), body), settings.format));
    });

  proxy
    .command("mcp-show")
    .description("Show a proxy's MCP endpoint policy, where it is enforced, and the scopes it names")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderMcpPolicy(await client.get<McpPolicyView>(path(hostname)), settings.format));
    });

  proxy
    .command("mcp-clear")
    .description("Clear a proxy's MCP endpoint policy (every mcp_* field back to its default; Origin checks stay on)")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderMcpPolicy(await client.delete<McpPolicyView>(path(hostname)), settings.format));
    });
}
