/**
 * `mcp_filter_tools`: the backend's tools/list result, as this token sees
 * it — only the tools it may call. The backend answers with one JSON body or
 * an event stream carrying the result; both are rewritten, within bounds:
 * a JSON body or an event past MAX_REWRITE_BYTES passes as it came (the
 * calls themselves are refused all the same; the list is a courtesy).
 * Anything that is not the awaited result keeps its bytes.
 */
import { upstreamErrorResponse } from "../proxies/errors";
import type { JsonRpcId } from "./json-rpc-body";
import { eventData, rewriteEventStream, withEventData } from "./sse-events";

export const MAX_REWRITE_BYTES = 4 * 1024 * 1024;

export interface ToolsListAnswer {
  /** The ids of the tools/list requests the response answers. */
  readonly ids: ReadonlySet<JsonRpcId>;
  readonly mayCall: (tool: string) => boolean;
}

export function filterToolsList(response: Response, answer: ToolsListAnswer): Response | Promise<Response> {
  const body = response.body;
  if (body === null || response.status < 200 || response.status >= 300) return response;
  const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  if (type === "text/event-stream") {
    const rewritten = rewriteEventStream(body, (event) => rewriteEvent(event, answer), MAX_REWRITE_BYTES);
    return new Response(rewritten, { status: response.status, headers });
  }
  if (type !== "application/json") return response;
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > MAX_REWRITE_BYTES) return response;
  return readBounded(body, MAX_REWRITE_BYTES).then(
    (read) => {
      if (read.unread !== null) return new Response(read.unread, { status: response.status, headers });
      const bytes = Buffer.concat(read.chunks);
      return new Response(rewriteJson(bytes.toString("utf8"), answer) ?? bytes, { status: response.status, headers });
    },
    // The backend broke off its answer before the status could be taken back.
    () => upstreamErrorResponse("closed", "application/json"),
  );
}

/** The JSON text with the awaited results filtered, or null when nothing in it changes. */
export function rewriteJson(text: string, answer: ToolsListAnswer): string | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const changed = Array.isArray(value) ? value.map((v) => filterResult(v, answer)).some(Boolean) : filterResult(value, answer);
  return changed ? JSON.stringify(value) : null;
}

function rewriteEvent(event: string, answer: ToolsListAnswer): string | null {
  const data = eventData(event);
  if (data === null) return null;
  const rewritten = rewriteJson(data, answer);
  return rewritten === null ? null : withEventData(event, rewritten);
}

/** Filters result.tools in place when `value` answers one of the tools/list requests; true when something was removed. */
function filterResult(value: unknown, answer: ToolsListAnswer): boolean {
  if (value === null || typeof value !== "object") return false;
  const message = value as { id?: unknown; result?: { tools?: unknown } };
  if (!answer.ids.has(message.id as JsonRpcId) || message.result === null || typeof message.result !== "object" || !Array.isArray(message.result.tools)) return false;
  const tools = message.result.tools as unknown[];
  const kept = tools.filter((tool) => tool !== null && typeof tool === "object" && typeof (tool as { name?: unknown }).name === "string" && answer.mayCall((tool as { name: string }).name));
  if (kept.length === tools.length) return false;
  message.result.tools = kept;
  return true;
}

/**
 * Up to `limit` bytes of a stream: the whole body (`unread` null), or, past
 * the limit, a stream that replays what was read and then the rest.
 */
async function readBounded(body: ReadableStream<Uint8Array>, limit: number): Promise<{ chunks: Uint8Array[]; unread: ReadableStream<Uint8Array> | null }> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { chunks, unread: null };
    chunks.push(value);
    total += value.byteLength;
    if (total > limit) break;
  }
  const unread = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { chunks, unread };
}
