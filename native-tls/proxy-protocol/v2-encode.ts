/**
 * Builds PROXY v2 headers: for tests, and for sending the client's address on
 * to a backend that expects the protocol. Input comes from our own code, so a
 * value that would not parse back is a bug and throws a RangeError.
 */

import { scanIpv4, scanIpv6 } from "./ip-address";
import { COMMAND_LOCAL, COMMAND_PROXY, FAMILY_BYTES, UNIX_PATH_BYTES, V2_FIXED_BYTES, V2_SIGNATURE } from "./v2";
import {
  checksumWithZeroedValue,
  PP2_CLIENT_SSL,
  PP2_SUBTYPE_SSL_CIPHER,
  PP2_SUBTYPE_SSL_CN,
  PP2_SUBTYPE_SSL_KEY_ALG,
  PP2_SUBTYPE_SSL_SIG_ALG,
  PP2_SUBTYPE_SSL_VERSION,
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_CRC32C,
  PP2_TYPE_NETNS,
  PP2_TYPE_SSL,
  PP2_TYPE_UNIQUE_ID,
} from "./v2-tlv";
import type { ProxyAddress, ProxyFamily, ProxyTlv } from "./types";

export interface ProxySslInput {
  readonly client?: number;
  readonly verify?: number;
  readonly version?: string;
  readonly commonName?: string;
  readonly cipher?: string;
  readonly signatureAlgorithm?: string;
  readonly keyAlgorithm?: string;
}

export interface ProxyHeaderV2Input {
  readonly command: "proxy" | "local";
  /** Default "unknown" (AF_UNSPEC). Ignored for "local", which is always sent as AF_UNSPEC. */
  readonly family?: ProxyFamily;
  readonly source?: ProxyAddress;
  readonly destination?: ProxyAddress;
  readonly alpn?: string;
  readonly authority?: string;
  readonly uniqueId?: Uint8Array;
  readonly ssl?: ProxySslInput;
  readonly netns?: string;
  /** Sent as given, after the typed TLVs above. */
  readonly tlvs?: readonly ProxyTlv[];
  /** Append a PP2_TYPE_CRC32C TLV over the whole header. */
  readonly checksum?: boolean;
}

/** The v2 header for a connection. */
export function encodeProxyHeaderV2(input: ProxyHeaderV2Input): Uint8Array {
  const local = input.command === "local";
  const family = local ? "unknown" : (input.family ?? "unknown");
  const addresses = local ? new Uint8Array(0) : encodeAddresses(family, input.source, input.destination);
  const text = new TextEncoder();
  const tlvs: ProxyTlv[] = [];
  if (input.alpn !== undefined) tlvs.push({ type: PP2_TYPE_ALPN, value: latin1Bytes(input.alpn) });
  if (input.authority !== undefined) tlvs.push({ type: PP2_TYPE_AUTHORITY, value: text.encode(input.authority) });
  if (input.uniqueId !== undefined) tlvs.push({ type: PP2_TYPE_UNIQUE_ID, value: input.uniqueId });
  if (input.ssl !== undefined) tlvs.push({ type: PP2_TYPE_SSL, value: encodeSsl(input.ssl) });
  if (input.netns !== undefined) tlvs.push({ type: PP2_TYPE_NETNS, value: text.encode(input.netns) });
  tlvs.push(...(input.tlvs ?? []));
  if (input.checksum) tlvs.push({ type: PP2_TYPE_CRC32C, value: new Uint8Array(4) });

  const tlvBytes = joinTlvs(tlvs);
  const bodyBytes = addresses.length + tlvBytes.length;
  if (bodyBytes > 0xffff) throw new RangeError(`PROXY v2 body of ${bodyBytes} bytes exceeds 65535`);
  const out = new Uint8Array(V2_FIXED_BYTES + bodyBytes);
  out.set(V2_SIGNATURE, 0);
  out[12] = 0x20 | (local ? COMMAND_LOCAL : COMMAND_PROXY);
  out[13] = FAMILY_BYTES.get(family)!;
  out[14] = bodyBytes >> 8;
  out[15] = bodyBytes & 0xff;
  out.set(addresses, V2_FIXED_BYTES);
  out.set(tlvBytes, V2_FIXED_BYTES + addresses.length);
  if (input.checksum) {
    const valueAt = out.length - 4;
    const crc = checksumWithZeroedValue(out, valueAt);
    out.set([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff], valueAt);
  }
  return out;
}

