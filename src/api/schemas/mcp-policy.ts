/**
 * A proxy's MCP endpoint policy (`mcp_*` fields, src/mcp): per-tool and
 * per-method scopes, tools/list filtering, the Origin allowlist and rate
 * limits (src/mcp/rate-limit), with the checks a schema cannot express.
 * Scope names follow RFC 6749 §3.3 (scope-token) and are not limited to a
 * fixed list: operators name their own.
 */
import { t, type Static } from "elysia";
import { invalid } from "../../core/errors";
import { normalizeOrigin } from "../../mcp/origin-policy";
import { RATE_WINDOWS, type McpRateLimitRule } from "../../mcp/rate-limit/rate-rules";
import type { ProxyRecord } from "../../storage/proxy-repository";

export const MAX_POLICY_ENTRIES = 200;
export const MAX_SCOPES_PER_ENTRY = 20;
export const MAX_ALLOWED_ORIGINS = 50;
export const MAX_RATE_LIMIT_RULES = 50;
/** Calls per window a rate may allow at most. */
export const MAX_RATE = 1_000_000;

const scopeMap = (description: string) =>
  t.Optional(t.Union([t.Record(t.String({ maxLength: 128 }), t.Array(t.String({ maxLength: 128 }), { maxItems: MAX_SCOPES_PER_ENTRY })), t.Null()], { description }));

const rate = (window: string) =>
  t.Optional(t.Integer({ minimum: 1, maximum: MAX_RATE, description: `Calls allowed per ${window} (a fixed window aligned to the clock)` }));

const RateLimitRule = t.Object(
  {
    tool: t.Optional(t.String({ maxLength: 128, description: "Tool name or glob (* matches any run of characters) whose tools/calls this rule counts" })),
    method: t.Optional(t.String({ maxLength: 128, description: "JSON-RPC method or glob (resources/read, prompts/*) whose requests this rule counts" })),
    per_second: rate("second"),
    per_minute: rate("minute"),
    per_hour: rate("hour"),
  },
  { additionalProperties: false, description: "One budget: every call matching tool or method (exactly one of them) counts against each rate given" },
);

