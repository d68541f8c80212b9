/**
 * The request-head parser of the raw HTTP/1.1 edge: what it accepts, and the
 * request-smuggling shapes it refuses (CL/TE, obs-fold, bare LF/CR, duplicate
 * framing or Host headers, control characters, bad versions). A seeded fuzz
 * then mutates valid heads and checks the invariants every accepted head
 * keeps, so a change that lets an ambiguous head through fails here.
 */
import { describe, expect, test } from "bun:test";
import {
  FIELD_STRIDE,
  FieldKind,
  headerPairs,
  isRefusal,
  MAX_REQUEST_HEAD_BYTES,
  MAX_REQUEST_HEADERS,
  parseRequestHead,
  type RequestHead,
} from "../../../src/dispatcher/http1/request-head";
import { RepeatedHeads } from "../../../src/dispatcher/raw-edge/repeated-heads";

const head = (...lines: string[]) => lines.join("\r\n");

function accepted(text: string): RequestHead {
  const result = parseRequestHead(text);
  if (isRefusal(result)) throw new Error(`refused: ${result.status} ${result.reason}`);
  return result;
}

function refusal(text: string): { status: number; reason: string } {
  const result = parseRequestHead(text);
  if (!isRefusal(result)) throw new Error(`accepted: ${JSON.stringify(result)}`);
  return result;
}

/** `text` parsed on a connection whose last head was `previousText`, as the raw edge parses (RepeatedHeads). */
function parsedAfter(previousText: string, text: string): { previous: RequestHead; next: ReturnType<typeof parseRequestHead> } {
  const heads = new RepeatedHeads();
  const parse = (head: string) => {
    const bytes = Buffer.from(`${head}\r\n\r\n`, "latin1");
    return heads.parse(bytes, bytes.length);
  };
  const previous = parse(previousText);
  if (isRefusal(previous)) throw new Error(`refused: ${previous.reason}`);
  return { previous, next: parse(text) };
}

