/**
 * The record a finished draft hands to the sinks: facts the edge did not learn
 * are absent (not present with the value undefined, which JSON.stringify
 * would skip at a cost), the rest appear in RequestRecord's order, so the
 * stored and printed JSON reads the same whichever facts a request had.
 */
import { expect, test } from "bun:test";
import type { RequestRecord } from "../../src/consumers/request-log/record";
import { RecordDraft } from "../../src/dispatcher/recording";

const ORDER = [
  "ts", "node", "ip", "method", "host", "path", "query", "status", "bytes_in", "bytes_out", "duration_ms", "upstream_ms",
  "backend", "proxy", "route", "kind", "auth", "user", "client_id", "request_id", "trace_id", "mcp_method", "mcp_tool", "error",
];

function capture() {
  const records: RequestRecord[] = [];
  const sinks = { node: "node-1", log: { record: (r: RequestRecord) => void records.push(r) } };
  const draft = (path = "/") => new RecordDraft(sinks, "192.0.2.7", "GET", "app.example.test", path, "req-1", "0af7651916cd43dd8448eb211c80319c");
  return { records, draft };
}

test("a refusal before routing: only the facts the edge had, none of them undefined, in RequestRecord's order", () => {
  const { records, draft } = capture();
  draft().finish(404, 9, "unknown_host");
  const record = records[0]!;
  expect(Object.keys(record)).toEqual(["ts", "node", "ip", "method", "host", "path", "status", "bytes_in", "bytes_out", "duration_ms", "kind", "auth", "request_id", "trace_id", "error"]);
  expect(Object.values(record).includes(undefined)).toBe(false);
  expect(record).toMatchObject({ node: "node-1", ip: "192.0.2.7", status: 404, bytes_out: 9, kind: "gateway", auth: "none", error: "unknown_host" });
  expect(JSON.parse(JSON.stringify(record))).toEqual(record);
});

test("a proxied, authenticated MCP request: every fact, in RequestRecord's order", () => {
  const { records, draft } = capture();
  const d = draft("/mcp");
  d.kind = "proxy";
  d.proxy = "*.example.test";
  d.route = "r1";
  d.query = "code=[redacted]";
  d.backend = "http://127.0.0.1:8080";
  d.authenticated({ sub: "42", login: "octocat", client_id: "client-1" } as never);
  d.mcpMethod = "tools/call";
  d.mcpTool = "search";
  d.upstreamStartNs = Bun.nanoseconds();
  d.upstreamAnswered();
  d.finish(502, 0, "upstream_refused");
  d.finish(200, 1);
  expect(records).toHaveLength(1);
  const record = records[0]!;
  expect(Object.keys(record)).toEqual(ORDER);
  expect(record).toMatchObject({ query: "code=[redacted]", proxy: "*.example.test", route: "r1", auth: "ok", user: "octocat", client_id: "client-1", mcp_method: "tools/call", mcp_tool: "search", status: 502, error: "upstream_refused" });
  expect(typeof record.upstream_ms).toBe("number");
});