export const ProxyMcpPolicyBody = t.Object(
  {
    mcp_tool_scopes: scopeMap('Tool name or glob (* matches any run of characters) → the scopes a tools/call of it needs, e.g. {"delete_*": ["files:write"]}'),
    mcp_method_scopes: scopeMap('JSON-RPC method or glob → the scopes it needs, e.g. {"resources/read": ["files:read"], "prompts/*": ["mcp:read"]}'),
    mcp_filter_tools: t.Optional(t.Boolean({ description: "tools/list answers list only the tools the caller's token may call" })),
    mcp_allowed_origins: t.Optional(
      t.Union([t.Array(t.String({ maxLength: 256 }), { maxItems: MAX_ALLOWED_ORIGINS }), t.Null()], {
        description: 'Browser origins allowed at the MCP endpoint besides the proxy\'s own, e.g. "http://localhost:6274"; "*" allows any, "null" opaque origins',
      }),
    ),
    mcp_rate_limits: t.Optional(
      t.Union([t.Array(RateLimitRule, { maxItems: MAX_RATE_LIMIT_RULES }), t.Null()], {
        description:
          'Calls each user and client (each address without a token) may make, per tool or method, shared by every gateway node; over a limit the edge answers 429 with Retry-After and JSON-RPC error -32005. E.g. [{"tool": "search", "per_minute": 60}, {"method": "resources/read", "per_hour": 1000}]',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ProxyMcpPolicySettings = Static<typeof ProxyMcpPolicyBody>;

export type McpPolicyFields = Pick<ProxyRecord, "mcp_tool_scopes" | "mcp_method_scopes" | "mcp_filter_tools" | "mcp_allowed_origins" | "mcp_rate_limits">;

export const MCP_POLICY_DEFAULTS: McpPolicyFields = {
  mcp_tool_scopes: null,
  mcp_method_scopes: null,
  mcp_filter_tools: false,
  mcp_allowed_origins: null,
  mcp_rate_limits: null,
};

export const MCP_POLICY_FIELDS = Object.keys(MCP_POLICY_DEFAULTS) as (keyof McpPolicyFields)[];

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
/** A tool or method name or glob: visible characters, no spaces or controls. */
const NAME_PATTERN = /^[^\s\u0000-\u001f\u007f]{1,128}$/u;

const quoted = (value: string) => JSON.stringify(value.slice(0, 128));

export function checkMcpPolicySettings(body: ProxyMcpPolicySettings): Partial<McpPolicyFields> {
  const checked: Partial<McpPolicyFields> = {};
  if (body.mcp_tool_scopes !== undefined) checked.mcp_tool_scopes = checkScopeMap("mcp_tool_scopes", body.mcp_tool_scopes);
  if (body.mcp_method_scopes !== undefined) checked.mcp_method_scopes = checkScopeMap("mcp_method_scopes", body.mcp_method_scopes);
  if (body.mcp_filter_tools !== undefined) checked.mcp_filter_tools = body.mcp_filter_tools;
  if (body.mcp_allowed_origins !== undefined) checked.mcp_allowed_origins = checkOrigins(body.mcp_allowed_origins);
  if (body.mcp_rate_limits !== undefined) checked.mcp_rate_limits = checkRateLimits(body.mcp_rate_limits);
  return checked;
}

/** Each rule names a tool or a method (not both) and a rate; no two rules count the same calls per the same window. */
function checkRateLimits(rules: McpRateLimitRule[] | null): McpRateLimitRule[] | null {
  if (rules === null) return null;
  const seen = new Set<string>();
  const checked: McpRateLimitRule[] = [];
  for (const [i, rule] of rules.entries()) {
    const where = `mcp_rate_limits[${i}]`;
    if ((rule.tool === undefined) === (rule.method === undefined)) throw invalid(`${where}: name either a tool or a method, e.g. {"tool": "search", "per_minute": 60}`);
    const kind = rule.tool !== undefined ? "tool" : "method";
    const name = (rule.tool ?? rule.method)!;
    if (!NAME_PATTERN.test(name)) throw invalid(`${where}: ${kind} ${quoted(name)} must be 1-128 visible characters without spaces (globs use *)`);
    const entry: McpRateLimitRule = { [kind]: name };
    for (const { field } of RATE_WINDOWS) {
      const value = rule[field];
      if (value === undefined) continue;
      if (!Number.isSafeInteger(value) || value < 1 || value > MAX_RATE) throw invalid(`${where}: ${field} must be a whole number from 1 to ${MAX_RATE}`);
      const key = `${kind}\n${name}\n${field}`;
      if (seen.has(key)) throw invalid(`${where}: another rule already sets ${field} for the ${kind} ${quoted(name)}; put both rates in one rule`);
      seen.add(key);
      entry[field] = value;
    }
    if (!RATE_WINDOWS.some(({ field }) => entry[field] !== undefined)) throw invalid(`${where}: give at least one of per_second, per_minute, per_hour`);
    checked.push(entry);
  }
  return checked.length > 0 ? checked : null;
}

function checkScopeMap(field: string, map: Record<string, string[]> | null): Record<string, string[]> | null {
  if (map === null) return null;
  const entries = Object.entries(map);
  if (entries.length > MAX_POLICY_ENTRIES) throw invalid(`${field}: at most ${MAX_POLICY_ENTRIES} entries`);
  const checked: Record<string, string[]> = {};
  for (const [name, scopes] of entries) {
    if (!NAME_PATTERN.test(name)) throw invalid(`${field}: ${quoted(name)} must be 1-128 visible characters without spaces (globs use *)`);
    const bad = scopes.find((scope) => !SCOPE_TOKEN.test(scope));
    if (bad !== undefined) throw invalid(`${field}: ${quoted(name)}: ${quoted(bad)} is not a scope (RFC 6749 scope-token: visible ASCII without space, " or \\)`);
    checked[name] = [...new Set(scopes)];
  }
  return entries.length > 0 ? checked : null;
}

function checkOrigins(origins: string[] | null): string[] | null {
  if (origins === null) return null;
  const checked = new Set<string>();
  for (const raw of origins) {
    const value = raw.trim();
    if (value === "*" || value.toLowerCase() === "null") {
      checked.add(value.toLowerCase());
      continue;
    }
    const origin = normalizeOrigin(value);
    if (origin === null) throw invalid(`mcp_allowed_origins: ${quoted(raw)} is not an origin (scheme://host[:port], no path), "null" or "*"`);
    checked.add(origin);
  }
  return checked.size > 0 ? [...checked] : null;
}