describe("accepted heads", () => {
  test("a GET: method, target, version, headers in order with names lowercased, no body, keep-alive", () => {
    const parsed = accepted(head("GET /items?id=7 HTTP/1.1", "Host: app.test", "User-Agent:  curl/8 \t", "X-Two: a", "x-two: b"));
    const { text, size, fields, fieldCount, ...rest } = parsed;
    expect(rest).toEqual({ method: "GET", target: "/items?id=7", minor: 1, host: "app.test", framing: { kind: "none" }, keepAlive: true, upgrade: undefined });
    // The header block after the request line, which the offsets point into; the size is the whole head's.
    expect(text).toBe("Host: app.test\r\nUser-Agent:  curl/8 \t\r\nX-Two: a\r\nx-two: b");
    expect(size).toBe("GET /items?id=7 HTTP/1.1\r\n".length + text.length);
    expect(fieldCount).toBe(4);
    expect(headerPairs(parsed)).toEqual(["host", "app.test", "user-agent", "curl/8", "x-two", "a", "x-two", "b"]);
    // The offsets point at each name and its value without surrounding whitespace.
    expect(text.slice(fields[FIELD_STRIDE]!, fields[FIELD_STRIDE + 1]!)).toBe("User-Agent");
    expect(text.slice(fields[FIELD_STRIDE + 2]!, fields[FIELD_STRIDE + 3]!)).toBe("curl/8");
    expect([0, 1, 2, 3].map((i) => fields[i * FIELD_STRIDE + 4])).toEqual([FieldKind.Host, FieldKind.Other, FieldKind.Other, FieldKind.Other]);
  });

  test("Content-Length frames the body; Content-Length: 0 is no body; framing lines are marked for the forwarder to drop", () => {
    const post = accepted(head("POST / HTTP/1.1", "Host: a", "CONTENT-length: 12"));
    expect(post.framing).toEqual({ kind: "length", length: 12 });
    expect(post.fields[FIELD_STRIDE + 4]).toBe(FieldKind.ContentLength);
    expect(accepted(head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")).fields[FIELD_STRIDE + 4]).toBe(FieldKind.TransferEncoding);
    expect(accepted(head("POST / HTTP/1.1", "Host: a", "Content-Length: 0")).framing).toEqual({ kind: "none" });
  });

  test("identical Content-Length values (repeated or as a list) are one length", () => {
    expect(accepted(head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 5")).framing).toEqual({ kind: "length", length: 5 });
    expect(accepted(head("POST / HTTP/1.1", "Host: a", "Content-Length: 5, 005")).framing).toEqual({ kind: "length", length: 5 });
  });

  test("a GET with a body is framed by its Content-Length like any other request (the body is never read as the next request)", () => {
    expect(accepted(head("GET / HTTP/1.1", "Host: a", "Content-Length: 30")).framing).toEqual({ kind: "length", length: 30 });
  });

  test("Transfer-Encoding: chunked (any case, optional whitespace) frames a chunked body", () => {
    expect(accepted(head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding:  Chunked\t")).framing).toEqual({ kind: "chunked" });
  });

  test("keep-alive: HTTP/1.1 unless Connection: close; HTTP/1.0 only with Connection: keep-alive", () => {
    expect(accepted(head("GET / HTTP/1.1", "Host: a", "Connection: Close")).keepAlive).toBe(false);
    expect(accepted(head("GET / HTTP/1.0")).keepAlive).toBe(false);
    expect(accepted(head("GET / HTTP/1.0", "Connection: keep-alive")).keepAlive).toBe(true);
    expect(accepted(head("GET / HTTP/1.0")).host).toBeUndefined();
  });

  test("a WebSocket handshake reports its Upgrade; Upgrade without Connection: upgrade is not one", () => {
    expect(accepted(head("GET /ws HTTP/1.1", "Host: a", "Connection: keep-alive, Upgrade", "Upgrade: websocket")).upgrade).toBe("websocket");
    expect(accepted(head("GET /ws HTTP/1.1", "Host: a", "Upgrade: websocket")).upgrade).toBeUndefined();
  });

  test("absolute-form and OPTIONS * targets; obs-text (bytes above 0x7f) in a value", () => {
    expect(accepted(head("GET http://a/x HTTP/1.1", "Host: a")).target).toBe("http://a/x");
    expect(accepted(head("OPTIONS * HTTP/1.1", "Host: a")).target).toBe("*");
    expect(headerPairs(accepted(head("GET / HTTP/1.1", "Host: a", "X-Name: caf\xe9")))).toEqual(["host", "a", "x-name", "caf\xe9"]);
  });
});

describe("refused heads (request smuggling and malformed input)", () => {
  const cases: [string, string, number][] = [
    ["Transfer-Encoding with Content-Length (CL.TE / TE.CL)", head("POST / HTTP/1.1", "Host: a", "Content-Length: 4", "Transfer-Encoding: chunked"), 400],
    ["Content-Length after Transfer-Encoding", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Content-Length: 4"), 400],
    ["conflicting Content-Length headers", head("POST / HTTP/1.1", "Host: a", "Content-Length: 4", "Content-Length: 5"), 400],
    ["a Content-Length list that differs", head("POST / HTTP/1.1", "Host: a", "Content-Length: 4, 5"), 400],
    ["a signed Content-Length", head("POST / HTTP/1.1", "Host: a", "Content-Length: +4"), 400],
    ["a hexadecimal Content-Length", head("POST / HTTP/1.1", "Host: a", "Content-Length: 0x10"), 400],
    ["an empty Content-Length", head("POST / HTTP/1.1", "Host: a", "Content-Length: "), 400],
    ["a Content-Length beyond 15 digits", head("POST / HTTP/1.1", "Host: a", "Content-Length: 1234567890123456"), 400],
    ["Transfer-Encoding: chunked twice", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), 501],
    ["Transfer-Encoding: gzip, chunked", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip, chunked"), 501],
    ["Transfer-Encoding: xchunked", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: xchunked"), 501],
    ["Transfer-Encoding: chunked, identity", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked, identity"), 501],
    ["Transfer-Encoding in HTTP/1.0", head("POST / HTTP/1.0", "Transfer-Encoding: chunked"), 400],
    ["obs-fold (a continuation line)", head("GET / HTTP/1.1", "Host: a", "X-A: one", " two"), 400],
    ["obs-fold with a tab", head("GET / HTTP/1.1", "Host: a", "Transfer-Encoding: identity", "\tchunked"), 400],
    ["whitespace between the name and the colon", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding : chunked"), 400],
    ["whitespace before a header name", head("GET / HTTP/1.1", " Host: a"), 400],
    ["a header line without a colon", head("GET / HTTP/1.1", "Host: a", "Garbage"), 400],
    ["an empty header name", head("GET / HTTP/1.1", "Host: a", ": value"), 400],
    ["a bare LF ending a header line", "GET / HTTP/1.1\r\nHost: a\nX-A: b", 400],
    ["a bare LF ending the request line", "GET / HTTP/1.1\nHost: a", 400],
    ["a bare CR inside a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc", 400],
    ["a NUL in a value", head("GET / HTTP/1.1", "Host: a", "X-A: b\0c"), 400],
    ["a control character in a value", head("GET / HTTP/1.1", "Host: a", "X-A: b\x0bc"), 400],
    ["two Host headers", head("GET / HTTP/1.1", "Host: a", "Host: b"), 400],
    ["no Host in HTTP/1.1", head("GET / HTTP/1.1", "Accept: */*"), 400],
    ["HTTP/2.0 in a request line", head("GET / HTTP/2.0", "Host: a"), 505],
    ["a lowercase version", head("GET / http/1.1", "Host: a"), 400],
    ["HTTP/1.1 followed by garbage", head("GET / HTTP/1.1x", "Host: a"), 400],
    ["two spaces between method and target", head("GET  / HTTP/1.1", "Host: a"), 400],
    ["a tab as separator", head("GET\t/ HTTP/1.1", "Host: a"), 400],
    ["a space inside the target", head("GET /a b HTTP/1.1", "Host: a"), 400],
    ["a target that is neither origin- nor absolute-form", head("GET a/b HTTP/1.1", "Host: a"), 400],
    ["* with GET", head("GET * HTTP/1.1", "Host: a"), 400],
    ["bytes above 0x7e in the target", head("GET /caf\xe9 HTTP/1.1", "Host: a"), 400],
    ["a method with a separator", head("G(ET / HTTP/1.1", "Host: a"), 400],
    ["CONNECT", head("CONNECT a:443 HTTP/1.1", "Host: a"), 501],
    ["an empty line before the request line", head("", "GET / HTTP/1.1", "Host: a"), 400],
    ["a request line only", "GET /", 400],
    ["an empty line inside the head", head("GET / HTTP/1.1", "Host: a", "", "X-A: b"), 400],
    ["an empty line at its end", head("GET / HTTP/1.1", "Host: a", ""), 400],
  ];
  for (const [name, text, status] of cases) {
    test(`${name}: ${status}`, () => {
      expect(refusal(text).status).toBe(status);
    });
  }

  test("a head over the size limit: 431; one at the limit is read", () => {
    const filler = (length: number) => head("GET / HTTP/1.1", "Host: a", `X-Fill: ${"a".repeat(length)}`);
    const base = filler(0).length;
    expect(isRefusal(parseRequestHead(filler(MAX_REQUEST_HEAD_BYTES - base)))).toBe(false);
    expect(refusal(filler(MAX_REQUEST_HEAD_BYTES - base + 1)).status).toBe(431);
  });

  test("more header lines than the limit: 431", () => {
    const lines = Array.from({ length: MAX_REQUEST_HEADERS }, (_, i) => `X-${i}: v`);
    expect(isRefusal(parseRequestHead(head("GET / HTTP/1.1", "Host: a", ...lines.slice(1))))).toBe(false);
    expect(refusal(head("GET / HTTP/1.1", "Host: a", ...lines)).status).toBe(431);
  });
});

describe("a header block repeated on a connection (withPreviousBlock, through RepeatedHeads)", () => {
  const BLOCK = ["Host: app.test", "Authorization: Bearer abc.def", "Content-Length: 5"];
  const FIRST = head("POST /first HTTP/1.1", ...BLOCK);

  test("the same block after another request line: the block's parse is shared, the request line is this one's", () => {
    const { previous, next } = parsedAfter(FIRST, head("PUT /second?x=1 HTTP/1.1", ...BLOCK));
    expect(next).toMatchObject({ method: "PUT", target: "/second?x=1", minor: 1, host: "app.test", framing: { kind: "length", length: 5 }, keepAlive: true });
    const shared = next as RequestHead;
    expect(shared.text).toBe(previous.text);
    expect(shared.fields).toBe(previous.fields);
    expect(shared.size).toBe(head("PUT /second?x=1 HTTP/1.1", ...BLOCK).length);
  });

  test("another version with the same block is parsed whole: keep-alive and framing depend on it", () => {
    const { previous, next } = parsedAfter(FIRST, head("POST /first HTTP/1.0", ...BLOCK));
    expect((next as RequestHead).fields).not.toBe(previous.fields);
    expect(next).toMatchObject({ minor: 0, keepAlive: false });
    const chunked = head("Host: a", "Transfer-Encoding: chunked");
    expect(parsedAfter(`POST / HTTP/1.1\r\n${chunked}`, `POST / HTTP/1.0\r\n${chunked}`).next).toEqual({ status: 400, reason: "Transfer-Encoding in an HTTP/1.0 request" });
  });

  test("a block that merely ends with the previous one is parsed whole: header lines smuggled after the request line count", () => {
    expect(parsedAfter(FIRST, head("POST /first HTTP/1.1", "Transfer-Encoding: chunked", ...BLOCK)).next).toEqual({ status: 400, reason: "both Transfer-Encoding and Content-Length" });
    expect(parsedAfter(FIRST, head("POST /first HTTP/1.1", "Host: evil.test", ...BLOCK)).next).toEqual({ status: 400, reason: "more than one Host" });
  });

  test("the request line before a repeated block is checked as in a full parse", () => {
    for (const line of ["GET /a b HTTP/1.1", "GET /\x01 HTTP/1.1", "GET /\r HTTP/1.1", "GET /\n HTTP/1.1", "CONNECT a:443 HTTP/1.1", "GET / HTTP/2.0", "G@T / HTTP/1.1", "GET nope HTTP/1.1", " GET / HTTP/1.1", "GET / HTTP/1.1 "]) {
      const text = head(line, ...BLOCK);
      const alone = parseRequestHead(text);
      expect(isRefusal(alone)).toBe(true);
      expect(parsedAfter(FIRST, text).next).toEqual(alone);
    }
  });
});

describe("seeded fuzz", () => {
  /** mulberry32: the same seed gives the same cases on every run and machine. */
  function random(seed: number) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const SEEDS = [
    head("GET /a?b=c HTTP/1.1", "Host: app.test", "Accept: */*"),
    head("POST /upload HTTP/1.1", "Host: app.test", "Content-Length: 11", "Content-Type: text/plain"),
    head("POST /x HTTP/1.1", "Host: app.test", "Transfer-Encoding: chunked"),
    head("GET /ws HTTP/1.1", "Host: app.test", "Connection: Upgrade", "Upgrade: websocket"),
    head("GET / HTTP/1.0", "Connection: keep-alive"),
  ];
  /** Pieces that sit near the edge of what parsers accept. */
  const PIECES = ["\r\n", "\n", "\r", " ", "\t", ":", ",", "\0", "\x0b", "\xff", "Content-Length: 5", "Content-Length: 6", "Transfer-Encoding: chunked", "Transfer-Encoding: identity", "Host: other", " chunked", "chunked", "HTTP/1.1", "0", "-1", "\r\n ", "\r\n\t"];

  /** Whole header lines that decide framing or routing. */
  const LINES = ["Content-Length: 5", "Content-Length: 0", "Content-Length: 5, 6", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip", "Host: other", "Connection: close", " folded"];

  function mutate(text: string, next: () => number): string {
    const at = Math.floor(next() * (text.length + 1));
    const roll = next();
    if (roll < 0.2) {
      const lines = text.split("\r\n");
      lines.splice(1 + Math.floor(next() * lines.length), 0, LINES[Math.floor(next() * LINES.length)]!);
      return lines.join("\r\n");
    }
    if (roll < 0.45) return text.slice(0, at) + PIECES[Math.floor(next() * PIECES.length)]! + text.slice(at);
    if (roll < 0.6) return text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 4));
    if (roll < 0.85) return text.slice(0, at) + String.fromCharCode(Math.floor(next() * 256)) + text.slice(at + 1);
    // Repeat a whole line somewhere else.
    const lines = text.split("\r\n");
    const line = lines[Math.floor(next() * lines.length)]!;
    lines.splice(1 + Math.floor(next() * lines.length), 0, line);
    return lines.join("\r\n");
  }

  /** What every accepted head must satisfy, whatever bytes it came from. */
  function checkInvariants(text: string, parsed: RequestHead): void {
    const lines = text.split("\r\n");
    // No bare CR/LF survived: splitting on CRLF leaves no CR or LF anywhere.
    for (const line of lines) expect(/[\r\n]/.test(line)).toBe(false);
    // No header line starts with whitespace (obs-fold), and none has whitespace before its colon.
    for (const line of lines.slice(1)) {
      expect(/^[ \t]/.test(line)).toBe(false);
      expect(/^[^:]*[ \t]:/.test(line)).toBe(false);
    }
    const names = lines.slice(1).map((line) => line.slice(0, line.indexOf(":")).toLowerCase());
    const te = names.filter((name) => name === "transfer-encoding").length;
    const cl = names.filter((name) => name === "content-length").length;
    // One framing, and only one way to read it.
    expect(te > 0 && cl > 0).toBe(false);
    expect(te).toBeLessThanOrEqual(1);
    expect(names.filter((name) => name === "host").length).toBeLessThanOrEqual(1);
    if (parsed.framing.kind === "chunked") expect(te).toBe(1);
    // Every Content-Length the client sent names the same length as the framing.
    const lengths = lines.slice(1).filter((line) => /^content-length:/i.test(line)).flatMap((line) => line.slice(line.indexOf(":") + 1).split(",").map((v) => Number(v.trim())));
    expect(new Set(lengths).size).toBeLessThanOrEqual(1);
    if (parsed.framing.kind === "length") {
      expect(lengths[0]).toBe(parsed.framing.length);
      expect(cl).toBeGreaterThan(0);
      expect(Number.isSafeInteger(parsed.framing.length) && parsed.framing.length > 0).toBe(true);
    }
    if (te === 0 && cl === 0) expect(parsed.framing.kind).toBe("none");
    expect(["HTTP/1.1", "HTTP/1.0"]).toContain(lines[0]!.slice(lines[0]!.lastIndexOf(" ") + 1));
    const pairs = headerPairs(parsed);
    expect(pairs.length).toBe(2 * (lines.length - 1));
    for (let i = 0; i < pairs.length; i += 2) {
      expect(pairs[i]).toMatch(/^[!#$%&'*+.^_`|~0-9a-z-]+$/);
      expect(pairs[i + 1]).toMatch(/^([\x21-\x7e\x80-\xff]([\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/);
    }
  }

  test("20,000 mutated heads: never a throw; every accepted head is unambiguous", () => {
    const next = random(0x5eed);
    let acceptedCount = 0;
    let refusedCount = 0;
    for (let i = 0; i < 20_000; i++) {
      let text = SEEDS[i % SEEDS.length]!;
      const rounds = 1 + Math.floor(next() * 3);
      for (let r = 0; r < rounds; r++) text = mutate(text, next);
      const result = parseRequestHead(text);
      if (isRefusal(result)) {
        refusedCount++;
        expect([400, 431, 501, 505]).toContain(result.status);
        expect(result.reason.length).toBeGreaterThan(0);
      } else {
        acceptedCount++;
        checkInvariants(text, result);
      }
    }
    // Both sides are exercised: a fuzz that only ever refuses (or accepts) checks nothing.
    expect(acceptedCount).toBeGreaterThan(1000);
    expect(refusedCount).toBeGreaterThan(1000);
  });
  /** What a parse says, as plain values: a head parsed after a previous one must say exactly what a full parse says. */
  const view = (result: ReturnType<typeof parseRequestHead>) =>
    isRefusal(result) ? result : { ...result, fields: Array.from(result.fields.subarray(0, result.fieldCount * FIELD_STRIDE)) };

  test("20,000 mutated heads after a valid one on the same connection: parsed as if alone, repeated header block or not", () => {
    const next = random(0xb10c);
    let repeated = 0;
    for (let i = 0; i < 20_000; i++) {
      const seed = SEEDS[i % SEEDS.length]!;
      let text = seed;
      const roll = next();
      // A fifth are the next request of a keep-alive client: another target, the same block.
      if (roll < 0.2) text = seed.replace(/ \/\S*/, ` /next/${i}`);
      // Some touch only the request line (or what sits between it and the block), so the block may repeat.
      else if (roll < 0.6) {
        const lineEnd = seed.indexOf("\r\n");
        let line = seed.slice(0, lineEnd + 2);
        const rounds = 1 + Math.floor(next() * 2);
        for (let r = 0; r < rounds; r++) line = mutate(line, next);
        text = line + seed.slice(lineEnd + 2);
      } else {
        const rounds = 1 + Math.floor(next() * 3);
        for (let r = 0; r < rounds; r++) text = mutate(text, next);
      }
      const { previous, next: withPrevious } = parsedAfter(seed, text);
      if (!isRefusal(withPrevious) && withPrevious.fields === previous.fields) repeated++;
      expect(view(withPrevious)).toEqual(view(parseRequestHead(text)));
    }
    // The shared path is exercised: a test where it never runs would compare two full parses.
    expect(repeated).toBeGreaterThan(1000);
  });
});
