/** Which rate limits a JSON-RPC body charges, and who is counted: pure functions. */
import { describe, expect, test } from "bun:test";
import type { AccessTokenClaims } from "../../src/auth/tokens/access-token";
import { readJsonRpcBody, type McpMessage } from "../../src/mcp/json-rpc-body";
import { addressBlock, callerKey, reportedClientIp } from "../../src/mcp/rate-limit/caller-key";
import { compileRateLimits } from "../../src/mcp/rate-limit/rate-rules";

const body = (value: unknown): McpMessage[] => {
  const reading = readJsonRpcBody(JSON.stringify(value), true);
  if (!reading.ok) throw new Error(reading.reason);
  return [...reading.messages];
};
const call = (name?: string, id = 1) => ({ jsonrpc: "2.0", id, method: "tools/call", params: name === undefined ? {} : { name, arguments: {} } });
const request = (method: string, id = 1) => ({ jsonrpc: "2.0", id, method });

const policy = compileRateLimits([
  { tool: "search", per_minute: 60, per_hour: 1000 },
  { tool: "delete_*", per_second: 2 },
  { method: "resources/read", per_minute: 10 },
  { method: "tools/call", per_hour: 5000 },
  { method: "prompts/*", per_minute: 30 },
]);

/** The body's charges as "kind pattern window×cost". */
const charged = (messages: McpMessage[] | null) =>
  policy
    .charges(messages)
    .map(({ limit, cost }) => `${limit.id.replaceAll("\n", " ")} ${limit.limit}×${cost}`)
    .sort();

describe("what a body is charged with", () => {
  test.each<[string, McpMessage[] | null, string[]]>([
    ["a tools/call: its tool's rates and the tools/call method's", body(call("search")), ["method tools/call hour 5000×1", "tool search hour 1000×1", "tool search minute 60×1"]],
    ["a glob rule counts every tool it matches", body(call("delete_file")), ["method tools/call hour 5000×1", "tool delete_* second 2×1"]],
    ["a tool no rule names: only the method's", body(call("add")), ["method tools/call hour 5000×1"]],
    [
      "a tools/call without a name counts against every tool rule",
      body(call()),
      ["method tools/call hour 5000×1", "tool delete_* second 2×1", "tool search hour 1000×1", "tool search minute 60×1"],
    ],
    ["a method rule", body(request("resources/read")), ["method resources/read minute 10×1"]],
    ["a method glob", body({ jsonrpc: "2.0", id: 1, method: "prompts/get", params: { name: "p" } }), ["method prompts/* minute 30×1"]],
    ["a method no rule names", body(request("tools/list")), []],
    ["a notification of a limited method counts too", body({ jsonrpc: "2.0", method: "resources/read" }), ["method resources/read minute 10×1"]],
    ["a response to the server counts nothing", body({ jsonrpc: "2.0", id: 1, result: {} }), []],
    [
      "a batch counts each call",
      body([call("search", 1), call("search", 2), call("delete_a", 3), request("tools/list", 4)]),
      ["method tools/call hour 5000×3", "tool delete_* second 2×1", "tool search hour 1000×2", "tool search minute 60×2"],
    ],
    [
      "a body the edge did not read counts once against every rule",
      null,
      [
        "method prompts/* minute 30×1",
        "method resources/read minute 10×1",
        "method tools/call hour 5000×1",
        "tool delete_* second 2×1",
        "tool search hour 1000×1",
        "tool search minute 60×1",
      ],
    ],
  ])("%s", (_, messages, expected) => {
    expect(charged(messages)).toEqual(expected);
  });

  test("limits are named by kind, pattern and window, not the rate: a new rate keeps the calls already counted", () => {
    const before = compileRateLimits([{ tool: "search", per_minute: 60 }]).limits[0]!;
    const after = compileRateLimits([{ tool: "search", per_minute: 10 }]).limits[0]!;
    expect(after.id).toBe(before.id);
    expect(after.limit).toBe(10);
    expect(compileRateLimits([{ method: "search", per_minute: 60 }]).limits[0]!.id).not.toBe(before.id);
  });

  test("limits are owned: the same rule on two proxies never names the same counters", () => {
    const a = compileRateLimits([{ tool: "search", per_minute: 60 }], "a.example.com").limits[0]!;
    const b = compileRateLimits([{ tool: "search", per_minute: 60 }], "b.example.com").limits[0]!;
    expect(a.id).toBe(b.id);
    expect(a.key).not.toBe(b.key);
  });

  test("a message's charges are made once per name: the common body allocates nothing", () => {
    expect(policy.charges(body(call("search")))).toBe(policy.charges(body(call("search"))));
  });

  test("no rules: nothing is charged", () => {
    expect(compileRateLimits(null).charges(body(call("search")))).toEqual([]);
    expect(compileRateLimits([]).charges(null)).toEqual([]);
  });

  test("a refusal names what the limit counts", () => {
    expect(policy.limits.map((l) => l.subject)).toEqual([
      'the tool "search"',
      'the tool "search"',
      'the tools matching "delete_*"',
      'the method "resources/read"',
      'the method "tools/call"',
      'the methods matching "prompts/*"',
    ]);
  });
});

describe("who is counted", () => {
  const token = (sub: string, client_id: string) => ({ sub, client_id }) as AccessTokenClaims;

  test.each<[string, AccessTokenClaims | null, string, string]>([
    ["a token: its user and client, whatever the address", token("github:1", "client-a"), "10.0.0.1", "user\ngithub:1\nclient-a"],
    ["the same user with another client is another caller", token("github:1", "client-b"), "10.0.0.1", "user\ngithub:1\nclient-b"],
    ["no token: the address", null, "10.0.0.1", "address\n10.0.0.1"],
    ["an IPv4-mapped address is the IPv4 one", null, "::ffff:10.0.0.1", "address\n10.0.0.1"],
    ["IPv6: the /64", null, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "address\n2001:db8:1:2::/64"],
    ["IPv6, compressed", null, "2001:db8::1", "address\n2001:db8:0:0::/64"],
    ["IPv6 loopback", null, "::1", "address\n0:0:0:0::/64"],
    ["IPv6 with leading zeros and a zone", null, "fe80:0000:0000:0000:0001::9%eth0", "address\nfe80:0:0:0::/64"],
  ])("%s", (_, identity, ip, key) => {
    expect(callerKey(identity, ip)).toBe(key);
  });

  test("a user's key cannot be forged from an address, nor the reverse", () => {
    expect(callerKey(null, "github:1\nclient-a")).not.toBe(callerKey(token("github:1", "client-a"), ""));
  });

  test("text that is not an address is kept as it is", () => {
    expect(addressBlock("not:an:address:at:all:x:y:z:w")).toBe("not:an:address:at:all:x:y:z:w");
    expect(addressBlock("")).toBe("");
  });

  test("behind a trusted proxy: X-Real-IP, else the first X-Forwarded-For hop, else the proxy", () => {
    expect(reportedClientIp(new Headers({ "x-real-ip": " 203.0.113.9 ", "x-forwarded-for": "198.51.100.1" }), "10.0.0.1")).toBe("203.0.113.9");
    expect(reportedClientIp(new Headers({ "x-forwarded-for": "198.51.100.1, 10.0.0.2" }), "10.0.0.1")).toBe("198.51.100.1");
    expect(reportedClientIp(new Headers(), "10.0.0.1")).toBe("10.0.0.1");
  });
});
