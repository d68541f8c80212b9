/**
 * The shapes every PROXY protocol parser and encoder shares. Results are plain
 * data (no classes, no exceptions) so a caller can switch on `kind`, and so the
 * fuzz tests can check them structurally.
 */

export interface ProxyAddress {
  /** IPv4 dotted quad, RFC 5952 IPv6, or a UNIX socket path ("@name" for a Linux abstract socket). */
  readonly address: string;
  /** 0 for UNIX sockets, which have no port. */
  readonly port: number;
}

export type ProxyFamily = "tcp4" | "tcp6" | "udp4" | "udp6" | "unix" | "unix_dgram" | "unknown";

export type ProxyCommand = "proxy" | "local";

export interface ProxyTlv {
  readonly type: number;
  /** A copy: it does not alias the buffer that was parsed. */
  readonly value: Uint8Array;
}

/** PP2_TYPE_SSL: what the proxy learnt from the client's TLS session. */
export interface ProxySslInfo {
  /** The raw PP2_CLIENT_* bit field. */
  readonly client: number;
  /** PP2_CLIENT_SSL: the client connected over TLS. */
  readonly clientSsl: boolean;
  /** PP2_CLIENT_CERT_CONN: the client sent a certificate on this connection. */
  readonly clientCertConnection: boolean;
  /** PP2_CLIENT_CERT_SESS: the client sent a certificate at least once in this TLS session. */
  readonly clientCertSession: boolean;
  /** 0 when the client presented a certificate and it verified; anything else is a failure code. */
  readonly verify: number;
  readonly version?: string;
  readonly commonName?: string;
  readonly cipher?: string;
  readonly signatureAlgorithm?: string;
  readonly keyAlgorithm?: string;
  /** Every sub-TLV in arrival order, the interpreted ones included. */
  readonly tlvs: readonly ProxyTlv[];
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** "local": a health check or the proxy's own connection — use the real socket endpoints. */
  readonly command: ProxyCommand;
  /** "unknown" (v1 UNKNOWN, v2 AF_UNSPEC, any v2 LOCAL): use the real socket endpoints. */
  readonly family: ProxyFamily;
  readonly source?: ProxyAddress;
  readonly destination?: ProxyAddress;
  /** Every v2 TLV in arrival order, the interpreted ones included (always empty for v1). */
  readonly tlvs: readonly ProxyTlv[];
  /** PP2_TYPE_ALPN, one byte per character (ALPN ids are opaque bytes). */
  readonly alpn?: string;
  /** PP2_TYPE_AUTHORITY (usually the client's SNI), UTF-8. */
  readonly authority?: string;
  readonly uniqueId?: Uint8Array;
  readonly ssl?: ProxySslInfo;
  readonly netns?: string;
  /** True when a PP2_TYPE_CRC32C TLV was present and matched (a mismatch is an error, never a header). */
  readonly checksumVerified?: boolean;
}

export type ProxyErrorCode =
  | "not_proxy_protocol"
  | "v1_too_long"
  | "v1_bad_format"
  | "v1_bad_protocol"
  | "v1_bad_address"
  | "v1_bad_port"
  | "v2_bad_version"
  | "v2_bad_command"
  | "v2_bad_family"
  | "v2_length_too_large"
  | "v2_truncated_addresses"
  | "v2_bad_tlv"
  | "v2_bad_checksum";

export type ProxyParseError = { readonly kind: "error"; readonly code: ProxyErrorCode; readonly message: string };

export type ProxyParseResult =
  | { readonly kind: "incomplete" }
  | { readonly kind: "header"; readonly header: ProxyHeader; readonly consumed: number }
  | ProxyParseError;

export const INCOMPLETE: { readonly kind: "incomplete" } = Object.freeze({ kind: "incomplete" });

export function proxyError(code: ProxyErrorCode, message: string): ProxyParseError {
  return { kind: "error", code, message };
}
