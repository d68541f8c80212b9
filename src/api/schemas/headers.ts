/**
 * Operator-configured headers (custom_headers, custom_response_headers). Names
 * must be valid tokens; values carry no line breaks; headers the gateway owns
 * (framing, hop-by-hop, identity, forwarding) cannot be overridden.
 */
import { invalid } from "../../core/errors";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const GATEWAY_OWNED = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-real-ip",
  "forwarded",
]);

export function checkHeaderMap(field: string, headers: Record<string, string>, direction: "request" | "response"): void {
  const entries = Object.entries(headers);
  if (entries.length > 100) throw invalid(`${field}: at most 100 headers`);
  for (const [name, value] of entries) {
    if (!TOKEN.test(name)) throw invalid(`${field}: ${JSON.stringify(name)} is not a valid header name`);
    const lower = name.toLowerCase();
    if (GATEWAY_OWNED.has(lower)) throw invalid(`${field}: ${name} is set by the gateway and cannot be configured`);
    if (direction === "request" && lower.startsWith("x-auth-")) {
      throw invalid(`${field}: X-Auth-* headers carry identity and come only from the gateway's authentication`);
    }
    if (/[\r\n\0]/.test(value) || value.length > 8192) {
      throw invalid(`${field}: the value of ${name} has a line break or is longer than 8192 characters`);
    }
  }
}