function encodeAddresses(family: ProxyFamily, source: ProxyAddress | undefined, destination: ProxyAddress | undefined): Uint8Array {
  if (family === "unknown") return new Uint8Array(0);
  if (!source || !destination) throw new RangeError(`PROXY v2 ${family} needs a source and a destination`);
  const bytesOf = (a: ProxyAddress): Uint8Array => {
    if (family === "unix" || family === "unix_dgram") return unixPathBytes(a.address);
    const parsed = family === "tcp4" || family === "udp4" ? scanIpv4(a.address, false) : scanIpv6(a.address, false);
    if (!(parsed instanceof Uint8Array)) throw new RangeError(`${JSON.stringify(a.address)} is not a ${family} address`);
    return parsed;
  };
  const src = bytesOf(source);
  const dst = bytesOf(destination);
  if (family === "unix" || family === "unix_dgram") {
    const out = new Uint8Array(2 * UNIX_PATH_BYTES);
    out.set(src, 0);
    out.set(dst, UNIX_PATH_BYTES);
    return out;
  }
  const out = new Uint8Array(src.length * 2 + 4);
  out.set(src, 0);
  out.set(dst, src.length);
  for (const [i, port] of [source.port, destination.port].entries()) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`${port} is not a port`);
    out[src.length * 2 + i * 2] = port >> 8;
    out[src.length * 2 + i * 2 + 1] = port & 0xff;
  }
  return out;
}

function unixPathBytes(path: string): Uint8Array {
  const abstract = path.startsWith("@");
  const name = new TextEncoder().encode(abstract ? path.slice(1) : path);
  const bytes = abstract ? Uint8Array.of(0, ...name) : name;
  if (bytes.length > UNIX_PATH_BYTES) throw new RangeError(`UNIX path ${JSON.stringify(path)} exceeds ${UNIX_PATH_BYTES} bytes`);
  return bytes;
}

function encodeSsl(ssl: ProxySslInput): Uint8Array {
  const text = new TextEncoder();
  const client = ssl.client ?? PP2_CLIENT_SSL;
  const verify = ssl.verify ?? 0;
  const subs: ProxyTlv[] = [];
  const add = (type: number, value: string | undefined): void => {
    if (value !== undefined) subs.push({ type, value: text.encode(value) });
  };
  add(PP2_SUBTYPE_SSL_VERSION, ssl.version);
  add(PP2_SUBTYPE_SSL_CN, ssl.commonName);
  add(PP2_SUBTYPE_SSL_CIPHER, ssl.cipher);
  add(PP2_SUBTYPE_SSL_SIG_ALG, ssl.signatureAlgorithm);
  add(PP2_SUBTYPE_SSL_KEY_ALG, ssl.keyAlgorithm);
  const rest = joinTlvs(subs);
  const out = new Uint8Array(5 + rest.length);
  out[0] = client & 0xff;
  out[1] = verify >>> 24;
  out[2] = (verify >>> 16) & 0xff;
  out[3] = (verify >>> 8) & 0xff;
  out[4] = verify & 0xff;
  out.set(rest, 5);
  return out;
}

function joinTlvs(tlvs: readonly ProxyTlv[]): Uint8Array {
  let length = 0;
  for (const tlv of tlvs) {
    if (tlv.value.length > 0xffff) throw new RangeError(`TLV 0x${tlv.type.toString(16)} value exceeds 65535 bytes`);
    length += 3 + tlv.value.length;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const tlv of tlvs) {
    out[at] = tlv.type;
    out[at + 1] = tlv.value.length >> 8;
    out[at + 2] = tlv.value.length & 0xff;
    out.set(tlv.value, at + 3);
    at += 3 + tlv.value.length;
  }
  return out;
}

function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new RangeError("ALPN ids are bytes: use characters U+0000-U+00FF");
    out[i] = code;
  }
  return out;
}
