/** The header phase on its own: bytes in, client and remaining bytes (or an error) out. */
import { describe, expect, test } from "bun:test";
import { encodeProxyHeaderV1, encodeProxyHeaderV2 } from "../../native-tls/proxy-protocol";
import { ProxyHeaderReader } from "../../native-tls/relay";

const peer = { address: "10.0.0.5", port: 31_000 };

describe("ProxyHeaderReader", () => {
  test("collects reads until the header is whole; the rest belongs to the client", () => {
    const header = encodeProxyHeaderV2({ command: "proxy", family: "tcp4", source: { address: "203.0.113.1", port: 1111 }, destination: { address: "192.0.2.1", port: 443 } });
    const bytes = Buffer.concat([header, Buffer.from("\x16\x03\x01")]);
    const reader = new ProxyHeaderReader(peer);
    for (let i = 0; i < header.length - 1; i++) expect(reader.push(bytes.subarray(i, i + 1)).kind).toBe("incomplete");
    const result = reader.push(bytes.subarray(header.length - 1));
    expect(result).toMatchObject({ kind: "header", client: { address: "203.0.113.1", port: 1111, proxy: peer, version: 2 } });
    expect(Buffer.from((result as { rest: Uint8Array }).rest).toString("latin1")).toBe("\x16\x03\x01");
    expect(reader.received).toBe(bytes.length);
  });

  test("LOCAL and UNKNOWN name the socket's own peer", () => {
    for (const header of [encodeProxyHeaderV2({ command: "local" }), encodeProxyHeaderV1({ family: "unknown" })]) {
      expect(new ProxyHeaderReader(peer).push(header)).toMatchObject({ kind: "header", client: { ...peer, proxy: peer }, rest: new Uint8Array(0) });
    }
  });

  test("an error is the parser's, at the first byte that decides it", () => {
    expect(new ProxyHeaderReader(peer).push(Buffer.from("GET / HTTP/1.1\r\n"))).toMatchObject({ kind: "error", code: "not_proxy_protocol" });
    const reader = new ProxyHeaderReader(peer, { maxV2Bytes: 300 });
    const big = encodeProxyHeaderV2({ command: "proxy", family: "tcp4", source: { address: "1.2.3.4", port: 1 }, destination: { address: "1.2.3.5", port: 2 }, tlvs: [{ type: 0xe0, value: new Uint8Array(400) }] });
    expect(reader.push(big.subarray(0, 16))).toMatchObject({ kind: "error", code: "v2_length_too_large" });
  });
});
