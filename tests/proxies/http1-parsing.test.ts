/**
 * The raw client's pure parsers: response heads (framing decisions included)
 * and chunked bodies, fed whole and byte by byte, plus random garbage.
 */
import { describe, expect, test } from "bun:test";
import { ChunkedDecoder } from "../../src/proxies/http1/chunked-decoder";
import { findHeadEnd, parseResponseHead, type ResponseHead } from "../../src/proxies/http1/response-head";

const parse = (head: string, method = "GET"): ResponseHead => {
  const parsed = parseResponseHead(head, method);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
};

describe("parseResponseHead", () => {
  test("status, reason, headers lowercased, hop-by-hop left out", () => {
    const h = parse("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-Thing:  spaced  \r\nKeep-Alive: timeout=5\r\nUpgrade: h2c\r\nContent-Length: 3");
    expect(h.status).toBe(404);
    expect(h.reason).toBe("Not Found");
    expect(h.headers).toEqual([["content-type", "text/plain"], ["x-thing", "spaced"]]);
    expect(h.framing).toEqual({ kind: "length", length: 3 });
    expect(h.keepAlive).toBe(true);
    expect(h.hasContentType).toBe(true);
    expect(h.eventStream).toBe(false);
  });

  test("an event stream is recognised by its media type, in any case and with parameters", () => {
    expect(parse("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream").eventStream).toBe(true);
    expect(parse("HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream; charset=utf-8").eventStream).toBe(true);
    expect(parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain").eventStream).toBe(false);
    expect(parse("HTTP/1.1 200 OK").eventStream).toBe(false);
  });

  test("framing: chunked, close-delimited, bodiless statuses and HEAD", () => {
    expect(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked").framing.kind).toBe("chunked");
    const close = parse("HTTP/1.1 200 OK\r\nContent-Type: a/b");
    expect(close.framing.kind).toBe("close");
    expect(close.keepAlive).toBe(false);
    for (const status of [204, 304]) expect(parse(`HTTP/1.1 ${status} X\r\nContent-Length: 10`).framing.kind).toBe("none");
    const head = parse("HTTP/1.1 200 OK\r\nContent-Length: 1234", "HEAD");
    expect(head.framing.kind).toBe("none");
    expect(head.contentLength).toBe("1234");
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 0").framing.kind).toBe("none");
  });

  test("Transfer-Encoding wins over Content-Length, and the connection is not reused", () => {
    const h = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked");
    expect(h.framing.kind).toBe("chunked");
    expect(h.keepAlive).toBe(false);
    expect(h.contentLength).toBeUndefined();
  });

  test("keep-alive rules for HTTP/1.0 and Connection: close", () => {
    expect(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1").keepAlive).toBe(false);
    expect(parse("HTTP/1.0 200 OK\r\nContent-Length: 1").keepAlive).toBe(false);
    expect(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1").keepAlive).toBe(true);
    const named = parse("HTTP/1.1 200 OK\r\nConnection: X-Private, close\r\nX-Private: 1\r\nContent-Length: 1");
    expect(named.connectionTokens).toEqual(["x-private", "close"]);
  });

  test("no reason phrase is fine", () => {
    expect(parse("HTTP/1.1 200\r\nContent-Length: 1").reason).toBe("");
  });

  test("malformed heads are refused", () => {
    for (const bad of [
      "HTTP/2 200 OK",
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1 1e2 OK",
      "HTTP/1.1 +20 OK",
      "HTTP/1.1 099 OK",
      "ICY 200 OK",
      "HTTP/1.1 200 OK\r\nNo-Colon",
      "HTTP/1.1 200 OK\r\n folded: value",
      "HTTP/1.1 200 OK\r\nBad Name: value",
      "HTTP/1.1 200 OK\r\n: empty name",
      "HTTP/1.1 200 OK\r\nContent-Length: -1",
      "HTTP/1.1 200 OK\r\nContent-Length: 1, 2",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip",
    ]) {
      expect(typeof parseResponseHead(bad, "GET")).toBe("string");
    }
  });

  test("identical repeated Content-Length is accepted", () => {
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7").framing).toEqual({ kind: "length", length: 7 });
  });

  test("findHeadEnd", () => {
    const bytes = Buffer.from("HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody");
    expect(findHeadEnd(bytes, 0)).toBe(bytes.indexOf("body"));
    expect(findHeadEnd(Buffer.from("HTTP/1.1 200 OK\r\nA: b\r\n"), 0)).toBe(-1);
  });

  test("random input never throws", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const alphabet = "HTTP/1.0 2:\r\n\t ;,abcXYZ-09%\x00\x7f\xff";
    for (let i = 0; i < 5_000; i++) {
      let text = i % 2 ? "HTTP/1.1 200 OK\r\n" : "";
      const length = Math.floor(random() * 80);
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * alphabet.length)];
      expect(() => parseResponseHead(text, i % 3 ? "GET" : "HEAD")).not.toThrow();
    }
  });
});

function decodeAll(input: string, split: number): { result: string; body: string; leftover: number } {
  const decoder = new ChunkedDecoder();
  const bytes = Buffer.from(input, "latin1");
  let body = "";
  let result = "more";
  for (let i = 0; i < bytes.length && result === "more"; i += split) {
    result = decoder.push(bytes.subarray(i, i + split), (piece) => (body += Buffer.from(piece).toString("latin1")));
  }
  return { result, body, leftover: decoder.leftover };
}

describe("ChunkedDecoder", () => {
  const sample = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n";

  test("whole and byte-by-byte give the same body; extensions and trailers dropped", () => {
    for (const split of [1, 2, 3, 7, 1000]) {
      expect(decodeAll(sample, split)).toEqual({ result: "done", body: "hello, world", leftover: 0 });
    }
  });

  test("upper-case hex sizes and an empty body", () => {
    expect(decodeAll("A\r\n0123456789\r\n0\r\n\r\n", 4).body).toBe("0123456789");
    expect(decodeAll("0\r\n\r\n", 1)).toEqual({ result: "done", body: "", leftover: 0 });
  });

  test("bytes after the last chunk are counted as leftover", () => {
    expect(decodeAll("1\r\na\r\n0\r\n\r\nHTTP/1.1 200", 1000).leftover).toBe(12);
  });

  test("incomplete input asks for more", () => {
    expect(decodeAll("5\r\nhel", 1000).result).toBe("more");
    expect(decodeAll("5\r\nhello\r\n0\r\n", 1000).result).toBe("more");
  });

  test("malformed framing is an error", () => {
    for (const bad of ["x\r\n", "5\nhello", "5\r\nhelloX\r\n", "-1\r\n", "1234567890abc\r\n", " \r\n", `${"1".repeat(5000)}\r\n`]) {
      expect(decodeAll(bad, 1000).result).toBe("error");
    }
  });
});
