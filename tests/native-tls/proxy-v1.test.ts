import { describe, expect, test } from "bun:test";
import { encodeProxyHeaderV1, parseProxyHeader, V1_MAX_BYTES, type ProxyHeader, type ProxyParseResult } from "../../native-tls/proxy-protocol";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const parse = (text: string): ProxyParseResult => parseProxyHeader(bytes(text));
const FFFF6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";

describe("PROXY v1: the spec's examples", () => {
  const cases: [string, string, Pick<ProxyHeader, "family" | "source" | "destination">][] = [
    [
      "TCP4 worst case",
      "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
      { family: "tcp4", source: { address: "255.255.255.255", port: 65535 }, destination: { address: "255.255.255.255", port: 65535 } },
    ],
    [
      "TCP6 worst case",
      `PROXY TCP6 ${FFFF6} ${FFFF6} 65535 65535\r\n`,
      { family: "tcp6", source: { address: FFFF6, port: 65535 }, destination: { address: FFFF6, port: 65535 } },
    ],
    ["UNKNOWN alone", "PROXY UNKNOWN\r\n", { family: "unknown" }],
    ["UNKNOWN worst case (107 bytes)", `PROXY UNKNOWN ${FFFF6} ${FFFF6} 65535 65535\r\n`, { family: "unknown" }],
    [
      "the spec's TCP4 example",
      "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
      { family: "tcp4", source: { address: "192.168.0.1", port: 56324 }, destination: { address: "192.168.0.11", port: 443 } },
    ],
  ];
  for (const [name, line, expected] of cases) {
    test(name, () => {
      const result = parse(`${line}GET / HTTP/1.1\r\n`);
      const header: ProxyHeader = { version: 1, command: "proxy", tlvs: [], ...expected };
      expect(result).toEqual({ kind: "header", header, consumed: line.length });
    });
    test(`${name}: every strict prefix is incomplete`, () => {
      for (let n = 0; n < line.length; n++) expect(parse(line.slice(0, n))).toEqual({ kind: "incomplete" });
    });
  }
  test("UNKNOWN has no addresses even when the sender wrote some", () => {
    const result = parse(`PROXY UNKNOWN ${FFFF6} ${FFFF6} 65535 65535\r\n`);
    expect(result.kind === "header" && result.header.source).toBeUndefined();
    expect(result.kind === "header" && result.consumed).toBe(107);
  });
});

describe("PROXY v1: the 107-byte limit", () => {
  const padded = (total: number): string => `PROXY UNKNOWN ${"x".repeat(total - "PROXY UNKNOWN \r\n".length)}\r\n`;
  test("exactly 107 bytes is accepted", () => {
    expect(padded(107).length).toBe(V1_MAX_BYTES);
    expect(parse(padded(107))).toMatchObject({ kind: "header", consumed: 107 });
  });
  test("108 bytes is refused, before and after the CRLF arrives", () => {
    const line = padded(108);
    expect(parse(line)).toMatchObject({ kind: "error", code: "v1_too_long" });
    expect(parse(line.slice(0, 107))).toMatchObject({ kind: "error", code: "v1_too_long" });
    expect(parse(line.slice(0, 106))).toEqual({ kind: "incomplete" });
  });
  test("107 bytes without a CRLF is refused", () => {
    expect(parse(`PROXY UNKNOWN ${"x".repeat(200)}`.slice(0, 107))).toMatchObject({ kind: "error", code: "v1_too_long" });
  });
  test("a CR at byte 107 cannot start the terminator", () => {
    expect(parse(`${padded(108).slice(0, 106)}\r`)).toMatchObject({ kind: "error", code: "v1_too_long" });
    expect(parse(`${padded(107).slice(0, 105)}\r`)).toEqual({ kind: "incomplete" });
  });
});

