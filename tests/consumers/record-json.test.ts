/** The writer's hand-written JSON is the record, exactly, whatever its strings hold. */
import { expect, test } from "bun:test";
import { recordJson } from "../../src/consumers/request-log/record-json";
import type { RequestRecord } from "../../src/consumers/request-log/record";

const base: RequestRecord = {
  ts: 1_765_000_000_123,
  node: "node-a",
  ip: "2001:db8::1",
  method: "POST",
  host: "app.example.test",
  path: "/mcp",
  status: 200,
  bytes_in: 120,
  bytes_out: 4096,
  duration_ms: 1.5,
  kind: "proxy",
  auth: "ok",
  request_id: "abc-1",
};

test("every field, present or absent, round-trips through JSON.parse", () => {
  const full: RequestRecord = {
    ...base,
    query: "page=2&code=[redacted]",
    upstream_ms: 0.75,
    backend: "http://127.0.0.1:8000",
    proxy: "*.example.test",
    route: "api-v1",
    user: "octocat",
    client_id: "client-1",
    trace_id: "0af7651916cd43dd8448eb211c80319c",
    mcp_method: "tools/call",
    mcp_tool: "search",
    error: "request_timeout",
  };
  for (const record of [base, full]) expect(JSON.parse(recordJson(record))).toEqual(JSON.parse(JSON.stringify(record)));
});

test("strings a client chose are escaped: quotes, backslashes, control and non-ASCII characters", () => {
  const hostile: RequestRecord = { ...base, path: '/a"b\\c', user: 'o"k\n\u0000\u2028é', request_id: 'x\\"y', route: "\u007f", mcp_tool: "😀" };
  expect(JSON.parse(recordJson(hostile))).toEqual(hostile);
});

test("durations keep microseconds, not float noise", () => {
  expect(JSON.parse(recordJson({ ...base, duration_ms: 0.41234567, upstream_ms: 0.1 + 0.2 }))).toMatchObject({ duration_ms: 0.412, upstream_ms: 0.3 });
});
