/**
 * The TLVs after a v2 header's addresses: split, interpret the registered
 * types, verify PP2_TYPE_CRC32C. A malformed or contradictory TLV (a value
 * running past the header, two AUTHORITY values, bad UTF-8) refuses the whole
 * header: a gateway must not guess which of two client identities is real.
 */

import { crc32cUpdate } from "./crc32c";
import type { ProxyErrorCode, ProxySslInfo, ProxyTlv } from "./types";

export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;
export const PP2_TYPE_CRC32C = 0x03;
export const PP2_TYPE_NOOP = 0x04;
export const PP2_TYPE_UNIQUE_ID = 0x05;
export const PP2_TYPE_SSL = 0x20;
export const PP2_SUBTYPE_SSL_VERSION = 0x21;
export const PP2_SUBTYPE_SSL_CN = 0x22;
export const PP2_SUBTYPE_SSL_CIPHER = 0x23;
export const PP2_SUBTYPE_SSL_SIG_ALG = 0x24;
export const PP2_SUBTYPE_SSL_KEY_ALG = 0x25;
export const PP2_TYPE_NETNS = 0x30;

export const PP2_CLIENT_SSL = 0x01;
export const PP2_CLIENT_CERT_CONN = 0x02;
export const PP2_CLIENT_CERT_SESS = 0x04;

/** The spec caps PP2_TYPE_UNIQUE_ID at 128 bytes. */
export const MAX_UNIQUE_ID_BYTES = 128;

export interface ParsedTlvs {
  readonly tlvs: ProxyTlv[];
  alpn?: string;
  authority?: string;
  uniqueId?: Uint8Array;
  ssl?: ProxySslInfo;
  netns?: string;
  checksumVerified?: boolean;
}

export type TlvFailure = { readonly code: ProxyErrorCode; readonly message: string };

/** Type, 2-byte big-endian length, value — repeated to the end of `block`. */
export function splitTlvs(block: Uint8Array): ProxyTlv[] | string {
  const tlvs: ProxyTlv[] = [];
  let at = 0;
  while (at < block.length) {
    if (at + 3 > block.length) return `${block.length - at} stray byte(s) where a TLV header (3 bytes) should be`;
    const type = block[at]!;
    const length = (block[at + 1]! << 8) | block[at + 2]!;
    const end = at + 3 + length;
    if (end > block.length) return `TLV 0x${hex(type)} says ${length} bytes but only ${block.length - at - 3} remain`;
    tlvs.push({ type, value: block.slice(at + 3, end) });
    at = end;
  }
  return tlvs;
}

/**
 * `header` is the whole v2 header (signature to last TLV) and `tlvStart` the
 * offset of the first TLV in it: the checksum covers the whole header with its
 * own value zeroed.
 */
export function parseTlvs(header: Uint8Array, tlvStart: number): ParsedTlvs | TlvFailure {
  const split = splitTlvs(header.subarray(tlvStart));
  if (typeof split === "string") return badTlv(split);
  const parsed: ParsedTlvs = { tlvs: split };
  const seen = new Set<number>();
  let at = tlvStart;
  let checksumAt = -1;
  for (const tlv of split) {
    const valueAt = at + 3;
    at = valueAt + tlv.value.length;
    if (isInterpreted(tlv.type)) {
      if (seen.has(tlv.type)) return badTlv(`TLV 0x${hex(tlv.type)} appears twice`);
      seen.add(tlv.type);
    }
    switch (tlv.type) {
      case PP2_TYPE_ALPN:
        if (tlv.value.length === 0) return badTlv("empty ALPN");
        parsed.alpn = latin1(tlv.value);
        break;
      case PP2_TYPE_AUTHORITY: {
        const authority = utf8(tlv.value);
        if (authority === undefined || authority === "") return badTlv("AUTHORITY is empty or not UTF-8");
        parsed.authority = authority;
        break;
      }
      case PP2_TYPE_CRC32C:
        if (tlv.value.length !== 4) return badTlv(`CRC32C is ${tlv.value.length} bytes, not 4`);
        checksumAt = valueAt;
        break;
      case PP2_TYPE_UNIQUE_ID:
        if (tlv.value.length > MAX_UNIQUE_ID_BYTES) return badTlv(`UNIQUE_ID is ${tlv.value.length} bytes (at most ${MAX_UNIQUE_ID_BYTES})`);
        parsed.uniqueId = tlv.value;
        break;
      case PP2_TYPE_SSL: {
        const ssl = parseSsl(tlv.value);
        if (typeof ssl === "string") return badTlv(ssl);
        parsed.ssl = ssl;
        break;
      }
      case PP2_TYPE_NETNS: {
        const netns = ascii(tlv.value);
        if (netns === undefined || netns === "") return badTlv("NETNS is empty or not US-ASCII");
        parsed.netns = netns;
        break;
      }
    }
  }
  if (checksumAt >= 0) {
    const sent = ((header[checksumAt]! << 24) | (header[checksumAt + 1]! << 16) | (header[checksumAt + 2]! << 8) | header[checksumAt + 3]!) >>> 0;
    const computed = checksumWithZeroedValue(header, checksumAt);
    if (sent !== computed) return { code: "v2_bad_checksum", message: `CRC32C 0x${sent.toString(16)} does not match the header (0x${computed.toString(16)})` };
    parsed.checksumVerified = true;
  }
  return parsed;
}

