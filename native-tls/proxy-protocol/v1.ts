/**
 * PROXY protocol v1: one US-ASCII line,
 *   "PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n" or "PROXY UNKNOWN[ anything]\r\n",
 * at most 107 bytes with its CRLF. Fields are checked as they arrive, so junk
 * is refused early, but a strict prefix of a valid line is always "incomplete".
 * The work is one pass over at most 107 bytes plus a split: no regular expressions.
 */

import { formatIpv4, formatIpv6, PREFIX, scanIpv4, scanIpv6 } from "./ip-address";
import { INCOMPLETE, proxyError, type ProxyAddress, type ProxyParseResult } from "./types";

/** The spec's bound, its worst case being "PROXY UNKNOWN" followed by two full IPv6 addresses and ports. */
export const V1_MAX_BYTES = 107;

export const V1_SIGNATURE = "PROXY ";

const CR = 0x0d;
const LF = 0x0a;
const PROTOCOLS = ["TCP4", "TCP6", "UNKNOWN"] as const;

export function parseV1(bytes: Uint8Array): ProxyParseResult {
  const signatureBytes = Math.min(bytes.length, V1_SIGNATURE.length);
  for (let i = 0; i < signatureBytes; i++) {
    if (bytes[i] !== V1_SIGNATURE.charCodeAt(i)) return proxyError("not_proxy_protocol", "neither a PROXY v1 line nor a v2 signature");
  }

  // Find the line's end; a byte that cannot be part of a line ends the scan with an error.
  let lineLength = -1;
  let complete = false;
  let scanError: ProxyParseResult | undefined;
  const window = Math.min(bytes.length, V1_MAX_BYTES);
  for (let i = 0; i < window && lineLength < 0; i++) {
    const c = bytes[i]!;
    if (c === CR) {
      lineLength = i;
      if (i + 2 > V1_MAX_BYTES) scanError = tooLong();
      else if (i + 1 < bytes.length) {
        if (bytes[i + 1] === LF) complete = true;
        else scanError = proxyError("v1_bad_format", "CR not followed by LF");
      }
    } else if (c < 0x20 || c > 0x7e) {
      lineLength = i;
      scanError = proxyError("v1_bad_format", `byte 0x${c.toString(16).padStart(2, "0")} at ${i} is not printable US-ASCII`);
    }
  }
  if (lineLength < 0) {
    lineLength = window;
    if (bytes.length >= V1_MAX_BYTES) scanError = tooLong();
  }
  const line = String.fromCharCode(...bytes.subarray(0, lineLength));
  // Report the earliest problem, so that more bytes never change which error a connection gets.
  if (scanError) return parseLine(line, false) ?? scanError;
  // parseLine returns undefined only for a partial line that may still become valid.
  return parseLine(line, complete) ?? INCOMPLETE;
}

function tooLong(): ProxyParseResult {
  return proxyError("v1_too_long", `no CRLF within ${V1_MAX_BYTES} bytes`);
}

