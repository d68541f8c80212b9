import { describe, expect, test } from "bun:test";
import {
  crc32c,
  encodeProxyHeaderV2,
  parseProxyHeader,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_CRC32C,
  PP2_TYPE_NOOP,
  PP2_TYPE_SSL,
  PP2_TYPE_UNIQUE_ID,
  V2_DEFAULT_MAX_BYTES,
  V2_SIGNATURE,
  type ProxyHeaderV2Input,
  type ProxyParseResult,
} from "../../native-tls/proxy-protocol";
import { concat } from "./hello-builder";

const SIG = [...V2_SIGNATURE];
const u16 = (n: number): number[] => [n >> 8, n & 0xff];
/** A v2 header from its parts, with the length computed from the body. */
const raw = (verCmd: number, fam: number, body: number[]): Uint8Array => Uint8Array.from([...SIG, verCmd, fam, ...u16(body.length), ...body]);
const tlv = (type: number, value: number[]): number[] => [type, ...u16(value.length), ...value];
const text = (s: string): number[] => [...new TextEncoder().encode(s)];
const TCP4_ADDRESSES = [192, 168, 0, 1, 10, 0, 0, 2, ...u16(56324), ...u16(443)];

function header(result: ProxyParseResult) {
  if (result.kind !== "header") throw new Error(`expected a header, got ${JSON.stringify(result)}`);
  return result.header;
}

describe("PROXY v2: addresses", () => {
  test("TCP over IPv4, byte by byte as the spec lays it out", () => {
    const bytes = concat(raw(0x21, 0x11, TCP4_ADDRESSES), Uint8Array.from(text("GET /")));
    expect(parseProxyHeader(bytes)).toEqual({
      kind: "header",
      header: {
        version: 2,
        command: "proxy",
        family: "tcp4",
        source: { address: "192.168.0.1", port: 56324 },
        destination: { address: "10.0.0.2", port: 443 },
        tlvs: [],
      },
      consumed: 28,
    });
  });

  test("TCP and UDP over IPv6, UDP over IPv4", () => {
    const v6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1, ...new Array(10).fill(0), 0xff, 0xff, 10, 1, 2, 3, ...u16(1), ...u16(2)];
    expect(header(parseProxyHeader(raw(0x21, 0x21, v6)))).toMatchObject({
      family: "tcp6",
      source: { address: "2001:db8::1", port: 1 },
      destination: { address: "::ffff:10.1.2.3", port: 2 },
    });
    expect(header(parseProxyHeader(raw(0x21, 0x22, v6))).family).toBe("udp6");
    expect(header(parseProxyHeader(raw(0x21, 0x12, TCP4_ADDRESSES))).family).toBe("udp4");
  });

  test("UNIX stream and datagram sockets, paths and abstract names", () => {
    const path = (p: string): number[] => [...text(p), ...new Array(108 - text(p).length).fill(0)];
    const abstract = [0, ...text("haproxy"), ...new Array(100).fill(0)];
    expect(header(parseProxyHeader(raw(0x21, 0x31, [...path("/run/haproxy.sock"), ...abstract])))).toMatchObject({
      family: "unix",
      source: { address: "/run/haproxy.sock", port: 0 },
      destination: { address: "@haproxy", port: 0 },
    });
    expect(header(parseProxyHeader(raw(0x21, 0x32, [...path("/a"), ...new Array(108).fill(0)])))).toMatchObject({
      family: "unix_dgram",
      source: { address: "/a" },
      destination: { address: "" },
    });
    const encoded = encodeProxyHeaderV2({ command: "proxy", family: "unix", source: { address: "/tmp/x", port: 0 }, destination: { address: "@ns", port: 0 } });
    expect(encoded.length).toBe(16 + 216);
    expect(header(parseProxyHeader(encoded))).toMatchObject({ source: { address: "/tmp/x" }, destination: { address: "@ns" } });
  });

  test("AF_UNSPEC: no addresses, TLVs straight after the fixed part", () => {
    expect(header(parseProxyHeader(raw(0x21, 0x00, tlv(PP2_TYPE_AUTHORITY, text("a.example")))))).toMatchObject({
      family: "unknown",
      authority: "a.example",
    });
    expect(header(parseProxyHeader(raw(0x21, 0x00, []))).source).toBeUndefined();
  });

  test("LOCAL: the block, family included, is ignored", () => {
    for (const fam of [0x00, 0x11, 0xff]) {
      const bytes = concat(raw(0x20, fam, [1, 2, 3, 4, 5]), Uint8Array.from(text("health")));
      expect(parseProxyHeader(bytes)).toEqual({ kind: "header", header: { version: 2, command: "local", family: "unknown", tlvs: [] }, consumed: 21 });
    }
    expect(parseProxyHeader(encodeProxyHeaderV2({ command: "local" }))).toMatchObject({ kind: "header", consumed: 16, header: { command: "local" } });
  });
});

