/**
 * The JSON-RPC body of a POST to an MCP endpoint, read for what the edge
 * decides on: each message's kind, method, id, and the name it acts on
 * (`params.name` of tools/call and prompts/get, `params.uri` of
 * resources/read, `params.taskId` of tasks/*: the values SEP-2243's
 * Mcp-Name header mirrors). Nothing else of the body is interpreted. Pure.
 */
import { hasDuplicateMember, watchedMembers } from "./duplicate-members";

export type JsonRpcId = string | number | null;

/** JSON-RPC 2.0 error codes the edge answers with. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

export interface McpMessage {
  /** A request has a method and an id, a notification a method only; a response (to the server's own request) has neither. */
  readonly kind: "request" | "notification" | "response";
  /** "" for a response. */
  readonly method: string;
  readonly id: JsonRpcId;
  /** The params member Mcp-Name mirrors for this method, or null for methods without one. */
  readonly nameField: NameField | null;
  /** That member's value, when it is a string. */
  readonly name: string | undefined;
  /** `params._meta["io.modelcontextprotocol/protocolVersion"]` (the 2026-07-28 request envelope), when a string. */
  readonly envelopeVersion: string | undefined;
}

export type BodyReading =
  | { readonly ok: true; readonly batch: boolean; readonly messages: readonly McpMessage[] }
  | { readonly ok: false; readonly code: number; readonly reason: string; readonly id: JsonRpcId };

export type NameField = "name" | "uri" | "taskId";

/** SEP-2243 (and SEP-2663 for tasks): which params member the Mcp-Name header mirrors. */
const NAME_FIELD: Readonly<Record<string, NameField>> = Object.freeze({
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
});

export const ENVELOPE_VERSION_KEY = "io.modelcontextprotocol/protocolVersion";

/** A message, its params and params._meta: as deep as a decision reads (one level more in a batch). */
const DECIDING_DEPTH = 3;
/** The members a decision reads: none of them may be named twice in one object. */
const DECIDING_MEMBERS = watchedMembers(["jsonrpc", "id", "method", "params", "result", "error", "_meta", ENVELOPE_VERSION_KEY, ...Object.values(NAME_FIELD)]);

/** Reads a body; `allowBatch` says whether the client's protocol revision may send a JSON array of messages. */
export function readJsonRpcBody(text: string, allowBatch: boolean): BodyReading {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refused(PARSE_ERROR, "the body is not JSON");
  }
  if (hasDuplicateMember(text, DECIDING_MEMBERS, Array.isArray(value) ? DECIDING_DEPTH + 1 : DECIDING_DEPTH)) return refused(INVALID_REQUEST, "the body names a member twice in one object", idOf(value));
  if (!Array.isArray(value)) {
    const message = messageOf(value);
    return typeof message === "string" ? refused(INVALID_REQUEST, message, idOf(value)) : { ok: true, batch: false, messages: [message] };
  }
  if (!allowBatch) return refused(INVALID_REQUEST, "JSON-RPC batches are not part of this client's MCP protocol revision (only 2025-03-26 and older)");
  if (value.length === 0) return refused(INVALID_REQUEST, "the batch is empty");
  const messages: McpMessage[] = [];
  for (let i = 0; i < value.length; i++) {
    const message = messageOf(value[i]);
    if (typeof message === "string") return refused(INVALID_REQUEST, `batch element ${i}: ${message}`);
    messages.push(message);
  }
  return { ok: true, batch: true, messages };
}

/** The message, or why it is not one. */
function messageOf(value: unknown): McpMessage | string {
  if (!isPlainObject(value)) return "a JSON-RPC message must be an object";
  const hasId = Object.hasOwn(value, "id");
  const id = value.id;
  if (hasId && !isId(id)) return "id must be a string, a number or null";
  const params = value.params;
  if (params !== undefined && (params === null || typeof params !== "object")) return "params must be an object or an array";
  if (!Object.hasOwn(value, "method")) {
    if (!hasId || !(Object.hasOwn(value, "result") || Object.hasOwn(value, "error"))) return "a message needs a method, or an id with a result or error";
    return { kind: "response", method: "", id: id as JsonRpcId, nameField: null, name: undefined, envelopeVersion: undefined };
  }
  const method = value.method;
  if (typeof method !== "string") return "method must be a string";
  const nameField = Object.hasOwn(NAME_FIELD, method) ? NAME_FIELD[method]! : null;
  const fields = isPlainObject(params) ? params : undefined;
  const named = nameField && fields ? fields[nameField] : undefined;
  const meta = fields && isPlainObject(fields._meta) ? fields._meta : undefined;
  const envelope = meta?.[ENVELOPE_VERSION_KEY];
  return {
    kind: hasId ? "request" : "notification",
    method,
    id: hasId ? (id as JsonRpcId) : null,
    nameField,
    name: typeof named === "string" ? named : undefined,
    envelopeVersion: typeof envelope === "string" ? envelope : undefined,
  };
}

function refused(code: number, reason: string, id: JsonRpcId = null): BodyReading {
  return { ok: false, code, reason, id };
}

/** The id to answer a refused single message with, when it has a usable one. */
function idOf(value: unknown): JsonRpcId {
  return isPlainObject(value) && isId(value.id) ? (value.id as JsonRpcId) : null;
}

function isId(value: unknown): boolean {
  return value === null || typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
