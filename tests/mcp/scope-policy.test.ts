/** The per-tool and per-method scope policy, as pure functions. */
import { describe, expect, test } from "bun:test";
import { readJsonRpcBody, type McpMessage } from "../../src/mcp/json-rpc-body";
import { compileScopePolicy, globMatcher, hasScopes } from "../../src/mcp/scope-policy";

const message = (body: object): McpMessage => {
  const reading = readJsonRpcBody(JSON.stringify({ jsonrpc: "2.0", ...body }), false);
  if (!reading.ok) throw new Error(reading.reason);
  return reading.messages[0]!;
};
const tool = (name?: string) => message({ id: 1, method: "tools/call", params: name === undefined ? {} : { name } });
const method = (name: string) => message({ id: 1, method: name });

const policy = compileScopePolicy(
  { search: ["mcp:read"], "delete_*": ["files:write"], "*": ["mcp:use"], "admin/*": ["mcp:admin", "mcp:write"] },
  { "resources/read": ["files:read"], "prompts/*": ["prompts:use"], "tools/call": ["mcp:tools"] },
);

describe("what an operation needs", () => {
  test.each([
    ["tools/call search: its entry, every-tool glob, tools/call method", tool("search"), ["mcp:read", "mcp:tools", "mcp:use"]],
    ["tools/call delete_file: the glob adds up with *", tool("delete_file"), ["files:write", "mcp:tools", "mcp:use"]],
    ["a glob matches across /", tool("admin/users/drop"), ["mcp:admin", "mcp:tools", "mcp:use", "mcp:write"]],
    ["a tools/call without a name needs every tool scope", tool(), ["files:write", "mcp:admin", "mcp:read", "mcp:tools", "mcp:use", "mcp:write"]],
    ["resources/read", method("resources/read"), ["files:read"]],
    ["prompts/get through prompts/*", message({ id: 1, method: "prompts/get", params: { name: "x" } }), ["prompts:use"]],
    ["tools/list needs nothing", method("tools/list"), []],
    ["a response to the server needs nothing", message({ id: 1, result: {} }), []],
  ])("%s", (_, m, needs) => {
    expect([...policy.needs(m)]).toEqual(needs);
  });

  test("an unread body needs every scope the policy names", () => {
    expect([...policy.allScopes]).toEqual(["files:read", "files:write", "mcp:admin", "mcp:read", "mcp:tools", "mcp:use", "mcp:write", "prompts:use"]);
  });

  test("glob characters other than * are literal", () => {
    expect(globMatcher("a.b")("aXb")).toBe(false);
    expect(globMatcher("a+(b)")("a+(b)")).toBe(true);
    expect(globMatcher("x*y")("x/anything/y")).toBe(true);
    expect(globMatcher("x*y")("x/anything/y/z")).toBe(false);
  });
});

describe("who may call a tool", () => {
  test.each([
    ["mcp:read mcp:tools mcp:use", "search", true],
    ["mcp:tools mcp:use", "search", false],
    ["mcp:read mcp:use", "search", false],
    ["mcp:tools mcp:use files:write", "delete_file", true],
    // Scope strings are matched as whole tokens.
    ["mcp:tools mcp:use files:writer", "delete_file", false],
    ["mcp:tools mcp:use", "other", true],
  ])("%s → %s: %p", (scope, name, allowed) => {
    expect(policy.mayCallTool(name, scope)).toBe(allowed);
  });

  test("hasScopes wants every scope, as whole tokens", () => {
    expect(hasScopes("a c", ["a", "c"])).toBe(true);
    expect(hasScopes("a c", ["a", "b"])).toBe(false);
    expect(hasScopes("ab c", ["a"])).toBe(false);
    expect(hasScopes("", [])).toBe(true);
  });

  test("an empty policy needs nothing", () => {
    const none = compileScopePolicy(null, {});
    expect(none.empty).toBe(true);
    expect([...none.needs(tool("x"))]).toEqual([]);
    expect(none.mayCallTool("x", "")).toBe(true);
  });
});
