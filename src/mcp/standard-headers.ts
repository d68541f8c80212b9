/**
 * SEP-2243 (MCP 2026-07-28): clients mirror the JSON-RPC method into
 * `Mcp-Method` and the name a request acts on into `Mcp-Name`, so that
 * intermediaries can route and limit without reading bodies. A server (and a
 * gateway) must refuse a request whose headers disagree with its body:
 * otherwise whatever routes on the headers and whatever executes the body
 * see two different requests. Only clients of a revision that defines the
 * headers are held to them; for older ones the headers mean nothing and the
 * body alone decides. Pure.
 */
import type { McpMessage } from "./json-rpc-body";

/** JSON-RPC error code of a header/body disagreement (HeaderMismatch), answered with HTTP 400. */
export const HEADER_MISMATCH = -32020;

export interface StandardHeaders {
  readonly protocolVersion: string | null;
  readonly method: string | null;
  readonly name: string | null;
}

export function standardHeadersOf(headers: Headers): StandardHeaders {
  return { protocolVersion: headers.get("mcp-protocol-version"), method: headers.get("mcp-method"), name: headers.get("mcp-name") };
}

/** Why the headers disagree with the message, or null when they agree. */
export function headerMismatch(headers: StandardHeaders, message: McpMessage): string | null {
  if (message.kind === "response") return null;
  const version = message.envelopeVersion;
  if (version !== undefined && headers.protocolVersion !== version) {
    return `the body's envelope names protocol version ${shown(version)} but MCP-Protocol-Version names ${shown(headers.protocolVersion ?? "none")}`;
  }
  if (headers.method === null) return message.kind === "request" ? `the body's method is ${shown(message.method)} but the required Mcp-Method header is absent` : null;
  if (headers.method !== message.method) return `Mcp-Method names ${shown(headers.method)} but the body's method is ${shown(message.method)}`;
  if (message.kind !== "request" || message.nameField === null) return null;
  const field = `params.${message.nameField}`;
  if (headers.name === null) return message.name === undefined ? null : `the body's ${field} is ${shown(message.name)} but the required Mcp-Name header is absent`;
  const named = decodeHeaderValue(headers.name);
  if (named === undefined) return "Mcp-Name carries an invalid =?base64?…?= value";
  if (message.name !== undefined && named !== message.name) return `Mcp-Name names ${shown(named)} but the body's ${field} is ${shown(message.name)}`;
  return null;
}

const SENTINEL_PREFIX = "=?base64?";
const SENTINEL_SUFFIX = "?=";
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A header value as the client meant it: values that are not plain ASCII
 * travel as `=?base64?<UTF-8 in Base64>?=`. Undefined for a sentinel whose
 * payload is not canonical Base64 of UTF-8 (servers must refuse those).
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (!(value.startsWith(SENTINEL_PREFIX) && value.endsWith(SENTINEL_SUFFIX) && value.length >= SENTINEL_PREFIX.length + SENTINEL_SUFFIX.length)) return value;
  const payload = value.slice(SENTINEL_PREFIX.length, value.length - SENTINEL_SUFFIX.length);
  if (!CANONICAL_BASE64.test(payload)) return undefined;
  try {
    return utf8.decode(Buffer.from(payload, "base64"));
  } catch {
    return undefined;
  }
}

/** A value from the request, quoted and cut short for an error message. */
function shown(value: string): string {
  return JSON.stringify(value.length > 128 ? `${value.slice(0, 128)}…` : value);
}