describe("PROXY v2: incomplete input", () => {
  const samples = [
    raw(0x21, 0x11, TCP4_ADDRESSES),
    raw(0x20, 0x00, []),
    encodeProxyHeaderV2({ command: "proxy", family: "tcp6", source: { address: "::1", port: 1 }, destination: { address: "::2", port: 2 }, authority: "x", checksum: true }),
  ];
  test("every strict prefix is incomplete", () => {
    for (const sample of samples) {
      for (let n = 0; n < sample.length; n++) expect(parseProxyHeader(sample.subarray(0, n))).toEqual({ kind: "incomplete" });
      expect(parseProxyHeader(sample).kind).toBe("header");
    }
  });
  test("a signature split across reads, at every split point", () => {
    const full = concat(samples[0]!, Uint8Array.from(text("rest")));
    for (let cut = 1; cut < 16; cut++) {
      let buffer = full.subarray(0, cut);
      expect(parseProxyHeader(buffer)).toEqual({ kind: "incomplete" });
      buffer = concat(buffer, full.subarray(cut));
      expect(parseProxyHeader(buffer)).toMatchObject({ kind: "header", consumed: 28 });
    }
  });
  test("a signature that goes wrong part way is refused at once", () => {
    expect(parseProxyHeader(Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0d]))).toMatchObject({ code: "not_proxy_protocol" });
    expect(parseProxyHeader(Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0b]))).toMatchObject({ code: "not_proxy_protocol" });
    expect(parseProxyHeader(Uint8Array.from([0x16, 0x03, 0x01]))).toMatchObject({ code: "not_proxy_protocol" });
  });
});

describe("PROXY v2: refusals", () => {
  test("version nibble other than 2", () => {
    for (const verCmd of [0x11, 0x31, 0x01, 0xf1]) expect(parseProxyHeader(raw(verCmd, 0x11, TCP4_ADDRESSES))).toMatchObject({ code: "v2_bad_version" });
    expect(parseProxyHeader(Uint8Array.from([...SIG, 0x11]))).toMatchObject({ code: "v2_bad_version" });
  });
  test("command other than LOCAL or PROXY", () => {
    for (const verCmd of [0x22, 0x2f]) expect(parseProxyHeader(raw(verCmd, 0x11, TCP4_ADDRESSES))).toMatchObject({ code: "v2_bad_command" });
  });
  test("family/transport bytes the spec does not define", () => {
    for (const fam of [0x01, 0x10, 0x13, 0x20, 0x23, 0x30, 0x41, 0xff]) {
      expect(parseProxyHeader(raw(0x21, fam, TCP4_ADDRESSES))).toMatchObject({ code: "v2_bad_family" });
      expect(parseProxyHeader(Uint8Array.from([...SIG, 0x21, fam]))).toMatchObject({ code: "v2_bad_family" });
    }
  });
  test("length beyond the cap, decided from the fixed part alone", () => {
    const claim = (length: number): Uint8Array => Uint8Array.from([...SIG, 0x21, 0x11, ...u16(length)]);
    expect(parseProxyHeader(claim(0xffff))).toMatchObject({ code: "v2_length_too_large" });
    expect(parseProxyHeader(claim(V2_DEFAULT_MAX_BYTES - 16 + 1))).toMatchObject({ code: "v2_length_too_large" });
    expect(parseProxyHeader(claim(V2_DEFAULT_MAX_BYTES - 16))).toEqual({ kind: "incomplete" });
    expect(parseProxyHeader(claim(0xffff), { maxV2Bytes: 70000 })).toEqual({ kind: "incomplete" });
    expect(parseProxyHeader(claim(300), { maxV2Bytes: 1 })).toMatchObject({ code: "v2_length_too_large" });
  });
  test("a header exactly at the cap is accepted", () => {
    const padding = new Array(V2_DEFAULT_MAX_BYTES - 16 - 12 - 3).fill(0);
    const bytes = raw(0x21, 0x11, [...TCP4_ADDRESSES, ...tlv(PP2_TYPE_NOOP, padding)]);
    expect(bytes.length).toBe(V2_DEFAULT_MAX_BYTES);
    expect(parseProxyHeader(bytes)).toMatchObject({ kind: "header", consumed: V2_DEFAULT_MAX_BYTES });
  });
  test("a length too short for the family's addresses", () => {
    expect(parseProxyHeader(raw(0x21, 0x11, TCP4_ADDRESSES.slice(0, 11)))).toMatchObject({ code: "v2_truncated_addresses" });
    expect(parseProxyHeader(raw(0x21, 0x21, new Array(35).fill(0)))).toMatchObject({ code: "v2_truncated_addresses" });
    expect(parseProxyHeader(raw(0x21, 0x31, new Array(215).fill(0)))).toMatchObject({ code: "v2_truncated_addresses" });
    // Known from the length field alone, before the body arrives.
    expect(parseProxyHeader(Uint8Array.from([...SIG, 0x21, 0x21, ...u16(20)]))).toMatchObject({ code: "v2_truncated_addresses" });
  });
});

