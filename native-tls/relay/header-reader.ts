/**
 * The first phase of a PROXY protocol connection, without sockets: collect
 * bytes until the header is complete, then say who the client is and which
 * bytes are the connection's own. Any listener that owns its raw sockets (this
 * relay, a TLS front that peeks at the ClientHello) can put it in front of
 * what it already does; the caller keeps the deadline and the trust check.
 */
import { parseProxyHeader, type ProxyErrorCode, type ProxyHeader } from "../proxy-protocol";
import type { RelayedClient, RelayEndpoint } from "./registry";

export type HeaderReadResult =
  | { readonly kind: "incomplete" }
  | {
      readonly kind: "header";
      readonly header: ProxyHeader;
      readonly client: RelayedClient;
      /** The bytes after the header: the start of the client's own stream (may be empty). */
      readonly rest: Uint8Array;
    }
  | { readonly kind: "error"; readonly code: ProxyErrorCode; readonly message: string };

const INCOMPLETE: HeaderReadResult = Object.freeze({ kind: "incomplete" });

export class ProxyHeaderReader {
  private pending: Uint8Array | undefined;
  /** Bytes fed so far. */
  received = 0;

  /** `peer` is the socket's real remote end: the client for LOCAL and UNKNOWN headers. */
  constructor(
    private readonly peer: RelayEndpoint,
    private readonly options: { readonly maxV2Bytes?: number } = {},
  ) {}

  /** Feeds the next bytes read. After "header" or "error" the reader is done. */
  push(chunk: Uint8Array): HeaderReadResult {
    this.received += chunk.length;
    const bytes = this.pending ? concat(this.pending, chunk) : chunk;
    const result = parseProxyHeader(bytes, this.options);
    if (result.kind === "incomplete") {
      // Bounded: the parser answers before a header could exceed 107 bytes (v1) or the v2 cap.
      this.pending = bytes;
      return INCOMPLETE;
    }
    this.pending = undefined;
    if (result.kind === "error") return result;
    return { kind: "header", header: result.header, client: clientOf(result.header, this.peer), rest: bytes.subarray(result.consumed) };
  }
}

const IP_FAMILIES = new Set(["tcp4", "tcp6", "udp4", "udp6"]);

/** The client per the header; the real peer for LOCAL, UNKNOWN and UNIX (no IP to report), as the spec says. */
export function clientOf(header: ProxyHeader, peer: RelayEndpoint): RelayedClient {
  const source = header.source;
  const ip = header.command === "proxy" && source !== undefined && IP_FAMILIES.has(header.family);
  return ip
    ? { address: source.address, port: source.port, proxy: peer, version: header.version }
    : { address: peer.address, port: peer.port, proxy: peer, version: header.version };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
