/** Origin validation at an MCP endpoint (DNS-rebinding protection), as a pure function. */
import { describe, expect, test } from "bun:test";
import { compileOriginPolicy, normalizeOrigin } from "../../src/mcp/origin-policy";

describe("the proxy's own origins, by default", () => {
  const own = compileOriginPolicy(null);
  test.each([
    ["https://mcp.example.com", "mcp.example.com", true],
    ["http://mcp.example.com", "mcp.example.com", true],
    ["HTTPS://MCP.Example.COM", "mcp.example.com", true],
    ["https://mcp.example.com:8443", "mcp.example.com:8443", true],
    ["https://mcp.example.com", "mcp.example.com:8443", true],
    ["https://mcp.example.com:443", "mcp.example.com", true],
    ["https://mcp.example.com.", "mcp.example.com", true],
    // Another port of the same host is another origin (another service).
    ["https://mcp.example.com:9999", "mcp.example.com:8443", false],
    ["https://mcp.example.com:9999", "mcp.example.com", false],
    // DNS rebinding: the attacker's page keeps its own origin.
    ["http://evil.example", "mcp.example.com", false],
    ["https://mcp.example.com.evil.example", "mcp.example.com", false],
    ["null", "mcp.example.com", false],
    ["ftp://mcp.example.com", "mcp.example.com", false],
    ["https://mcp.example.com/path", "mcp.example.com", false],
    ["http://[::1]:3000", "[::1]:3000", true],
  ])("%s at %s: %p", (origin, host, allowed) => {
    expect(own.allows(origin, host)).toBe(allowed);
  });
});

describe("mcp_allowed_origins", () => {
  test("listed origins are allowed besides the proxy's own", () => {
    const policy = compileOriginPolicy(["http://localhost:6274", "vscode-webview://abc"]);
    expect(policy.allows("http://localhost:6274", "mcp.example.com")).toBe(true);
    expect(policy.allows("vscode-webview://abc", "mcp.example.com")).toBe(true);
    expect(policy.allows("http://localhost:6275", "mcp.example.com")).toBe(false);
    expect(policy.allows("https://mcp.example.com", "mcp.example.com")).toBe(true);
  });

  test('"null" and "*"', () => {
    expect(compileOriginPolicy(["null"]).allows("null", "h")).toBe(true);
    expect(compileOriginPolicy(["*"]).allows("http://anything.example", "h")).toBe(true);
  });

  test.each([
    ["HTTP://LocalHost:6274", "http://localhost:6274"],
    ["https://x.example:443", "https://x.example"],
    ["http://x.example:080", "http://x.example"],
    ["https://x.example/", null],
    ["https://user@x.example", null],
    ["x.example", null],
  ])("normalizeOrigin(%s) = %p", (value, normalized) => {
    expect(normalizeOrigin(value)).toBe(normalized);
  });
});