describe("PROXY v2: TLVs", () => {
  test("ALPN, AUTHORITY, UNIQUE_ID, SSL, NETNS, NOOP and custom types", () => {
    const ssl = [0x07, 0, 0, 0, 0, ...tlv(0x21, text("TLSv1.3")), ...tlv(0x22, text("Jöhn")), ...tlv(0x23, text("TLS_AES_128_GCM_SHA256")), ...tlv(0x24, text("RSA-SHA256")), ...tlv(0x25, text("RSA2048")), ...tlv(0x26, [9])];
    const body = [
      ...TCP4_ADDRESSES,
      ...tlv(0x01, text("h2")),
      ...tlv(0x02, text("api.example.com")),
      ...tlv(0x04, [0, 0, 0]),
      ...tlv(0x05, [1, 2, 3]),
      ...tlv(0x20, ssl),
      ...tlv(0x30, text("blue")),
      ...tlv(0xea, text("vpce-123")),
    ];
    const h = header(parseProxyHeader(raw(0x21, 0x11, body)));
    expect(h).toMatchObject({
      alpn: "h2",
      authority: "api.example.com",
      uniqueId: Uint8Array.of(1, 2, 3),
      netns: "blue",
      ssl: {
        client: 7,
        clientSsl: true,
        clientCertConnection: true,
        clientCertSession: true,
        verify: 0,
        version: "TLSv1.3",
        commonName: "Jöhn",
        cipher: "TLS_AES_128_GCM_SHA256",
        signatureAlgorithm: "RSA-SHA256",
        keyAlgorithm: "RSA2048",
      },
    });
    expect(h.tlvs.map((t) => t.type)).toEqual([0x01, 0x02, 0x04, 0x05, 0x20, 0x30, 0xea]);
    expect(h.tlvs[6]!.value).toEqual(Uint8Array.from(text("vpce-123")));
    expect(h.ssl!.tlvs.map((t) => t.type)).toEqual([0x21, 0x22, 0x23, 0x24, 0x25, 0x26]);
    expect(h.checksumVerified).toBeUndefined();
  });

  test("an unverified client certificate reports its verify code", () => {
    const h = header(parseProxyHeader(raw(0x21, 0x11, [...TCP4_ADDRESSES, ...tlv(PP2_TYPE_SSL, [0x03, 0, 0, 0, 0x14])])));
    expect(h.ssl).toMatchObject({ clientSsl: true, clientCertConnection: true, clientCertSession: false, verify: 20 });
  });

  test("values are copies, not views of the caller's buffer", () => {
    const bytes = raw(0x21, 0x11, [...TCP4_ADDRESSES, ...tlv(PP2_TYPE_UNIQUE_ID, [1, 2, 3])]);
    const h = header(parseProxyHeader(bytes));
    bytes.fill(0);
    expect(h.uniqueId).toEqual(Uint8Array.of(1, 2, 3));
    expect(h.tlvs[0]!.value).toEqual(Uint8Array.of(1, 2, 3));
  });

  test("CRC32C: a matching checksum is verified, a wrong one refused", () => {
    expect(crc32c(Uint8Array.from(text("123456789")))).toBe(0xe3069283);
    const input: ProxyHeaderV2Input = { command: "proxy", family: "tcp4", source: { address: "1.2.3.4", port: 1 }, destination: { address: "5.6.7.8", port: 2 }, authority: "x", checksum: true };
    const good = encodeProxyHeaderV2(input);
    expect(header(parseProxyHeader(good)).checksumVerified).toBe(true);
    // The checksum is the CRC of the header with its own value zeroed.
    const zeroed = good.slice();
    zeroed.fill(0, good.length - 4);
    const sent = new DataView(good.buffer, good.byteOffset).getUint32(good.length - 4);
    expect(sent).toBe(crc32c(zeroed));
    // One changed byte anywhere the other checks do not look: family (tcp4 → udp4), an address, the authority, the checksum itself.
    for (const [at, value] of [[13, 0x12], [17, 0x99], [good.length - 8, 0x79], [good.length - 1, good.at(-1)! ^ 1]] as const) {
      const bad = good.slice();
      bad[at] = value;
      expect(parseProxyHeader(bad)).toMatchObject({ kind: "error", code: "v2_bad_checksum" });
    }
    expect(parseProxyHeader(raw(0x21, 0x11, [...TCP4_ADDRESSES, ...tlv(PP2_TYPE_CRC32C, [0, 0, 0, 0])]))).toMatchObject({ code: "v2_bad_checksum" });
    expect(parseProxyHeader(raw(0x21, 0x11, [...TCP4_ADDRESSES, ...tlv(PP2_TYPE_CRC32C, [0, 0, 0])]))).toMatchObject({ code: "v2_bad_tlv" });
  });

  const badTlvs: [string, number[]][] = [
    ["a value running past the header", [0x01, 0, 5, 0x68, 0x32]],
    ["one stray byte", [0x04]],
    ["two stray bytes", [0x04, 0x00]],
    ["two AUTHORITY values", [...tlv(0x02, text("a")), ...tlv(0x02, text("b"))]],
    ["AUTHORITY not UTF-8", tlv(0x02, [0xc3, 0x28])],
    ["empty AUTHORITY", tlv(0x02, [])],
    ["empty ALPN", tlv(0x01, [])],
    ["UNIQUE_ID over 128 bytes", tlv(0x05, new Array(129).fill(1))],
    ["SSL shorter than 5 bytes", tlv(0x20, [1, 0, 0, 0])],
    ["SSL sub-TLV past its parent", tlv(0x20, [1, 0, 0, 0, 0, 0x21, 0, 9, 0x54])],
    ["two SSL versions", tlv(0x20, [1, 0, 0, 0, 0, ...tlv(0x21, text("a")), ...tlv(0x21, text("b"))])],
    ["non-ASCII SSL cipher", tlv(0x20, [1, 0, 0, 0, 0, ...tlv(0x23, [0xff])])],
    ["non-ASCII NETNS", tlv(0x30, [0x80])],
  ];
  for (const [name, tlvBytes] of badTlvs) {
    test(`${name} → v2_bad_tlv`, () => {
      expect(parseProxyHeader(raw(0x21, 0x11, [...TCP4_ADDRESSES, ...tlvBytes]))).toMatchObject({ kind: "error", code: "v2_bad_tlv" });
    });
  }

  test("UNIQUE_ID of exactly 128 bytes and repeated NOOPs are fine", () => {
    const h = header(parseProxyHeader(raw(0x21, 0x11, [...TCP4_ADDRESSES, ...tlv(4, []), ...tlv(4, [1]), ...tlv(5, new Array(128).fill(1))])));
    expect(h.uniqueId!.length).toBe(128);
  });
});