/** A result, or undefined when the (partial) line is still a valid prefix. */
function parseLine(line: string, complete: boolean): ProxyParseResult | undefined {
  if (line.length < V1_SIGNATURE.length) return undefined; // only while partial: a complete line has a CR here
  const fields = line.split(" ");
  const lastField = fields.length - 1;
  const isPartial = (index: number): boolean => !complete && index === lastField;

  const protocol = fields[1]!;
  if (isPartial(1)) {
    return PROTOCOLS.some((p) => p.startsWith(protocol)) ? undefined : badProtocol(protocol);
  }
  if (protocol === "UNKNOWN") {
    // The spec: the receiver ignores whatever follows UNKNOWN up to the CRLF.
    return complete ? { kind: "header", header: { version: 1, command: "proxy", family: "unknown", tlvs: [] }, consumed: line.length + 2 } : undefined;
  }
  if (protocol !== "TCP4" && protocol !== "TCP6") return badProtocol(protocol);

  const scan = protocol === "TCP4" ? scanIpv4 : scanIpv6;
  const parsed: (Uint8Array | number)[] = [];
  // Left to right, so the first bad field is the one reported however much follows it.
  for (let i = 2; i < fields.length; i++) {
    if (i === 6) return proxyError("v1_bad_format", "more than four fields after the protocol");
    const field = fields[i]!;
    const partial = isPartial(i);
    if (field === "" && !partial) return proxyError("v1_bad_format", "empty field (fields are separated by exactly one space)");
    if (i < 4) {
      const address = scan(field, partial);
      if (address === undefined) return proxyError("v1_bad_address", `${JSON.stringify(field)} is not ${protocol === "TCP4" ? "an IPv4 address (four numbers 0-255, no leading zeros)" : "an IPv6 address"}`);
      if (address !== PREFIX) parsed.push(address);
    } else {
      const port = scanPort(field, partial);
      if (port === undefined) return proxyError("v1_bad_port", `${JSON.stringify(field)} is not a port (0-65535, no sign, no leading zero)`);
      if (port !== PREFIX) parsed.push(port);
    }
  }
  if (!complete) return undefined;
  if (fields.length < 6) return proxyError("v1_bad_format", `${protocol} needs source, destination, source port and destination port`);

  const format = protocol === "TCP4" ? formatIpv4 : formatIpv6;
  const [src, dst, sport, dport] = parsed as [Uint8Array, Uint8Array, number, number];
  const source: ProxyAddress = { address: format(src), port: sport };
  const destination: ProxyAddress = { address: format(dst), port: dport };
  return {
    kind: "header",
    header: { version: 1, command: "proxy", family: protocol === "TCP4" ? "tcp4" : "tcp6", source, destination, tlvs: [] },
    consumed: line.length + 2,
  };
}

function badProtocol(protocol: string): ProxyParseResult {
  return proxyError("v1_bad_protocol", `${JSON.stringify(protocol)} is not TCP4, TCP6 or UNKNOWN`);
}

/** Decimal 0-65535, no sign, no leading zero (the spec forbids them, as for addresses). */
function scanPort(text: string, partial: boolean): number | typeof PREFIX | undefined {
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
    if (i === 1 && value === 0) return undefined;
    value = value * 10 + (c - 0x30);
    if (value > 65535) return undefined;
  }
  if (partial) return PREFIX;
  return text.length > 0 ? value : undefined;
}

export interface ProxyHeaderV1Input {
  readonly family: "tcp4" | "tcp6" | "unknown";
  /** Required unless family is "unknown". */
  readonly source?: ProxyAddress;
  readonly destination?: ProxyAddress;
}

/**
 * The v1 line for a connection. Addresses are re-spelt canonically. Throws a
 * RangeError on input that would not parse back (a caller bug, not wire data).
 */
export function encodeProxyHeaderV1(input: ProxyHeaderV1Input): Uint8Array {
  if (input.family === "unknown") return new TextEncoder().encode("PROXY UNKNOWN\r\n");
  const { source, destination } = input;
  if (!source || !destination) throw new RangeError(`PROXY v1 ${input.family} needs a source and a destination`);
  const spell = (a: ProxyAddress): string => {
    const bytes = input.family === "tcp4" ? scanIpv4(a.address, false) : scanIpv6(a.address, false);
    if (!(bytes instanceof Uint8Array)) throw new RangeError(`${JSON.stringify(a.address)} is not an ${input.family === "tcp4" ? "IPv4" : "IPv6"} address`);
    if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new RangeError(`${a.port} is not a port`);
    return input.family === "tcp4" ? formatIpv4(bytes) : formatIpv6(bytes);
  };
  const protocol = input.family === "tcp4" ? "TCP4" : "TCP6";
  const line = `PROXY ${protocol} ${spell(source)} ${spell(destination)} ${source.port} ${destination.port}\r\n`;
  return new TextEncoder().encode(line);
}
