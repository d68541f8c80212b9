/**
 * Parses a client's HTTP/1.x request head (request line + header lines) and
 * decides how its body is framed (RFC 9112 §6). Pure: the head's latin1 text
 * in, a parsed head or a refusal out, so it can be fuzzed without sockets.
 *
 * It is strict wherever two parsers reading the same bytes could disagree
 * about where a request ends (request smuggling): bare CR or LF, obs-fold,
 * whitespace before a colon, a Transfer-Encoding beside a Content-Length,
 * any Transfer-Encoding but a lone `chunked`, Content-Length lists that
 * differ, several Host headers, control characters anywhere. A refusal
 * closes the connection, so nothing after the bad head is ever read as a
 * request.
 */

/** Longer heads are refused with 431 (nginx's large_client_header_buffers is 4 × 8 KiB). */
export const MAX_REQUEST_HEAD_BYTES = 32 * 1024;
/** More header lines than this are refused with 431. */
export const MAX_REQUEST_HEADERS = 128;

export type RequestBodyFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" };

export interface RequestHead {
  readonly method: string;
  /** As sent: origin-form (`/path?query`), absolute-form, or `*` for OPTIONS. */
  readonly target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1;
  /**
   * The header block: the head's text after the request line's CRLF, without
   * the final CRLFCRLF ("" without headers). `fields` point into it. A head
   * built by withPreviousBlock shares this string, `fields` and everything
   * derived from them with the previous head.
   */
  readonly text: string;
  /** The whole head's length, request line included: what keeping `text` (a slice of it) may hold on to. */
  readonly size: number;
  /**
   * Every header line, in arrival order, as FIELD_STRIDE numbers: name start,
   * name end (the colon), value start and end (optional whitespace left out),
   * and its FieldKind. Offsets instead of strings: a forwarder copies the
   * lines it keeps, and only the few names the gateway acts on are compared.
   * headerPairs() gives them as strings.
   */
  readonly fields: Int32Array;
  readonly fieldCount: number;
  /** The Host header's value (absent only in HTTP/1.0 requests that sent none). */
  readonly host: string | undefined;
  readonly framing: RequestBodyFraming;
  /** The client may send another request on this connection after this one. */
  readonly keepAlive: boolean;
  /** Upgrade's value when Connection lists `upgrade` (a WebSocket handshake). */
  readonly upgrade: string | undefined;
}

