/** The JSON-RPC body reader of the MCP edge: kinds, names, refusals, batches, duplicate members. */
import { describe, expect, test } from "bun:test";
import { hasDuplicateMember, watchedMembers } from "../../src/mcp/duplicate-members";
import { INVALID_REQUEST, PARSE_ERROR, readJsonRpcBody } from "../../src/mcp/json-rpc-body";
import { allowsBatches, definesStandardHeaders } from "../../src/mcp/protocol-version";

const one = (body: unknown, allowBatch = false) => {
  const reading = readJsonRpcBody(typeof body === "string" ? body : JSON.stringify(body), allowBatch);
  if (!reading.ok) throw new Error(`refused: ${reading.reason}`);
  return reading.messages;
};

describe("messages", () => {
  test.each([
    [{ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "search", arguments: { q: "x" } } }, { kind: "request", method: "tools/call", id: 1, nameField: "name", name: "search" }],
    [{ jsonrpc: "2.0", id: "a", method: "prompts/get", params: { name: "greet" } }, { kind: "request", method: "prompts/get", id: "a", nameField: "name", name: "greet" }],
    [{ jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri: "file:///a" } }, { kind: "request", method: "resources/read", nameField: "uri", name: "file:///a" }],
    [{ jsonrpc: "2.0", id: 3, method: "tasks/get", params: { taskId: "t1" } }, { nameField: "taskId", name: "t1" }],
    [{ jsonrpc: "2.0", id: 4, method: "tools/list" }, { kind: "request", method: "tools/list", nameField: null, name: undefined }],
    [{ jsonrpc: "2.0", method: "notifications/initialized" }, { kind: "notification", id: null, method: "notifications/initialized" }],
    [{ jsonrpc: "2.0", id: 5, result: {} }, { kind: "response", method: "" }],
    [{ jsonrpc: "2.0", id: 6, error: { code: 1, message: "x" } }, { kind: "response" }],
    // A name that is not a string is no name; the method still decides.
    [{ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: 42 } }, { method: "tools/call", name: undefined }],
    [{ jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "x", _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } } }, { envelopeVersion: "2026-07-28" }],
    // Names of the Object prototype are ordinary methods.
    [{ jsonrpc: "2.0", id: 9, method: "constructor" }, { method: "constructor", nameField: null }],
  ])("%j", (body, expected) => {
    expect(one(body)[0]).toMatchObject(expected);
  });
});

describe("refusals", () => {
  test.each([
    ["not json", PARSE_ERROR],
    ['{"id":1,"method":"tools/call"', PARSE_ERROR],
    ["42", INVALID_REQUEST],
    ["null", INVALID_REQUEST],
    ['{"id":1,"method":7}', INVALID_REQUEST],
    ['{"id":{},"method":"tools/list"}', INVALID_REQUEST],
    ['{"id":1,"method":"tools/call","params":"x"}', INVALID_REQUEST],
    ['{"id":1}', INVALID_REQUEST],
    ['{"result":{}}', INVALID_REQUEST],
  ])("%s → %d", (body, code) => {
    const reading = readJsonRpcBody(body, true);
    expect(reading.ok).toBe(false);
    if (!reading.ok) expect(reading.code).toBe(code);
  });

  test("a refused single message keeps its id for the answer", () => {
    const reading = readJsonRpcBody('{"id":12,"method":"tools/call","method":"tools/list"}', false);
    expect(reading).toMatchObject({ ok: false, code: INVALID_REQUEST, id: 12 });
  });
});

describe("duplicate members: read one way here and another way by a first-wins backend", () => {
  const DECIDING = watchedMembers(["method", "params", "id", "name"]);
  test.each([
    ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin"},"method":"tools/list"}', true],
    ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin","name":"public"}}', true],
    // An escaped spelling names the same member.
    ['{"jsonrpc":"2.0","id":1,"\\u006dethod":"tools/call","method":"tools/list"}', true],
    ['[{"id":1,"method":"a"},{"id":2,"method":"b","method":"c"}]', true],
    // Equal names in different objects, a quoted brace in a string, or a repeated member no decision reads are fine.
    ['{"id":1,"method":"tools/call","params":{"name":"x","arguments":{"query":"y","method":"z"}}}', false],
    ['{"id":1,"method":"tools/call","params":{"name":"a\\"b{\\"method\\":1}"}}', false],
    ['{"id":1,"method":"tools/call","params":{"name":"x","arguments":{"q":1,"q":2}}}', false],
  ])("%s", (body, duplicate) => {
    expect(hasDuplicateMember(body, DECIDING, 4)).toBe(duplicate);
    expect(readJsonRpcBody(body, true).ok).toBe(!duplicate);
  });

  test("a repeated name in the client's own info (params._meta, one level down) is no concern", () => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x", _meta: { "io.modelcontextprotocol/clientInfo": { name: "a" } } } }).replace('"name":"a"', '"name":"a","name":"b"');
    expect(readJsonRpcBody(body, false).ok).toBe(true);
  });

  test("members nested deeper than the decision reads are not looked at", () => {
    const deep = '{"id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":{"b":{"name":1,"name":2}}}}}';
    expect(hasDuplicateMember(deep, DECIDING, 4)).toBe(false);
    expect(hasDuplicateMember(deep, DECIDING, 5)).toBe(true);
  });
});

describe("batches and protocol revisions", () => {
  const batch = [
    { jsonrpc: "2.0", id: 1, method: "tools/list" },
    { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "search" } },
  ];

  test("a batch is read element by element when the revision allows it", () => {
    expect(one(batch, true).map((m) => m.method)).toEqual(["tools/list", "tools/call"]);
  });

  test("a batch is refused for revisions without batches, and when empty or with a bad element", () => {
    expect(readJsonRpcBody(JSON.stringify(batch), false)).toMatchObject({ ok: false, code: INVALID_REQUEST });
    expect(readJsonRpcBody("[]", true)).toMatchObject({ ok: false, code: INVALID_REQUEST });
    expect(readJsonRpcBody('[{"id":1,"method":"a"},7]', true)).toMatchObject({ ok: false, code: INVALID_REQUEST });
  });

  test.each([
    [null, true, false],
    ["2024-11-05", true, false],
    ["2025-03-26", true, false],
    ["2025-06-18", false, false],
    ["2025-11-25", false, false],
    ["2026-07-28", false, true],
    ["2027-01-01", false, true],
    // Not a revision date: old rules, and no trust in the headers.
    ["DRAFT-2026-v1", false, false],
    ["2026-07-28x", false, false],
  ])("MCP-Protocol-Version %p: batches %p, standard headers %p", (version, batches, headers) => {
    expect(allowsBatches(version)).toBe(batches);
    expect(definesStandardHeaders(version)).toBe(headers);
  });
});
