/**
 * Parses a backend's HTTP/1.x response head (status line + header lines) and
 * decides how its body is framed (RFC 9112 §6.3). Pure: bytes in, a parsed head
 * or an error string out, so it can be fuzzed without sockets.
 */

export const MAX_HEAD_BYTES = 64 * 1024;

export type BodyFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close" };

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  /** Headers in arrival order, names lowercased, without Content-Length and Transfer-Encoding. Shared (HeadCache): never modify. */
  readonly headers: readonly (readonly [string, string])[];
  readonly framing: BodyFraming;
  /** The backend's Content-Length, also for bodiless responses (HEAD, 304). */
  readonly contentLength: string | undefined;
  readonly hasContentType: boolean;
  /** Content-Type text/event-stream (SSE): a stream that may be quiet for longer than any idle timeout. */
  readonly eventStream: boolean;
  /** The connection may carry another request after this response. */
  readonly keepAlive: boolean;
  /** Names listed in the response's Connection header (lowercase). */
  readonly connectionTokens: readonly string[];
  /**
   * The client-side headers last built from this head, and for which target:
   * a cached head reuses them (Response copies its init headers, so sharing is safe).
   * The only mutable part of a head.
   */
  memo?: { readonly key: object; readonly headers: Headers };
  /** The raw edge's status and header lines last written from this head, and for which target (dispatcher/raw-edge). */
  rawLines?: { readonly key: object; readonly lines: string; readonly hasDate: boolean };
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** Index just past "\r\n\r\n" in `bytes` (searching from `from`), or -1. */
export function findHeadEnd(bytes: Buffer, from: number): number {
  const at = bytes.indexOf(HEAD_END, Math.max(0, from));
  return at < 0 ? -1 : at + 4;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * `head` is the latin1 text of the head without its final CRLFCRLF. Hop-by-hop
 * headers are left out of `headers` (names the Connection header lists are
 * reported in `connectionTokens` for the caller to drop).
 */
export function parseResponseHead(head: string, requestMethod: string): ResponseHead | string {
  let lineEnd = head.indexOf("\r\n");
  if (lineEnd < 0) lineEnd = head.length;
  // "HTTP/1.1 200 OK": version, a space, three digits, then a space and a reason or nothing.
  if (lineEnd < 12 || !head.startsWith("HTTP/1.") || head[8] !== " " || (lineEnd > 12 && head[12] !== " ")) return "bad status line";
  const minor = head[7];
  if (minor !== "1" && minor !== "0") return "bad status line";
  const digits = head.slice(9, 12);
  if (!/^[1-9]\d\d$/.test(digits)) return "bad status line";
  const code = Number(digits);
  const reason = lineEnd > 13 ? head.slice(13, lineEnd) : "";

  const headers: [string, string][] = [];
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let connection = "";
  let hasContentType = false;
  let eventStream = false;
  let pos = lineEnd + 2;
  while (pos < head.length) {
    let end = head.indexOf("\r\n", pos);
    if (end < 0) end = head.length;
    const colon = head.indexOf(":", pos);
    // obs-fold (a line starting with whitespace) and names with spaces are refused, as RFC 9112 allows.
    if (colon <= pos || colon > end) return "malformed header line";
    const name = head.slice(pos, colon).toLowerCase();
    if (!TOKEN.test(name)) return "malformed header name";
    const value = head.slice(colon + 1, end).trim();
    pos = end + 2;
    switch (name) {
      case "content-length":
        if (!/^\d{1,15}$/.test(value) || (contentLength !== undefined && contentLength !== value)) return "bad content-length";
        contentLength = value;
        continue;
      case "transfer-encoding":
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        continue;
      case "connection":
        connection = connection === "" ? value : `${connection}, ${value}`;
        continue;
      case "content-type":
        hasContentType = true;
        eventStream = value.toLowerCase().startsWith("text/event-stream");
        break;
      case "keep-alive":
      case "proxy-connection":
      case "te":
      case "trailer":
      case "upgrade":
      case "proxy-authorization":
      case "proxy-authenticate":
        continue; // hop-by-hop
    }
    headers.push([name, value]);
  }
  const connectionTokens = connection === "" ? NO_TOKENS : connection.toLowerCase().split(",").map((t) => t.trim()).filter(Boolean);
  let keepAlive = minor === "0" ? connectionTokens.includes("keep-alive") : !connectionTokens.includes("close");

  let framing: BodyFraming;
  if (requestMethod === "HEAD" || code === 204 || code === 304 || code < 200) {
    framing = NONE;
  } else if (transferEncoding !== undefined) {
    // Only plain chunked is understood; another coding's framing cannot be found.
    if (transferEncoding.toLowerCase() !== "chunked") return "unsupported transfer-encoding";
    framing = CHUNKED;
    if (contentLength !== undefined) keepAlive = false; // both present: a smuggling smell, never reuse
    contentLength = undefined;
  } else if (contentLength !== undefined) {
    framing = contentLength === "0" ? NONE : { kind: "length", length: Number(contentLength) };
  } else {
    framing = CLOSE;
    keepAlive = false;
  }
  return { status: code, reason, headers, framing, contentLength, hasContentType, eventStream, keepAlive, connectionTokens };
}

const NO_TOKENS: readonly string[] = Object.freeze([]);
const NONE: BodyFraming = { kind: "none" };
const CHUNKED: BodyFraming = { kind: "chunked" };
const CLOSE: BodyFraming = { kind: "close" };
