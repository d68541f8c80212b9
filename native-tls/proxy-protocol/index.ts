/**
 * HAProxy PROXY protocol (v1 text, v2 binary): pure parsing and encoding, no
 * sockets. A listener keeps the bytes of a new connection in one buffer, calls
 * parseProxyHeader on the whole buffer after every read, and:
 *   incomplete → read more (the parser bounds how much: 107 bytes for v1, the
 *                v2 cap for v2 — it answers with an error before more is needed);
 *   header     → bytes[consumed..] are the connection's own first bytes;
 *   error      → close the connection.
 * Re-parsing from the start each time is cheap because headers are tiny.
 */

import { parseV1 } from "./v1";
import { parseV2, V2_ABSOLUTE_MAX_BYTES, V2_DEFAULT_MAX_BYTES, V2_MIN_MAX_BYTES } from "./v2";
import { INCOMPLETE, proxyError, type ProxyParseResult } from "./types";

export interface ProxyParseOptions {
  /** Cap on a whole v2 header in bytes (default 4096, clamped to 232..65551). */
  readonly maxV2Bytes?: number;
}

export function parseProxyHeader(bytes: Uint8Array, options: ProxyParseOptions = {}): ProxyParseResult {
  if (bytes.length === 0) return INCOMPLETE;
  switch (bytes[0]) {
    case 0x50: // "P"
      return parseV1(bytes);
    case 0x0d: // "\r"
      return parseV2(bytes, clampMax(options.maxV2Bytes));
    default:
      return proxyError("not_proxy_protocol", "neither a PROXY v1 line nor a v2 signature");
  }
}

function clampMax(max: number | undefined): number {
  if (max === undefined || Number.isNaN(max)) return V2_DEFAULT_MAX_BYTES;
  return Math.min(V2_ABSOLUTE_MAX_BYTES, Math.max(V2_MIN_MAX_BYTES, Math.floor(max)));
}

export { encodeProxyHeaderV1, V1_MAX_BYTES, V1_SIGNATURE, type ProxyHeaderV1Input } from "./v1";
export { V2_ABSOLUTE_MAX_BYTES, V2_DEFAULT_MAX_BYTES, V2_FIXED_BYTES, V2_MIN_MAX_BYTES, V2_SIGNATURE } from "./v2";
export { encodeProxyHeaderV2, type ProxyHeaderV2Input, type ProxySslInput } from "./v2-encode";
export {
  MAX_UNIQUE_ID_BYTES,
  PP2_CLIENT_CERT_CONN,
  PP2_CLIENT_CERT_SESS,
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
  PP2_TYPE_NOOP,
  PP2_TYPE_SSL,
  PP2_TYPE_UNIQUE_ID,
} from "./v2-tlv";
export { crc32c } from "./crc32c";
export { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "./ip-address";
export type * from "./types";
