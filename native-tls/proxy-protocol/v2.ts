/**
 * PROXY protocol v2: a 16-byte binary prefix (12-byte signature, version and
 * command, family and transport, big-endian length) then the addresses and
 * TLVs. Each fixed byte is checked as soon as it arrives; the length field is
 * checked against the cap before any of the body is waited for, so a peer can
 * never make the caller buffer more than the cap.
 */

import { formatIpv4, formatIpv6 } from "./ip-address";
import { parseTlvs } from "./v2-tlv";
import { INCOMPLETE, proxyError, type ProxyAddress, type ProxyFamily, type ProxyParseResult } from "./types";

export const V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);

/** Signature, version/command, family/transport, length. */
export const V2_FIXED_BYTES = 16;

/**
 * Default cap on a whole v2 header. The format allows 16 + 65535 bytes, but
 * real headers (addresses, SSL details, a unique id, cloud load balancers'
 * private TLVs) stay well under 1 KiB, and every connection may hold this
 * much before it is accepted, so 4 KiB bounds memory without refusing anyone real.
 */
export const V2_DEFAULT_MAX_BYTES = 4096;

/** The smallest cap the parser accepts: a UNIX header with no TLVs. */
export const V2_MIN_MAX_BYTES = V2_FIXED_BYTES + 216;
export const V2_ABSOLUTE_MAX_BYTES = V2_FIXED_BYTES + 0xffff;

export const COMMAND_LOCAL = 0x0;
export const COMMAND_PROXY = 0x1;

/** The only family/transport bytes the spec allows; everything else "must be rejected". */
const FAMILIES = new Map<number, { readonly family: ProxyFamily; readonly addressBytes: number }>([
  [0x00, { family: "unknown", addressBytes: 0 }],
  [0x11, { family: "tcp4", addressBytes: 12 }],
  [0x12, { family: "udp4", addressBytes: 12 }],
  [0x21, { family: "tcp6", addressBytes: 36 }],
  [0x22, { family: "udp6", addressBytes: 36 }],
  [0x31, { family: "unix", addressBytes: 216 }],
  [0x32, { family: "unix_dgram", addressBytes: 216 }],
]);

export const FAMILY_BYTES: ReadonlyMap<ProxyFamily, number> = new Map([...FAMILIES].map(([byte, f]) => [f.family, byte]));

export const UNIX_PATH_BYTES = 108;

export function parseV2(bytes: Uint8Array, maxBytes: number): ProxyParseResult {
  const signatureBytes = Math.min(bytes.length, V2_SIGNATURE.length);
  for (let i = 0; i < signatureBytes; i++) {
    if (bytes[i] !== V2_SIGNATURE[i]) return proxyError("not_proxy_protocol", "neither a PROXY v1 line nor a v2 signature");
  }
  if (bytes.length < 13) return INCOMPLETE;
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) return proxyError("v2_bad_version", `version nibble is ${versionCommand >> 4}, not 2`);
  const command = versionCommand & 0x0f;
  if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY) return proxyError("v2_bad_command", `command ${command} is neither LOCAL (0) nor PROXY (1)`);
  if (bytes.length < 14) return INCOMPLETE;
  // LOCAL: "the receiver must ... discard the protocol block including the family which is ignored".
  const family = command === COMMAND_PROXY ? FAMILIES.get(bytes[13]!) : undefined;
  if (command === COMMAND_PROXY && family === undefined) return proxyError("v2_bad_family", `family/transport byte 0x${bytes[13]!.toString(16).padStart(2, "0")} is not one the spec defines`);
  if (bytes.length < V2_FIXED_BYTES) return INCOMPLETE;
  const bodyBytes = (bytes[14]! << 8) | bytes[15]!;
  const total = V2_FIXED_BYTES + bodyBytes;
  if (total > maxBytes) return proxyError("v2_length_too_large", `header of ${total} bytes exceeds the ${maxBytes}-byte limit`);
  if (family !== undefined && bodyBytes < family.addressBytes) {
    return proxyError("v2_truncated_addresses", `${family.family} needs ${family.addressBytes} address bytes, the length says ${bodyBytes}`);
  }
  if (bytes.length < total) return INCOMPLETE;

  if (family === undefined) {
    return { kind: "header", header: { version: 2, command: "local", family: "unknown", tlvs: [] }, consumed: total };
  }
  const header = bytes.subarray(0, total);
  const tlvs = parseTlvs(header, V2_FIXED_BYTES + family.addressBytes);
  if ("code" in tlvs) return proxyError(tlvs.code, tlvs.message);
  const addresses = readAddresses(family.family, header);
  return {
    kind: "header",
    header: { version: 2, command: "proxy", family: family.family, ...addresses, ...tlvs },
    consumed: total,
  };
}

function readAddresses(family: ProxyFamily, header: Uint8Array): { source?: ProxyAddress; destination?: ProxyAddress } {
  const at = V2_FIXED_BYTES;
  const port = (offset: number): number => (header[offset]! << 8) | header[offset + 1]!;
  switch (family) {
    case "tcp4":
    case "udp4":
      return {
        source: { address: formatIpv4(header, at), port: port(at + 8) },
        destination: { address: formatIpv4(header, at + 4), port: port(at + 10) },
      };
    case "tcp6":
    case "udp6":
      return {
        source: { address: formatIpv6(header, at), port: port(at + 32) },
        destination: { address: formatIpv6(header, at + 16), port: port(at + 34) },
      };
    case "unix":
    case "unix_dgram":
      return {
        source: { address: unixPath(header.subarray(at, at + UNIX_PATH_BYTES)), port: 0 },
        destination: { address: unixPath(header.subarray(at + UNIX_PATH_BYTES, at + 2 * UNIX_PATH_BYTES)), port: 0 },
      };
    case "unknown":
      return {};
  }
}

const LENIENT_UTF8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * A sun_path: the bytes before the first NUL. A leading NUL is Linux's
 * abstract namespace, shown as "@name" (trailing NULs dropped) as ss(8) does.
 * Paths are bytes, not text: invalid UTF-8 becomes U+FFFD rather than an error.
 */
function unixPath(field: Uint8Array): string {
  if (field[0] === 0) {
    let end = field.length;
    while (end > 1 && field[end - 1] === 0) end--;
    return end <= 1 ? "" : `@${LENIENT_UTF8.decode(field.subarray(1, end))}`;
  }
  const nul = field.indexOf(0);
  return LENIENT_UTF8.decode(nul < 0 ? field : field.subarray(0, nul));
}
