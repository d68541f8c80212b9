/** Request ids and W3C trace context as pure rules: what is kept, what is replaced. */
import { describe, expect, test } from "bun:test";
import { isSaneRequestId, MAX_REQUEST_ID_LENGTH, newRequestId, requestIdFor } from "../../src/proxies/request-id";
import { gatewayTraceparent, parseTraceparent } from "../../src/proxies/trace-context";
import { traceRequest } from "../../src/proxies/request-trace";
import { upstreamRequestHeaders } from "../../src/proxies/headers";
import { forwardTarget } from "../../src/proxies/forward-target";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";
const VALID = `00-${TRACE}-${PARENT}-01`;

describe("parseTraceparent", () => {
  test.each([
    ["version 00, sampled", VALID, { traceId: TRACE, parentId: PARENT, flags: "01" }],
    ["flags not sampled", `00-${TRACE}-${PARENT}-00`, { traceId: TRACE, parentId: PARENT, flags: "00" }],
  ])("%s is kept", (_name, header, parsed) => {
    expect(parseTraceparent(header)).toEqual(parsed);
  });

  test.each([
    ["absent", null],
    ["empty", ""],
    ["upper-case hex", `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ["all-zero trace id", `00-${"0".repeat(32)}-${PARENT}-01`],
    ["all-zero parent id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["another version", `01-${TRACE}-${PARENT}-01`],
    ["version ff", `ff-${TRACE}-${PARENT}-01`],
    ["short trace id", `00-${TRACE.slice(1)}-${PARENT}-01`],
    ["long parent id", `00-${TRACE}-${PARENT}0-01`],
    ["trailing data on version 00", `${VALID}-extra`],
    ["non-hex", `00-${TRACE.slice(0, 31)}g-${PARENT}-01`],
    ["wrong separators", `00_${TRACE}_${PARENT}_01`],
  ])("%s starts a new trace", (_name, header) => {
    expect(parseTraceparent(header)).toBeNull();
  });
});

describe("gatewayTraceparent", () => {
  test("continues the client's trace as a new span: same trace id and flags, a new non-zero parent id", () => {
    const made = parseTraceparent(gatewayTraceparent(parseTraceparent(VALID)));
    expect(made).not.toBeNull();
    expect(made!.traceId).toBe(TRACE);
    expect(made!.flags).toBe("01");
    expect(made!.parentId).not.toBe(PARENT);
  });

  test("without one, a new valid trace; every span differs", () => {
    const spans = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const made = gatewayTraceparent(null);
      expect(parseTraceparent(made)).not.toBeNull();
      spans.add(made);
    }
    expect(spans.size).toBe(2000);
  });
});

describe("request ids", () => {
  test.each([
    ["a UUID", "0b6a4f7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", true],
    ["visible ASCII", "req_42:a/b+c=d", true],
    ["the longest allowed", "a".repeat(MAX_REQUEST_ID_LENGTH), true],
    ["too long", "a".repeat(MAX_REQUEST_ID_LENGTH + 1), false],
    ["empty", "", false],
    ["a space", "a b", false],
    ["a comma (two ids joined)", "a,b", false],
    ["a quote", 'a"b', false],
    ["markup", "<script>", true],
    ["a control character", "a\tb", false],
    ["non-ASCII", "caf\u00e9", false],
  ])("%s is sane: %p", (_name, id, sane) => {
    expect(isSaneRequestId(id)).toBe(sane);
  });

  test("the client's id counts only from a trusted peer, and only when sane", () => {
    expect(requestIdFor("from-the-lb", true)).toBe("from-the-lb");
    expect(requestIdFor("from-the-lb", false)).not.toBe("from-the-lb");
    expect(requestIdFor("two, ids", true)).not.toBe("two, ids");
    expect(isSaneRequestId(requestIdFor(null, true))).toBe(true);
  });

  test("generated ids are unique and sane", () => {
    const ids = new Set(Array.from({ length: 10_000 }, newRequestId));
    expect(ids.size).toBe(10_000);
    for (const id of ids) expect(isSaneRequestId(id)).toBe(true);
  });
});

describe("the headers the backend gets", () => {
  const target = forwardTarget("http://127.0.0.1:9/");
  const send = (incoming: Record<string, string>, trustedPeer: boolean) => {
    const headers = new Headers({ host: "app.example", ...incoming });
    const trace = traceRequest(headers, trustedPeer);
    return { trace, out: upstreamRequestHeaders(headers, target, { clientIp: "203.0.113.9", proto: "http", trustedPeer, trace }) };
  };

  test("the gateway's id and span replace the client's, underscore spellings too; tracestate goes with a valid traceparent", () => {
    const { trace, out } = send({ "x-request-id": "forged", x_request_id: "forged", traceparent: VALID, tracestate: "vendor=1" }, false);
    expect(out.get("x-request-id")).toBe(trace.requestId);
    expect(out.get("x-request-id")).not.toBe("forged");
    expect(out.has("x_request_id")).toBe(false);
    expect(out.get("traceparent")).toBe(trace.traceparent);
    expect(trace.traceId).toBe(TRACE);
    expect(out.get("tracestate")).toBe("vendor=1");
  });

  test("an invalid traceparent starts a new trace and its tracestate is dropped", () => {
    const { trace, out } = send({ traceparent: `00-${TRACE.toUpperCase()}-${PARENT}-01`, tracestate: "vendor=1", trace_parent: "x" }, false);
    expect(trace.traceId).not.toBe(TRACE.toLowerCase());
    expect(out.get("traceparent")).toBe(trace.traceparent);
    expect(out.has("tracestate")).toBe(false);
  });

  test("a trusted peer's sane id is passed on unchanged", () => {
    const { out } = send({ "x-request-id": "lb-123" }, true);
    expect(out.get("x-request-id")).toBe("lb-123");
  });
});
