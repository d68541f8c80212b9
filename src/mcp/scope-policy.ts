/**
 * Per-tool and per-method authorization of an MCP proxy, compiled once from
 * `mcp_tool_scopes` (tool name or glob → scopes a tools/call needs) and
 * `mcp_method_scopes` (JSON-RPC method or glob → scopes, e.g. resources/read,
 * prompts/*). Pure apart from a bounded memo.
 *
 * Rules:
 * - `*` in a pattern matches any run of characters, `/` included; everything
 *   else is literal.
 * - Every matching entry applies, and their scopes add up: `{"*": [a],
 *   "delete_*": [b]}` makes delete_file need a and b. A "tools/call" method
 *   entry applies to every tool.
 * - A tools/call without a string name needs every tool scope: the edge
 *   cannot tell which tool it would reach.
 * - What the proxy's auth already requires (auth_allowed_scopes) is checked
 *   before this and is not repeated here.
 */
import { hasScope } from "../auth/edge/authenticate";
import type { McpMessage } from "./json-rpc-body";

export type ScopeMap = Readonly<Record<string, readonly string[]>> | null;

export interface McpScopePolicy {
  /** No operation needs a scope: nothing to check, nothing to filter. */
  readonly empty: boolean;
  /** Every scope the policy names: what a body the edge could not read needs, so that no call hides in one. */
  readonly allScopes: readonly string[];
  /** The scopes a message needs, sorted, without repeats. */
  needs(message: McpMessage): readonly string[];
  /** Whether a token with this scope string may call the tool. */
  mayCallTool(name: string, scope: string): boolean;
}

interface Rule {
  readonly matches: (name: string) => boolean;
  readonly scopes: readonly string[];
}

const NONE: readonly string[] = Object.freeze([]);
/** Names are the client's choice: the memo starts over when full. */
const MAX_REMEMBERED = 1024;

export function compileScopePolicy(toolScopes: ScopeMap, methodScopes: ScopeMap): McpScopePolicy {
  const tools = rulesOf(toolScopes);
  const methods = rulesOf(methodScopes);
  const allTools = union(tools.map((r) => r.scopes));
  const allScopes = union([allTools, ...methods.map((r) => r.scopes)]);
  const memo = new Map<string, readonly string[]>();

  const lookup = (key: string, compute: () => readonly string[]) => {
    let hit = memo.get(key);
    if (hit === undefined) {
      hit = compute();
      if (memo.size >= MAX_REMEMBERED) memo.clear();
      memo.set(key, hit);
    }
    return hit;
  };
  const toolNeeds = (name: string | undefined) => lookup(name === undefined ? "tool?" : `tool:${name}`, () => union([scopesFor(methods, "tools/call"), name === undefined ? allTools : scopesFor(tools, name)]));

  return {
    empty: allScopes.length === 0,
    allScopes,
    needs(message) {
      if (message.kind === "response") return NONE;
      if (message.method === "tools/call") return toolNeeds(message.name);
      return lookup(`method:${message.method}`, () => scopesFor(methods, message.method));
    },
    mayCallTool(name, scope) {
      return hasScopes(scope, toolNeeds(name));
    },
  };
}

/** Whether the space-separated `scope` holds every one of `needed`. */
export function hasScopes(scope: string, needed: readonly string[]): boolean {
  for (let i = 0; i < needed.length; i++) if (!hasScope(scope, needed[i]!)) return false;
  return true;
}

/** Sorted union without repeats. */
export function union(lists: readonly (readonly string[])[]): readonly string[] {
  const all = new Set<string>();
  for (const list of lists) for (const s of list) all.add(s);
  return all.size === 0 ? NONE : Object.freeze([...all].sort());
}

function scopesFor(rules: readonly Rule[], name: string): readonly string[] {
  const lists: (readonly string[])[] = [];
  for (const rule of rules) if (rule.matches(name)) lists.push(rule.scopes);
  return union(lists);
}

function rulesOf(map: ScopeMap): Rule[] {
  return Object.entries(map ?? {}).map(([pattern, scopes]) => ({ matches: globMatcher(pattern), scopes }));
}

/** `*` matches any run of characters; the rest is literal. */
export function globMatcher(pattern: string): (name: string) => boolean {
  if (!pattern.includes("*")) return (name) => name === pattern;
  if (pattern === "*") return () => true;
  const regex = new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`, "s");
  return (name) => regex.test(name);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