/** Why a head was refused, as the status the gateway answers before closing. */
export interface RequestHeadRefusal {
  readonly status: 400 | 431 | 501 | 505;
  readonly reason: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Numbers per header line in RequestHead.fields. */
export const FIELD_STRIDE = 5;

/** The header lines the parser itself acts on; everything else is Other. */
export const enum FieldKind {
  Other = 0,
  Host = 1,
  ContentLength = 2,
  TransferEncoding = 3,
  Connection = 4,
  Upgrade = 5,
}

/** 1 for the characters of a token (RFC 9110 §5.6.2), by character code. */
const TOKEN_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_CHAR[c.charCodeAt(0)] = 1;

const KIND_BY_NAME: readonly (readonly [string, FieldKind])[] = [
  ["host", FieldKind.Host],
  ["content-length", FieldKind.ContentLength],
  ["transfer-encoding", FieldKind.TransferEncoding],
  ["connection", FieldKind.Connection],
  ["upgrade", FieldKind.Upgrade],
];

/** Compares the name case-insensitively without making a string of it: only names of a matching length are looked at. */
function fieldKind(head: string, start: number, end: number): FieldKind {
  const length = end - start;
  for (const [name, kind] of KIND_BY_NAME) {
    if (name.length !== length) continue;
    let same = true;
    // Token characters only (checked before): OR-ing 0x20 lower-cases letters and leaves `-` and digits as they are.
    for (let i = 0; i < length && same; i++) same = (head.charCodeAt(start + i) | 0x20) === name.charCodeAt(i);
    if (same) return kind;
  }
  return FieldKind.Other;
}

/**
 * Line ends in a header block from `from` (a block has one line more).
 * Like every line-end search below, it runs after FORBIDDEN has ruled out a
 * CR or LF outside a CRLF, so each LF ends a CRLF; a one-character search
 * measured about three times faster than one for "\r\n".
 */
function countLines(head: string, from: number): number {
  let count = 0;
  for (let at = head.indexOf("\n", from); at >= 0; at = head.indexOf("\n", at + 1)) count++;
  return count;
}

/** Where the CRLF ending the line at `from` starts, or the head's length for its last line (FORBIDDEN checked first). */
function lineEndFrom(head: string, from: number): number {
  const lf = head.indexOf("\n", from);
  return lf < 0 ? head.length : lf - 1;
}

const isOws = (code: number) => code === 32 || code === 9;

/** Name (lowercase), value, name, value… of every header line, in arrival order. */
export function headerPairs(head: RequestHead): string[] {
  const pairs: string[] = [];
  const { text, fields } = head;
  for (let i = 0; i < head.fieldCount * FIELD_STRIDE; i += FIELD_STRIDE) {
    pairs.push(text.slice(fields[i], fields[i + 1]).toLowerCase(), text.slice(fields[i + 2], fields[i + 3]));
  }
  return pairs;
}
/** A control character other than a tab, or a CR or LF that is not part of a CRLF. */
const FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
/** A request-target: visible ASCII only (no spaces, no control characters, no bytes above 0x7e). */
const REQUEST_TARGET = /^[\x21-\x7e]+$/;
const DIGITS = /^\d{1,15}$/;

const refuse = (status: RequestHeadRefusal["status"], reason: string): RequestHeadRefusal => ({ status, reason });

export const isRefusal = <T extends object>(result: T | RequestHeadRefusal): result is RequestHeadRefusal => "status" in result;

/**
 * `head` is the latin1 text of one request head without its final CRLFCRLF
 * (callers find the end, see findHeadEnd in proxies/http1/response-head.ts).
 * Empty lines before the request line are not accepted: a head must start
 * with its method.
 *
 * A head whose header block repeats the last one of its connection can skip
 * most of this: see withPreviousBlock.
 */
export function parseRequestHead(head: string): RequestHead | RequestHeadRefusal {
  if (head.length > MAX_REQUEST_HEAD_BYTES) return refuse(431, "request head too large");
  // One scan of the whole head: line breaks are CRLF only (a lone CR or LF is where parsers disagree), and no
  // other control character appears anywhere (field values allow tabs; RFC 9110 §5.5).
  const bad = FORBIDDEN.exec(head);
  if (bad) return refuse(400, forbiddenReason(bad[0]));

  const lineEnd = lineEndFrom(head, 0);
  const line = parseRequestLine(head.slice(0, lineEnd));
  if (isRefusal(line)) return line;
  // The caller cut the head at its first empty line: one left inside, or at the end, is not a head.
  if (head.endsWith("\r\n")) return refuse(400, "empty line in request head");
  const block = parseHeaderBlock(lineEnd < head.length ? head.slice(lineEnd + 2) : "", line.minor);
  return isRefusal(block) ? block : headOf(line, head.length, block);
}

/**
 * The head made of `requestLine` (what comes before the CRLF) and
 * `previous`'s header block, which the caller found to follow it byte for
 * byte; `size` is the whole head's length. Undefined when the line is not
 * one valid request line or names another version: parse the head whole.
 * The block passed every check before, with the same version. The line gets
 * a full parse's checks, which admit no control character, CR or LF (a token,
 * a visible-ASCII target, an exact version): it cannot hide header lines of
 * its own, and FORBIDDEN would find nothing in it. The parse of a block
 * depends on nothing but its bytes and the version, so the result is what a
 * full parse of the head would give.
 */
export function withPreviousBlock(requestLine: string, size: number, previous: RequestHead): RequestHead | undefined {
  if (size > MAX_REQUEST_HEAD_BYTES) return undefined;
  const line = parseRequestLine(requestLine);
  return isRefusal(line) || line.minor !== previous.minor ? undefined : headOf(line, size, previous);
}

/** One object shape for every head, however its block was come by. */
function headOf(line: RequestLine, size: number, block: HeaderBlock): RequestHead {
  const { text, fields, fieldCount, host, framing, keepAlive, upgrade } = block;
  return { method: line.method, target: line.target, minor: line.minor, text, size, fields, fieldCount, host, framing, keepAlive, upgrade };
}

function forbiddenReason(found: string): string {
  return found === "\n" ? "bare LF in request head" : found === "\r" ? "bare CR in request head" : "control character in request head";
}

interface RequestLine {
  readonly method: string;
  readonly target: string;
  readonly minor: 0 | 1;
}

/** The request line, without its CRLF. */
function parseRequestLine(line: string): RequestLine | RequestHeadRefusal {
  const firstSpace = line.indexOf(" ");
  const lastSpace = line.lastIndexOf(" ");
  if (firstSpace <= 0 || lastSpace === firstSpace) return refuse(400, "malformed request line");
  const method = line.slice(0, firstSpace);
  const target = line.slice(firstSpace + 1, lastSpace);
  const version = line.slice(lastSpace + 1);
  if (!TOKEN.test(method)) return refuse(400, "malformed method");
  if (!REQUEST_TARGET.test(target)) return refuse(400, "malformed request target");
  let minor: 0 | 1;
  if (version === "HTTP/1.1") minor = 1;
  else if (version === "HTTP/1.0") minor = 0;
  else if (/^HTTP\/\d\.\d$/.test(version)) return refuse(505, `${version} is not supported`);
  else return refuse(400, "malformed request line");
  if (method === "CONNECT") return refuse(501, "CONNECT is not supported");
  if (target === "*" ? method !== "OPTIONS" : !target.startsWith("/") && !/^https?:\/\//i.test(target)) {
    return refuse(400, "malformed request target");
  }
  return { method, target, minor };
}

type HeaderBlock = Omit<RequestHead, keyof RequestLine | "size">;

/** The header lines after the request line (FORBIDDEN already ruled out on them), and what they say about framing. */
function parseHeaderBlock(block: string, minor: 0 | 1): HeaderBlock | RequestHeadRefusal {
  // Every line ends in a CRLF but the last.
  const fields = new Int32Array(FIELD_STRIDE * Math.min(MAX_REQUEST_HEADERS, block === "" ? 0 : countLines(block, 0) + 1));
  let fieldCount = 0;
  let host: string | undefined;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let connection = "";
  let upgrade: string | undefined;
  let pos = 0;
  while (pos < block.length) {
    const end = lineEndFrom(block, pos);
    if (fieldCount === MAX_REQUEST_HEADERS) return refuse(431, "too many header fields");
    const colon = block.indexOf(":", pos);
    // obs-fold (a line starting with whitespace) and whitespace before the colon are refused (RFC 9112 §5.1, §5.2).
    if (colon <= pos || colon > end) return refuse(400, "malformed header line");
    for (let i = pos; i < colon; i++) {
      if (TOKEN_CHAR[block.charCodeAt(i)] !== 1) return refuse(400, "malformed header name");
    }
    let valueStart = colon + 1;
    let valueEnd = end;
    while (valueStart < valueEnd && isOws(block.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isOws(block.charCodeAt(valueEnd - 1))) valueEnd--;
    const kind = fieldKind(block, pos, colon);
    const at = fieldCount++ * FIELD_STRIDE;
    fields[at] = pos;
    fields[at + 1] = colon;
    fields[at + 2] = valueStart;
    fields[at + 3] = valueEnd;
    fields[at + 4] = kind;
    pos = end + 2;
    if (kind === FieldKind.Other) continue;
    const value = block.slice(valueStart, valueEnd);
    switch (kind) {
      case FieldKind.ContentLength:
        // A list (`5, 5`) or a repeated header must agree on one length (RFC 9110 §8.6).
        for (const item of value.split(",")) {
          const length = trimOws(item);
          if (!DIGITS.test(length)) return refuse(400, "malformed Content-Length");
          const normalized = String(Number(length));
          if (contentLength !== undefined && contentLength !== normalized) return refuse(400, "conflicting Content-Length");
          contentLength = normalized;
        }
        break;
      case FieldKind.TransferEncoding:
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
        break;
      case FieldKind.Host:
        if (host !== undefined) return refuse(400, "more than one Host");
        host = value;
        break;
      case FieldKind.Connection:
        connection = connection === "" ? value : `${connection},${value}`;
        break;
      case FieldKind.Upgrade:
        upgrade = value;
        break;
    }
  }
  if (minor === 1 && host === undefined) return refuse(400, "missing Host");

  let framing: RequestBodyFraming = NO_BODY;
  if (transferEncoding !== undefined) {
    // HTTP/1.0 has no chunked framing; with both headers the two framings could be read two ways.
    if (minor === 0) return refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (contentLength !== undefined) return refuse(400, "both Transfer-Encoding and Content-Length");
    if (transferEncoding.toLowerCase() !== "chunked") return refuse(501, "only Transfer-Encoding: chunked is supported");
    framing = CHUNKED;
  } else if (contentLength !== undefined && contentLength !== "0") {
    framing = { kind: "length", length: Number(contentLength) };
  }

  const tokens = connection === "" ? NO_TOKENS : connection.toLowerCase().split(",").map(trimOws);
  const keepAlive = minor === 1 ? !tokens.includes("close") : tokens.includes("keep-alive");
  return {
    text: block,
    fields,
    fieldCount,
    host,
    framing,
    keepAlive,
    upgrade: upgrade !== undefined && tokens.includes("upgrade") ? upgrade : undefined,
  };
}

const NO_BODY: RequestBodyFraming = Object.freeze({ kind: "none" });
const NO_TOKENS: readonly string[] = Object.freeze([]);
const CHUNKED: RequestBodyFraming = Object.freeze({ kind: "chunked" });

/** Optional whitespace is spaces and tabs only (String.trim would also take other characters). */
function trimOws(text: string): string {
  const last = text.length - 1;
  // The usual value: one space after the colon, nothing at the end.
  if (text.charCodeAt(0) === 32 && text.charCodeAt(1) > 32 && text.charCodeAt(last) > 32) return text.slice(1);
  let start = 0;
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === 32 || text.charCodeAt(start) === 9)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 32 || text.charCodeAt(end - 1) === 9)) end--;
  return text.slice(start, end);
}