describe("encodeProxyHeaderV2", () => {
  test("round-trips every typed field", () => {
    const input: ProxyHeaderV2Input = {
      command: "proxy",
      family: "tcp6",
      source: { address: "2001:db8::5", port: 40000 },
      destination: { address: "2001:db8::1", port: 443 },
      alpn: "http/1.1",
      authority: "svc.example.com",
      uniqueId: Uint8Array.of(9, 9),
      ssl: { client: 1, verify: 0, version: "TLSv1.2", commonName: "alice", cipher: "ECDHE-RSA-AES128-GCM-SHA256", signatureAlgorithm: "SHA256", keyAlgorithm: "RSA2048" },
      netns: "red",
      tlvs: [{ type: 0xe0, value: Uint8Array.of(1) }],
      checksum: true,
    };
    const h = header(parseProxyHeader(encodeProxyHeaderV2(input)));
    expect(h).toMatchObject({
      version: 2,
      command: "proxy",
      family: "tcp6",
      source: input.source!,
      destination: input.destination!,
      alpn: "http/1.1",
      authority: "svc.example.com",
      uniqueId: Uint8Array.of(9, 9),
      ssl: { version: "TLSv1.2", commonName: "alice", cipher: "ECDHE-RSA-AES128-GCM-SHA256", signatureAlgorithm: "SHA256", keyAlgorithm: "RSA2048", clientSsl: true },
      netns: "red",
      checksumVerified: true,
    });
    expect(h.tlvs.map((t) => t.type)).toEqual([0x01, 0x02, 0x05, 0x20, 0x30, 0xe0, 0x03]);
  });
  test("refuses what would not parse back", () => {
    expect(() => encodeProxyHeaderV2({ command: "proxy", family: "tcp4", source: { address: "::1", port: 1 }, destination: { address: "1.2.3.4", port: 1 } })).toThrow(RangeError);
    expect(() => encodeProxyHeaderV2({ command: "proxy", family: "udp6" })).toThrow(RangeError);
    expect(() => encodeProxyHeaderV2({ command: "proxy", family: "unix", source: { address: "/" + "x".repeat(108), port: 0 }, destination: { address: "", port: 0 } })).toThrow(RangeError);
    expect(() => encodeProxyHeaderV2({ command: "proxy", tlvs: [{ type: 0xe0, value: new Uint8Array(70000) }] })).toThrow(RangeError);
  });
});