export function checksumWithZeroedValue(header: Uint8Array, valueAt: number): number {
  let crc = crc32cUpdate(0, header.subarray(0, valueAt));
  crc = crc32cUpdate(crc, new Uint8Array(4));
  return crc32cUpdate(crc, header.subarray(valueAt + 4));
}

function isInterpreted(type: number): boolean {
  return (
    type === PP2_TYPE_ALPN ||
    type === PP2_TYPE_AUTHORITY ||
    type === PP2_TYPE_CRC32C ||
    type === PP2_TYPE_UNIQUE_ID ||
    type === PP2_TYPE_SSL ||
    type === PP2_TYPE_NETNS
  );
}

/** PP2_TYPE_SSL: client (1 byte), verify (4 bytes, big-endian), then sub-TLVs. */
function parseSsl(value: Uint8Array): ProxySslInfo | string {
  if (value.length < 5) return `SSL TLV is ${value.length} bytes (at least 5)`;
  const client = value[0]!;
  const verify = ((value[1]! << 24) | (value[2]! << 16) | (value[3]! << 8) | value[4]!) >>> 0;
  const subs = splitTlvs(value.subarray(5));
  if (typeof subs === "string") return `in SSL: ${subs}`;
  const fields: { -readonly [K in keyof ProxySslInfo]?: ProxySslInfo[K] } = {};
  const seen = new Set<number>();
  for (const sub of subs) {
    const key = SSL_SUBTYPES.get(sub.type);
    if (key === undefined) continue;
    if (seen.has(sub.type)) return `SSL sub-TLV 0x${hex(sub.type)} appears twice`;
    seen.add(sub.type);
    // The common name is UTF-8; the version and algorithm names are US-ASCII.
    const text = key === "commonName" ? utf8(sub.value) : ascii(sub.value);
    if (text === undefined) return `SSL sub-TLV 0x${hex(sub.type)} is not ${key === "commonName" ? "UTF-8" : "US-ASCII"}`;
    fields[key] = text;
  }
  return {
    client,
    clientSsl: (client & PP2_CLIENT_SSL) !== 0,
    clientCertConnection: (client & PP2_CLIENT_CERT_CONN) !== 0,
    clientCertSession: (client & PP2_CLIENT_CERT_SESS) !== 0,
    verify,
    ...fields,
    tlvs: subs,
  };
}

const SSL_SUBTYPES = new Map<number, "version" | "commonName" | "cipher" | "signatureAlgorithm" | "keyAlgorithm">([
  [PP2_SUBTYPE_SSL_VERSION, "version"],
  [PP2_SUBTYPE_SSL_CN, "commonName"],
  [PP2_SUBTYPE_SSL_CIPHER, "cipher"],
  [PP2_SUBTYPE_SSL_SIG_ALG, "signatureAlgorithm"],
  [PP2_SUBTYPE_SSL_KEY_ALG, "keyAlgorithm"],
]);

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

function ascii(bytes: Uint8Array): string | undefined {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 0x7f) return undefined;
  return latin1(bytes);
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

function badTlv(message: string): TlvFailure {
  return { code: "v2_bad_tlv", message };
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
