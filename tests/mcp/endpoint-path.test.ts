/** Which paths reach an MCP endpoint: no spelling a backend accepts leaves the policy behind. */
import { expect, test } from "bun:test";
import { endpointPathMatcher } from "../../src/mcp/endpoint-path";

const mcp = endpointPathMatcher("/mcp");

test.each([
  ["/mcp", true],
  ["/mcp/", true],
  ["/MCP", true],
  ["//mcp", true],
  ["/%6Dcp", true],
  ["/%6dcp", true],
  ["/x/%2e%2e/mcp", true],
  ["/x/..%2Fmcp", true],
  ["/mcp;jsessionid=1", true],
  ["\\mcp", true],
  ["/mcp/messages", true],
  ["/mcpx", false],
  ["/other", false],
  ["/", false],
  ["/.well-known/oauth-protected-resource/mcp", false],
])("/mcp matches %s: %p", (path, matches) => {
  expect(mcp(path)).toBe(matches);
});

test("a server at the root gets every path but the well-known documents", () => {
  const root = endpointPathMatcher("");
  expect(root("/")).toBe(true);
  expect(root("/anything")).toBe(true);
  expect(root("/.well-known/oauth-protected-resource")).toBe(false);
});
