/**
 * Per-tool and per-method rate limits of an MCP proxy, compiled once from
 * `mcp_rate_limits`: which limits a JSON-RPC body charges, and how many calls
 * to each. Pure apart from a bounded memo.
 *
 * Rules:
 * - A rule names a tool (`tool`, a name or glob as in mcp_tool_scopes) or a
 *   JSON-RPC method (`method`, a name or glob: resources/read, prompts/*), and
 *   one or more rates: per_second, per_minute, per_hour. Each rate is a limit
 *   of its own, on a fixed window of that length.
 * - A rule is one budget: `{"tool": "delete_*", "per_minute": 5}` allows five
 *   calls a minute of all the delete_ tools together. Every matching rule is
 *   charged.
 * - Every call in a batch counts. A tools/call without a string name counts
 *   against every tool rule (the edge cannot tell which tool it reaches), and
 *   a body the edge did not read (streamed, or over 64 KiB) counts once
 *   against every rule, so that no call hides in one.
 * - Responses (to the server's own requests) never count.
 */
import type { McpMessage } from "../json-rpc-body";
import { globMatcher } from "../scope-policy";

/** One entry of a proxy's `mcp_rate_limits`, as stored. */
export interface McpRateLimitRule {
  tool?: string;
  method?: string;
  per_second?: number;
  per_minute?: number;
  per_hour?: number;
}

export const RATE_WINDOWS = [
  { field: "per_second", name: "second", ms: 1_000 },
  { field: "per_minute", name: "minute", ms: 60_000 },
  { field: "per_hour", name: "hour", ms: 3_600_000 },
] as const;

export type RateField = (typeof RATE_WINDOWS)[number]["field"];
export type WindowName = (typeof RATE_WINDOWS)[number]["name"];

export interface RateLimit {
  /**
   * What the limit counts, stable across reloads and nodes (kind, pattern and
   * window, not the rate: changing the rate keeps the calls already counted).
   */
  readonly id: string;
  /** `id` under its owner (the proxy): what a counter of it is named by on every node. */
  readonly key: string;
  /** The operations it counts, as a refusal names them. */
  readonly subject: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly windowName: WindowName;
}

/** A limit a body charges, and how many calls. */
export interface Charge {
  readonly limit: RateLimit;
  readonly cost: number;
}

export interface RateLimitPolicy {
  readonly limits: readonly RateLimit[];
  /** The limits this body charges; `messages` null: the edge did not read the body. Empty when none applies. */
  charges(messages: readonly McpMessage[] | null): readonly Charge[];
}

interface CompiledRule {
  readonly kind: "tool" | "method";
  readonly matches: (name: string) => boolean;
  readonly limits: readonly RateLimit[];
}

const NONE: readonly Charge[] = Object.freeze([]);
/** Names are the client's choice: the memo starts over when full. */
const MAX_REMEMBERED = 1024;

/** `owner` names whose limits these are (the proxy's hostname), so two proxies' rules never share counters. */
export function compileRateLimits(rules: readonly McpRateLimitRule[] | null, owner = ""): RateLimitPolicy {
  const compiled = (rules ?? []).map((rule) => compileRule(rule, owner)).filter((r) => r.limits.length > 0);
  const all = compiled.flatMap((r) => r.limits);
  const toolRules = compiled.filter((r) => r.kind === "tool");
  const methodRules = compiled.filter((r) => r.kind === "method");
  // One message's charges (one call of each limit), made once per name: the common body allocates nothing.
  const memo = new Map<string, readonly Charge[]>();
  const lookup = (key: string, compute: () => readonly RateLimit[]) => {
    let hit = memo.get(key);
    if (hit === undefined) {
      const limits = compute();
      hit = limits.length === 0 ? NONE : Object.freeze(limits.map((limit) => Object.freeze({ limit, cost: 1 })));
      if (memo.size >= MAX_REMEMBERED) memo.clear();
      memo.set(key, hit);
    }
    return hit;
  };
  const forMethod = (method: string) => limitsOf(methodRules, method);
  const chargesFor = (message: McpMessage): readonly Charge[] => {
    if (message.kind === "response") return NONE;
    if (message.method !== "tools/call") return lookup(`method:${message.method}`, () => forMethod(message.method));
    const name = message.name;
    if (name === undefined) return lookup("tool?", () => [...forMethod("tools/call"), ...toolRules.flatMap((r) => r.limits)]);
    return lookup(`tool:${name}`, () => [...forMethod("tools/call"), ...limitsOf(toolRules, name)]);
  };
  const unread = Object.freeze(all.map((limit) => ({ limit, cost: 1 })));

  return {
    limits: all,
    charges(messages) {
      if (all.length === 0) return NONE;
      if (messages === null) return unread;
      if (messages.length === 1) return chargesFor(messages[0]!);
      const costs = new Map<RateLimit, number>();
      for (const message of messages) for (const { limit } of chargesFor(message)) costs.set(limit, (costs.get(limit) ?? 0) + 1);
      return costs.size === 0 ? NONE : [...costs].map(([limit, cost]) => ({ limit, cost }));
    },
  };
}

function compileRule(rule: McpRateLimitRule, owner: string): CompiledRule {
  const kind = rule.tool !== undefined ? "tool" : "method";
  const pattern = (kind === "tool" ? rule.tool : rule.method) ?? "";
  const subject = pattern.includes("*") ? `the ${kind}s matching ${JSON.stringify(pattern)}` : `the ${kind} ${JSON.stringify(pattern)}`;
  const limits: RateLimit[] = [];
  for (const window of RATE_WINDOWS) {
    const limit = rule[window.field];
    if (typeof limit !== "number" || !(limit >= 1)) continue;
    const id = `${kind}\n${pattern}\n${window.name}`;
    limits.push(Object.freeze({ id, key: `${owner}\n${id}`, subject, limit: Math.floor(limit), windowMs: window.ms, windowName: window.name }));
  }
  return { kind, matches: globMatcher(pattern), limits };
}

function limitsOf(rules: readonly CompiledRule[], name: string): RateLimit[] {
  const found: RateLimit[] = [];
  for (const rule of rules) if (rule.matches(name)) found.push(...rule.limits);
  return found;
}
