/**
 * RepeatedHeads: a connection's heads whose header block repeats byte for
 * byte share its parse; every head, repeated or not, is parsed exactly as it
 * would be on its own.
 */
import { describe, expect, test } from "bun:test";
import { FIELD_STRIDE, isRefusal, parseRequestHead, type RequestHead } from "../../src/dispatcher/http1/request-head";
import { RepeatedHeads } from "../../src/dispatcher/raw-edge/repeated-heads";

const bytes = (text: string) => Buffer.from(`${text}\r\n\r\n`, "latin1");
const parse = (heads: RepeatedHeads, text: string) => {
  const buffer = bytes(text);
  return heads.parse(buffer, buffer.length);
};
/** What a parse says, as plain values. */
const view = (result: ReturnType<typeof parseRequestHead>) =>
  isRefusal(result) ? result : { ...result, fields: Array.from(result.fields.subarray(0, result.fieldCount * FIELD_STRIDE)) };
const accepted = (result: ReturnType<typeof parseRequestHead>): RequestHead => {
  if (isRefusal(result)) throw new Error(result.reason);
  return result;
};

const BLOCK = "Host: app.test\r\nAuthorization: Bearer abc.def\r\nX-Name: caf\xe9";

describe("RepeatedHeads", () => {
  test("the same block after another request line: shared, and what a full parse gives", () => {
    const heads = new RepeatedHeads();
    const first = accepted(parse(heads, `GET /1 HTTP/1.1\r\n${BLOCK}`));
    const second = accepted(parse(heads, `POST /2?x=y HTTP/1.1\r\n${BLOCK}`));
    expect(second.fields).toBe(first.fields);
    expect(second.text).toBe(first.text);
    expect(view(second)).toEqual(view(parseRequestHead(`POST /2?x=y HTTP/1.1\r\n${BLOCK}`)));
    // The third in a row still finds it.
    expect(accepted(parse(heads, `GET /3 HTTP/1.1\r\n${BLOCK}`)).fields).toBe(first.fields);
  });

  test("one byte changed in the block, or a line inserted before it, or another version: parsed whole", () => {
    for (const next of [`GET /2 HTTP/1.1\r\n${BLOCK.replace("abc", "abd")}`, `GET /2 HTTP/1.1\r\nX-Extra: 1\r\n${BLOCK}`, `GET /2 HTTP/1.0\r\n${BLOCK}`]) {
      const heads = new RepeatedHeads();
      const first = accepted(parse(heads, `GET /1 HTTP/1.1\r\n${BLOCK}`));
      const result = accepted(parse(heads, next));
      expect(result.fields).not.toBe(first.fields);
      expect(view(result)).toEqual(view(parseRequestHead(next)));
    }
  });

  test("header lines smuggled between the request line and a repeated block count: the head is refused as on its own", () => {
    const heads = new RepeatedHeads();
    accepted(parse(heads, "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5"));
    expect(parse(heads, "POST /2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: a\r\nContent-Length: 5")).toEqual({ status: 400, reason: "both Transfer-Encoding and Content-Length" });
  });

  test("a bad request line before a repeated block gets a full parse's refusal", () => {
    for (const line of ["GET /a b HTTP/1.1", "GET /\r HTTP/1.1", "GET / HTTP/2.0", "CONNECT a:443 HTTP/1.1", "GET\t/ HTTP/1.1"]) {
      const heads = new RepeatedHeads();
      accepted(parse(heads, `GET /1 HTTP/1.1\r\n${BLOCK}`));
      const result = parse(heads, `${line}\r\n${BLOCK}`);
      expect(isRefusal(result)).toBe(true);
      expect(result).toEqual(parseRequestHead(`${line}\r\n${BLOCK}`));
    }
  });

  test("a head over 8 KiB is not kept: the next one is parsed whole", () => {
    const big = `Host: a\r\nCookie: c=${"x".repeat(9000)}`;
    const heads = new RepeatedHeads();
    const first = accepted(parse(heads, `GET /1 HTTP/1.1\r\n${big}`));
    expect(accepted(parse(heads, `GET /2 HTTP/1.1\r\n${big}`)).fields).not.toBe(first.fields);
  });

  test("seeded: 20,000 heads on one connection, each parsed exactly as on its own", () => {
    let seed = 0x4ead;
    const next = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const LINES = ["GET / HTTP/1.1", "POST /x?y=1 HTTP/1.1", "GET / HTTP/1.0", "GET /a b HTTP/1.1", "GET / HTTP/1.1 ", "OPTIONS * HTTP/1.1", "G\x01T / HTTP/1.1"];
    const BLOCKS = [BLOCK, "Host: a\r\nContent-Length: 5", "Host: a\r\nTransfer-Encoding: chunked", "Host: a\r\nConnection: close", "Host: a", "Connection: keep-alive", "Host: a\r\nHost: b", "Host: a\r\n X-Folded: 1"];
    const PIECES = ["\r\n", "\n", "\r", " ", ":", "\0", "Content-Length: 6\r\n", "Transfer-Encoding: chunked\r\n"];
    const heads = new RepeatedHeads();
    let shared = 0;
    let last: RequestHead | undefined;
    let current = BLOCKS[0]!;
    for (let i = 0; i < 20_000; i++) {
      const line = LINES[Math.floor(next() * LINES.length)]!;
      // Mostly the block of the request before (a keep-alive client); sometimes another, or bytes slipped in.
      if (next() < 0.3) current = BLOCKS[Math.floor(next() * BLOCKS.length)]!;
      let block = current;
      if (next() < 0.2) {
        const at = Math.floor(next() * (block.length + 1));
        block = block.slice(0, at) + PIECES[Math.floor(next() * PIECES.length)]! + block.slice(at);
      }
      const text = `${line}\r\n${block}`;
      // Only texts a head can be: findHeadEnd stops at the first empty line.
      if (text.includes("\r\n\r\n") || text.endsWith("\r\n")) continue;
      const result = parse(heads, text);
      if (!isRefusal(result) && last !== undefined && result.fields === last.fields) shared++;
      if (!isRefusal(result)) last = result;
      expect(view(result)).toEqual(view(parseRequestHead(text)));
    }
    expect(shared).toBeGreaterThan(1000);
  });
});
