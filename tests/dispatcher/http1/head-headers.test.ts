/** HeadHeaders: a parsed request head read as the header rules and edge auth read a Request's Headers. */
import { expect, test } from "bun:test";
import { HeadHeaders } from "../../../src/dispatcher/http1/head-headers";
import { isRefusal, parseRequestHead } from "../../../src/dispatcher/http1/request-head";
import { RepeatedHeads } from "../../../src/dispatcher/raw-edge/repeated-heads";

function headersOf(lines: readonly string[]): HeadHeaders {
  const head = parseRequestHead(["GET / HTTP/1.1", ...lines].join("\r\n"));
  if (isRefusal(head)) throw new Error(head.reason);
  return new HeadHeaders(head);
}

test("get: names compared case-insensitively, repeated lines joined with a comma, absent ones null", () => {
  const headers = headersOf(["Host: app.example.test", "X-Tag: one", "AUTHORIZATION: Bearer abc", "x-tag:two  "]);
  expect(headers.get("authorization")).toBe("Bearer abc");
  expect(headers.get("x-tag")).toBe("one, two");
  expect(headers.get("cookie")).toBeNull();
  expect(headers.has("x-tag")).toBe(true);
  expect(headers.has("cookie")).toBe(false);
});

test("get('host') is the Host line's value, without its whitespace", () => {
  expect(headersOf(["host: \tapp.example.test:8080 "]).get("host")).toBe("app.example.test:8080");
  const http10 = parseRequestHead("GET / HTTP/1.0\r\nAccept: */*");
  if (isRefusal(http10)) throw new Error(http10.reason);
  expect(new HeadHeaders(http10).get("host")).toBeNull();
});

test("lookups in any order each get their own header's value (the last one is remembered, not mixed up)", () => {
  const headers = headersOf(["Host: h", "Authorization: Bearer t", "Cookie: a=1", "Accept: text/html"]);
  const expected: Record<string, string | null> = { authorization: "Bearer t", cookie: "a=1", accept: "text/html", host: "h", "x-none": null };
  for (const name of ["authorization", "authorization", "cookie", "authorization", "x-none", "x-none", "accept", "host", "cookie", "x-none", "authorization"]) {
    expect(headers.get(name)).toBe(expected[name]!);
  }
});

test("forEach visits every line in order, names lower-cased, repeated ones one by one", () => {
  const seen: string[] = [];
  headersOf(["Host: h", "X-Tag: one", "X-TAG: two"]).forEach((value, name) => seen.push(`${name}=${value}`));
  expect(seen).toEqual(["host=h", "x-tag=one", "x-tag=two"]);
});

test("reads: the headers of a head also read the next head whose block the parser shared, and no other", () => {
  const heads = new RepeatedHeads();
  const onConnection = (text: string) => {
    const bytes = Buffer.from(`${text}\r\n\r\n`, "latin1");
    return heads.parse(bytes, bytes.length);
  };
  const first = onConnection("GET /1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t");
  if (isRefusal(first)) throw new Error(first.reason);
  const headers = new HeadHeaders(first);
  const value = headers.get("authorization");
  const repeated = onConnection("GET /2 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t");
  const other = onConnection("GET /2 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer u");
  const alone = parseRequestHead("GET /2 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t");
  if (isRefusal(repeated) || isRefusal(other) || isRefusal(alone)) throw new Error("refused");
  expect(headers.reads(repeated)).toBe(true);
  // The value the next request reads is the very string the last one did.
  expect(headers.get("authorization")).toBe(value!);
  expect(headers.reads(other)).toBe(false);
  expect(new HeadHeaders(other).get("authorization")).toBe("Bearer u");
  // Same bytes parsed on their own: a separate parse, read by its own headers.
  expect(headers.reads(alone)).toBe(false);
});
