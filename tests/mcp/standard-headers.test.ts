/** SEP-2243 header checks: Mcp-Method and Mcp-Name held to the body for 2026-07-28 clients. */
import { describe, expect, test } from "bun:test";
import { readJsonRpcBody, type McpMessage } from "../../src/mcp/json-rpc-body";
import { decodeHeaderValue, headerMismatch, type StandardHeaders } from "../../src/mcp/standard-headers";

const MODERN = "2026-07-28";
const message = (body: object): McpMessage => {
  const reading = readJsonRpcBody(JSON.stringify({ jsonrpc: "2.0", ...body }), false);
  if (!reading.ok) throw new Error(reading.reason);
  return reading.messages[0]!;
};
const headers = (method: string | null, name: string | null = null, protocolVersion: string | null = MODERN): StandardHeaders => ({ protocolVersion, method, name });
const b64 = (text: string) => `=?base64?${Buffer.from(text, "utf8").toString("base64")}?=`;

const call = message({ id: 1, method: "tools/call", params: { name: "search" } });
const read = message({ id: 2, method: "resources/read", params: { uri: "file:///etc/hosts" } });
const list = message({ id: 3, method: "tools/list" });
const note = message({ method: "notifications/initialized" });
const reply = message({ id: 4, result: {} });
const enveloped = message({ id: 5, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": MODERN } } });

describe("agreeing headers pass", () => {
  test.each([
    ["tools/call with both", headers("tools/call", "search"), call],
    ["resources/read mirrors the uri", headers("resources/read", "file:///etc/hosts"), read],
    ["a name in the Base64 form", headers("tools/call", b64("search")), call],
    ["tools/list needs no Mcp-Name", headers("tools/list"), list],
    ["a notification need not carry Mcp-Method", headers(null), note],
    ["a response to the server has no method", headers(null), reply],
    ["an envelope naming the header's revision", headers("tools/list"), enveloped],
  ])("%s", (_, h, m) => {
    expect(headerMismatch(h, m)).toBeNull();
  });
});

describe("disagreeing or missing headers are refused", () => {
  test.each([
    ["Mcp-Method names another method (the lying-header attack)", headers("tools/list"), call, /Mcp-Method names "tools\/list" but the body's method is "tools\/call"/],
    ["Mcp-Method absent on a request", headers(null), list, /required Mcp-Method header is absent/],
    ["Mcp-Name names another tool", headers("tools/call", "public_tool"), call, /Mcp-Name names "public_tool" but the body's params.name is "search"/],
    ["Mcp-Name absent on tools/call", headers("tools/call"), call, /required Mcp-Name header is absent/],
    ["Mcp-Name in Base64 of another name", headers("tools/call", b64("other")), call, /Mcp-Name names "other"/],
    ["an invalid Base64 value", headers("tools/call", "=?base64?!!!?="), call, /invalid/],
    ["non-canonical Base64", headers("tools/call", "=?base64?c2VhcmNo?=x"), call, /Mcp-Name names/],
    ["a notification whose Mcp-Method lies", headers("tools/call"), note, /Mcp-Method names/],
    ["an envelope naming another revision", headers("tools/list", null, "2026-12-01"), enveloped, /envelope names protocol version "2026-07-28"/],
    ["two Mcp-Method lines, joined by the parser", headers("tools/list, tools/call"), call, /Mcp-Method names/],
  ])("%s", (_, h, m, reason) => {
    expect(headerMismatch(h, m)).toMatch(reason);
  });
});

describe("=?base64?…?= values", () => {
  test.each([
    ["search", "search"],
    [b64("héllo wörld"), "héllo wörld"],
    [b64(" padded "), " padded "],
    ["=?base64??=", ""],
    ["=?base64?aGk?=", undefined],
    ["=?base64?/w==?=", undefined],
  ])("%s", (value, decoded) => {
    expect(decodeHeaderValue(value)).toBe(decoded);
  });
});
