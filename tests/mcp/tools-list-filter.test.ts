/**
 * tools/list answers rewritten to the tools a token may call: JSON bodies and
 * event streams (split at any byte), and everything else kept byte for byte.
 */
import { describe, expect, test } from "bun:test";
import { eventData, rewriteEventStream, withEventData } from "../../src/mcp/sse-events";
import { filterToolsList, MAX_REWRITE_BYTES, rewriteJson, type ToolsListAnswer } from "../../src/mcp/tools-list-filter";

const answer: ToolsListAnswer = { ids: new Set([7]), mayCall: (tool) => tool !== "secret" };
const tools = [{ name: "add", inputSchema: {} }, { name: "secret", inputSchema: {} }, { name: "whoami" }];
const listResult = (id: number) => ({ jsonrpc: "2.0", id, result: { tools } });

/** A stream delivering `bytes` in pieces of `size` bytes. */
function pieces(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

describe("JSON", () => {
  test("the awaited result loses the tools the token may not call", () => {
    const out = JSON.parse(rewriteJson(JSON.stringify(listResult(7)), answer)!);
    expect(out.result.tools.map((t: { name: string }) => t.name)).toEqual(["add", "whoami"]);
  });

  test("another id, an error, or nothing to remove: unchanged (null)", () => {
    expect(rewriteJson(JSON.stringify(listResult(8)), answer)).toBeNull();
    expect(rewriteJson(JSON.stringify({ jsonrpc: "2.0", id: 7, error: { code: 1, message: "x" } }), answer)).toBeNull();
    expect(rewriteJson(JSON.stringify({ jsonrpc: "2.0", id: 7, result: { tools: [{ name: "add" }] } }), answer)).toBeNull();
    expect(rewriteJson("not json", answer)).toBeNull();
  });

  test("a batch answer is filtered element by element", () => {
    const out = JSON.parse(rewriteJson(JSON.stringify([listResult(8), listResult(7)]), answer)!);
    expect(out[0].result.tools).toHaveLength(3);
    expect(out[1].result.tools).toHaveLength(2);
  });

  test("a JSON response is rewritten and loses its Content-Length; others keep their bytes", async () => {
    const body = JSON.stringify(listResult(7));
    const filtered = await filterToolsList(new Response(body, { headers: { "content-type": "application/json; charset=utf-8", "content-length": String(body.length) } }), answer);
    expect(filtered.headers.get("content-length")).toBeNull();
    expect(((await filtered.json()) as any).result.tools).toHaveLength(2);
    const untouched = JSON.stringify(listResult(8)).replace(",", " ,");
    expect(await (await filterToolsList(new Response(untouched, { headers: { "content-type": "application/json" } }), answer)).text()).toBe(untouched);
    const error = new Response(body, { status: 500, headers: { "content-type": "application/json" } });
    expect(await filterToolsList(error, answer)).toBe(error);
  });

  test("a body past the bound passes as it came", async () => {
    const big = JSON.stringify({ ...listResult(7), padding: "x".repeat(MAX_REWRITE_BYTES) });
    const out = await filterToolsList(new Response(pieces(new TextEncoder().encode(big), 65_536), { headers: { "content-type": "application/json" } }), answer);
    expect(await out.text()).toBe(big);
  });
});

describe("event streams", () => {
  const stream = (events: string) => new TextEncoder().encode(events);

  test.each([1, 3, 17, 4096])("split every %d bytes: only the awaited event changes, the rest keeps its bytes", async (size) => {
    const before = ": keep-alive\r\n\r\nevent: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n";
    const target = `event: message\r\nid: 2\r\ndata: ${JSON.stringify(listResult(7))}\r\n\r\n`;
    const after = "data: {\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{\"tools\":[{\"name\":\"secret\"}]}}\r\rdata: tail-without-end";
    const out = await new Response(rewriteEventStream(pieces(stream(before + target + after), size), (e) => rewriteTarget(e), 1 << 20)).text();
    expect(out.startsWith(before)).toBe(true);
    expect(out.endsWith(after)).toBe(true);
    const middle = out.slice(before.length, out.length - after.length);
    expect(middle).toStartWith("event: message\nid: 2\ndata: ");
    expect(JSON.parse(eventData(middle)!).result.tools.map((t: { name: string }) => t.name)).toEqual(["add", "whoami"]);
  });

  test("data split over several lines is joined before it is read", () => {
    expect(eventData('data: {"a":\ndata: 1}\n')).toBe('{"a":\n1}');
    expect(eventData("data\n")).toBe("");
    expect(eventData("event: x\n")).toBeNull();
  });

  test("an event past the bound passes through, and so does the rest of the stream", async () => {
    const long = `data: ${JSON.stringify({ ...listResult(7), padding: "y".repeat(5000) })}\n\n`;
    const next = `data: ${JSON.stringify(listResult(7))}\n\n`;
    const out = await new Response(rewriteEventStream(pieces(stream(long + next), 1000), (e) => rewriteTarget(e), 2048)).text();
    expect(out).toBe(long + next);
  });

  test("a text/event-stream response is rewritten through filterToolsList", async () => {
    const body = `event: message\ndata: ${JSON.stringify(listResult(7))}\n\n`;
    const out = await filterToolsList(new Response(body, { headers: { "content-type": "text/event-stream" } }), answer);
    expect(JSON.parse(eventData(await out.text())!).result.tools).toHaveLength(2);
  });
});

function rewriteTarget(event: string): string | null {
  const data = eventData(event);
  const rewritten = data === null ? null : rewriteJson(data, answer);
  return rewritten === null ? null : withEventData(event, rewritten);
}
