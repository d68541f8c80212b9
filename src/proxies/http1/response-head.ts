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
  /** Headers in arrival order, names lowercased, without Content-Length and Transfer-Encoding. */
  readonly headers: [string, string][];
  readonly framing: BodyFraming;
  /** The backend's Content-Length, also for bodiless responses (HEAD, 304). */
  readonly contentLength: string | undefined;
  readonly hasContentType: boolean;
  /** The connection may carry another request after this response. */
  readonly keepAlive: boolean;
  /** Names listed in the response's Connection header (lowercase). */
  readonly connectionTokens: readonly string[];
}

/** Index just past "\r\n\r\n" in `bytes` (searching from `from`), or -1. */
export function findHeadEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(from, 3); i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return i + 1;
  }
  return -1;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([^\r\n]*))?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `head` is the latin1 text of the head without its final CRLFCRLF. */
export function parseResponseHead(head: string, requestMethod: string): ResponseHead | string {
  const lines = head.split("\r\n");
  const status = STATUS_LINE.exec(lines[0]!);
  if (!status) return "bad status line";
  const code = Number(status[2]);
  const http10 = status[1] === "0";
  const headers: [string, string][] = [];
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let connection = "";
  let hasContentType = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    // obs-fold (a line starting with whitespace) and names with spaces are refused, as RFC 9112 allows.
    if (colon <= 0) return "malformed header line";
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return "malformed header name";
    const value = line.slice(colon + 1).trim();
    if (/[\0\r\n]/.test(value)) return "malformed header value";
    const lower = name.toLowerCase();
    if (lower === "content-length") {
      if (!/^\d{1,15}$/.test(value) || (contentLength !== undefined && contentLength !== value)) return "bad content-length";
      contentLength = value;
      continue;
    }
    if (lower === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      continue;
    }
    if (lower === "connection") connection = connection === "" ? value : `${connection}, ${value}`;
    else if (lower === "content-type") hasContentType = true;
    headers.push([lower, value]);
  }
  const connectionTokens = connection === "" ? [] : connection.toLowerCase().split(",").map((t) => t.trim()).filter(Boolean);
  let keepAlive = http10 ? connectionTokens.includes("keep-alive") : !connectionTokens.includes("close");

  let framing: BodyFraming;
  if (requestMethod === "HEAD" || code === 204 || code === 304 || code < 200) {
    framing = { kind: "none" };
  } else if (transferEncoding !== undefined) {
    // Only plain chunked is understood; another coding's framing cannot be found.
    if (transferEncoding.toLowerCase() !== "chunked") return "unsupported transfer-encoding";
    framing = { kind: "chunked" };
    if (contentLength !== undefined) keepAlive = false; // both present: a smuggling smell, never reuse
    contentLength = undefined;
  } else if (contentLength !== undefined) {
    framing = Number(contentLength) === 0 ? { kind: "none" } : { kind: "length", length: Number(contentLength) };
  } else {
    framing = { kind: "close" };
    keepAlive = false;
  }
  return { status: code, reason: status[3] ?? "", headers, framing, contentLength, hasContentType, keepAlive, connectionTokens };
}
