/**
 * The raw edge's reuse of a connection's upstream header lines
 * (dispatcher/raw-edge/upstream-header-lines.ts): reused only while every
 * input is the same, each input alone forces a rebuild, lines from a head
 * over 8 KiB are never kept, and latin1 bytes a client sent are flagged. The
 * raw-socket side (a changed header, token or config on one connection) is
 * in raw-edge.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { HeadHeaders } from "../../src/dispatcher/http1/head-headers";
import { isRefusal, parseRequestHead, type RequestHead } from "../../src/dispatcher/http1/request-head";
import { UpstreamHeaderLines } from "../../src/dispatcher/raw-edge/upstream-header-lines";
import { forwardTarget, type IdentityRewrite } from "../../src/proxies/forward-target";
import type { RequestTrace } from "../../src/proxies/request-trace";

function parsed(headerLines: string, path = "/"): RequestHead {
  const head = parseRequestHead(`GET ${path} HTTP/1.1\r\nHost: app.example.test\r\n${headerLines}`.replace(/\r\n$/, ""));
  if (isRefusal(head)) throw new Error(head.reason);
  return head;
}

const target = forwardTarget("http://127.0.0.1:9000/");
const trace = (continued: boolean): RequestTrace => ({ requestId: "r1", traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-00`, traceId: "1".repeat(32), continued });
const identity = (user: string): IdentityRewrite => ({ stripPrefix: "x-auth-", headers: [["x-auth-user", user]], dropAuthorization: true, rewriteCookie: null });
const context = { clientIp: "192.0.2.1", proto: "http" as const, trustedPeer: false, trace: trace(false), identity: identity("alice") };

/** Counts the passes over the client's headers, i.e. the builds. */
function counted(head: RequestHead) {
  const headers = new HeadHeaders(head);
  let passes = 0;
  const forEach = headers.forEach.bind(headers);
  headers.forEach = (visit) => {
    passes++;
    forEach(visit);
  };
  return { headers, passes: () => passes };
}

describe("UpstreamHeaderLines", () => {
  test("the same inputs again: the same lines, built once, holding no request id or span", () => {
    const memo = new UpstreamHeaderLines();
    const head = parsed("X-Note: one\r\n");
    const { headers, passes } = counted(head);
    const first = memo.get(head, headers, target, context);
    const again = memo.get(parsed("X-Note: one\r\n"), headers, target, { ...context, trace: { ...trace(false), requestId: "r2" } });
    expect(again).toBe(first);
    expect(passes()).toBe(1);
    expect(first.text).toContain("x-note: one\r\n");
    expect(first.text).toContain("x-auth-user: alice\r\n");
    expect(first.text).toContain("x-forwarded-for: 192.0.2.1\r\n");
    expect(first.text.toLowerCase()).not.toContain("x-request-id");
    expect(first.text.toLowerCase()).not.toContain("traceparent");
    expect(first.ascii).toBe(true);
  });

  test("each input alone changes the lines: the header block, the target, the identity, the client's address and trust, a continued trace", () => {
    // A client that sends X-Forwarded-For: replaced unless the peer is trusted, extended if it is.
    const head = parsed("X-Note: one\r\nX-Forwarded-For: 203.0.113.9\r\n");
    const other = parsed("X-Note: two\r\nX-Forwarded-For: 203.0.113.9\r\n");
    const changes: [string, (memo: UpstreamHeaderLines) => string][] = [
      ["header block", (memo) => memo.get(other, new HeadHeaders(other), target, context).text],
      ["target", (memo) => memo.get(head, new HeadHeaders(head), forwardTarget("http://127.0.0.1:9000/", { requestHeaders: { "X-Config": "2" } }), context).text],
      ["identity", (memo) => memo.get(head, new HeadHeaders(head), target, { ...context, identity: identity("carol") }).text],
      ["client address", (memo) => memo.get(head, new HeadHeaders(head), target, { ...context, clientIp: "192.0.2.2" }).text],
      ["trusted peer", (memo) => memo.get(head, new HeadHeaders(head), target, { ...context, trustedPeer: true }).text],
    ];
    for (const [what, change] of changes) {
      const memo = new UpstreamHeaderLines();
      const before = memo.get(head, new HeadHeaders(head), target, context).text;
      expect({ what, same: change(memo) === before }).toEqual({ what, same: false });
    }
    // A continued trace keeps the client's tracestate; one that is not drops it. The header block is the same for both.
    const traced = parsed(`traceparent: 00-${"a".repeat(32)}-${"b".repeat(16)}-01\r\ntracestate: vendor=1\r\n`);
    const memo = new UpstreamHeaderLines();
    expect(memo.get(traced, new HeadHeaders(traced), target, { ...context, trace: trace(true) }).text).toContain("tracestate: vendor=1");
    expect(memo.get(traced, new HeadHeaders(traced), target, { ...context, trace: trace(false) }).text).not.toContain("tracestate");
  });

  test("a head over 8 KiB is built each time, never kept: a long header, or a long request line behind short headers", () => {
    for (const head of [parsed(`Cookie: c=${"x".repeat(9000)}\r\n`), parsed("X-Note: one\r\n", `/${"p".repeat(9000)}`)]) {
      const memo = new UpstreamHeaderLines();
      const { headers, passes } = counted(head);
      memo.get(head, headers, target, context);
      memo.get(head, headers, target, context);
      expect(passes()).toBe(2);
    }
  });

  test("a header value with a latin1 byte is flagged, so the head goes out as latin1 bytes", () => {
    const head = parsed("X-Name: caf\u00e9\r\n");
    expect(new UpstreamHeaderLines().get(head, new HeadHeaders(head), target, context)).toMatchObject({ ascii: false, text: expect.stringContaining("x-name: caf\u00e9\r\n") });
  });
});