describe("PROXY v1: addresses are canonicalised", () => {
  const cases: [string, string][] = [
    ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["::", "::"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["fe80::", "fe80::"],
    ["::FFFF:10.0.0.1", "::ffff:10.0.0.1"],
    ["::ffff:a00:1", "::ffff:10.0.0.1"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
  ];
  for (const [given, canonical] of cases) {
    test(`${given} → ${canonical}`, () => {
      const result = parse(`PROXY TCP6 ${given} ::1 1 2\r\n`);
      expect(result.kind === "header" && result.header.source).toEqual({ address: canonical, port: 1 });
    });
  }
});

describe("PROXY v1: refusals", () => {
  const cases: [string, string, string][] = [
    ["HTTP request", "GET / HTTP/1.1\r\n", "not_proxy_protocol"],
    ["near miss", "PROXZ TCP4\r\n", "not_proxy_protocol"],
    ["no space after PROXY", "PROXY\r\n", "not_proxy_protocol"],
    ["lowercase protocol", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "v1_bad_protocol"],
    ["UDP4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "v1_bad_protocol"],
    ["UNKNOWN glued to text", "PROXY UNKNOWNX\r\n", "v1_bad_protocol"],
    ["empty protocol", "PROXY \r\n", "v1_bad_protocol"],
    ["leading zero in IPv4", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "v1_bad_address"],
    ["IPv4 part 256", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "v1_bad_address"],
    ["three-part IPv4", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "v1_bad_address"],
    ["five-part IPv4", "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", "v1_bad_address"],
    ["IPv6 in TCP4", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "v1_bad_address"],
    ["IPv4 in TCP6", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "v1_bad_address"],
    ["nine IPv6 groups", "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", "v1_bad_address"],
    ["seven IPv6 groups", "PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n", "v1_bad_address"],
    ["two ::", "PROXY TCP6 1::2::3 ::1 1 2\r\n", "v1_bad_address"],
    ["five hex digits", "PROXY TCP6 12345:: ::1 1 2\r\n", "v1_bad_address"],
    ["IPv6 zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "v1_bad_address"],
    ["bracketed IPv6", "PROXY TCP6 [::1] ::1 1 2\r\n", "v1_bad_address"],
    ["port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "v1_bad_port"],
    ["signed port", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", "v1_bad_port"],
    ["negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n", "v1_bad_port"],
    ["leading zero in port", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "v1_bad_port"],
    ["double space", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "v1_bad_format"],
    ["missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "v1_bad_format"],
    ["trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "v1_bad_format"],
    ["extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "v1_bad_format"],
    ["LF only", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "v1_bad_format"],
    ["CR without LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "v1_bad_format"],
    ["tab", "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n", "v1_bad_format"],
    ["NUL in UNKNOWN", "PROXY UNKNOWN \0\r\n", "v1_bad_format"],
    ["non-ASCII in UNKNOWN", "PROXY UNKNOWN é\r\n", "v1_bad_format"],
  ];
  for (const [name, text, code] of cases) {
    test(`${name} → ${code}`, () => {
      const result = parse(text);
      expect(result).toMatchObject({ kind: "error", code });
      expect(result.kind === "error" && result.message.length).toBeGreaterThan(0);
    });
  }

  test("junk is refused as soon as it arrives, before any CRLF", () => {
    expect(parse("PROXY TCP4 256")).toMatchObject({ code: "v1_bad_address" });
    expect(parse("PROXY TCP4 1.2.3.4 1:")).toMatchObject({ code: "v1_bad_address" });
    expect(parse("PROXY TCP6 1:2:3:4:5:6:7:8:")).toMatchObject({ code: "v1_bad_address" });
    expect(parse("PROXY TCP4 1.2.3.4 5.6.7.8 99999")).toMatchObject({ code: "v1_bad_port" });
    expect(parse("PROXY TCP7")).toMatchObject({ code: "v1_bad_protocol" });
    expect(parse("PROXY TCP4  ")).toMatchObject({ code: "v1_bad_format" });
    expect(parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ")).toMatchObject({ code: "v1_bad_format" });
  });

  test("a prefix that can still become valid waits", () => {
    for (const partial of ["P", "PROXY", "PROXY T", "PROXY UNKNOWN", "PROXY TCP6 :", "PROXY TCP6 ::ffff:1.2", "PROXY TCP4 1.2.3.4 5.6.7.8 6553", "PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r"]) {
      expect(parse(partial)).toEqual({ kind: "incomplete" });
    }
  });
});

describe("encodeProxyHeaderV1", () => {
  test("round-trips through the parser, canonicalising addresses", () => {
    const encoded = encodeProxyHeaderV1({ family: "tcp6", source: { address: "2001:DB8:0:0::1", port: 5000 }, destination: { address: "::1", port: 443 } });
    expect(new TextDecoder().decode(encoded)).toBe("PROXY TCP6 2001:db8::1 ::1 5000 443\r\n");
    expect(parseProxyHeader(encoded)).toMatchObject({ kind: "header", consumed: encoded.length, header: { source: { address: "2001:db8::1" } } });
    expect(new TextDecoder().decode(encodeProxyHeaderV1({ family: "tcp4", source: { address: "10.0.0.1", port: 1 }, destination: { address: "10.0.0.2", port: 2 } }))).toBe(
      "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n",
    );
    expect(new TextDecoder().decode(encodeProxyHeaderV1({ family: "unknown" }))).toBe("PROXY UNKNOWN\r\n");
  });
  test("refuses what would not parse back", () => {
    expect(() => encodeProxyHeaderV1({ family: "tcp4", source: { address: "::1", port: 1 }, destination: { address: "1.2.3.4", port: 2 } })).toThrow(RangeError);
    expect(() => encodeProxyHeaderV1({ family: "tcp4", source: { address: "1.2.3.4", port: 70000 }, destination: { address: "1.2.3.4", port: 2 } })).toThrow(RangeError);
    expect(() => encodeProxyHeaderV1({ family: "tcp6" })).toThrow(RangeError);
  });
});
