/**
 * Peeks at the ClientHello that opens a TLS connection: the SNI host name
 * (to pick a certificate or a backend before any TLS code runs), the ALPN
 * offer and the versions. Pure and total: bytes in, a result out, never a
 * throw; work is linear in the input and capped at MAX_PEEK_BYTES.
 *
 * Call it on everything read so far; "incomplete" means read more. The bytes
 * are only looked at, so the caller can hand all of them to the TLS server.
 */

import { MAX_CLIENT_HELLO_BYTES, MAX_PEEK_BYTES, reassembleFirstHandshake, type RecordErrorCode } from "./handshake-records";

export { MAX_CLIENT_HELLO_BYTES, MAX_PEEK_BYTES };

export type ClientHelloErrorCode = RecordErrorCode | "malformed_hello" | "malformed_extension" | "bad_server_name";

export interface ClientHello {
  /** The SNI host_name: lowercase ASCII, no trailing dot. Absent when the client sent none. */
  readonly serverName?: string;
  /** The ALPN protocol ids in the client's order, one character per byte; empty without ALPN. */
  readonly alpn: readonly string[];
  /** ClientHello.legacy_version (0x0303 for TLS 1.2 and 1.3 clients). */
  readonly legacyVersion: number;
  /** The supported_versions extension as sent (GREASE values included); empty without it. */
  readonly supportedVersions: readonly number[];
  /** Every extension type in the client's order (GREASE included): enough for a JA3/JA4-style fingerprint. */
  readonly extensionTypes: readonly number[];
  /** How many input bytes the records carrying the ClientHello take, record headers included. */
  readonly recordBytes: number;
}

export type ClientHelloResult =
  | { readonly kind: "incomplete" }
  | ({ readonly kind: "hello" } & ClientHello)
  | { readonly kind: "error"; readonly code: ClientHelloErrorCode; readonly message: string };

const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
const NAME_TYPE_HOST_NAME = 0;
/** RFC 6066 bounds HostName at 2^16-1, DNS names at 253 (255 on the wire): allow 255, no more. */
const MAX_SERVER_NAME_BYTES = 255;

export function parseClientHello(bytes: Uint8Array): ClientHelloResult {
  const message = reassembleFirstHandshake(bytes, HANDSHAKE_CLIENT_HELLO);
  if (message.kind !== "message") return message;
  return parseBody(message.body, message.recordBytes);
}

/** RFC 8446 §4.1.2 (and RFC 5246 §7.4.1.2, where extensions may be absent). */
function parseBody(body: Uint8Array, recordBytes: number): ClientHelloResult {
  const u16 = (at: number): number => (body[at]! << 8) | body[at + 1]!;
  if (body.length < 2 + 32 + 1) return malformed("shorter than version, random and session id");
  const legacyVersion = u16(0);
  let at = 2 + 32;
  const sessionIdLength = body[at]!;
  if (sessionIdLength > 32) return malformed(`session id of ${sessionIdLength} bytes (at most 32)`);
  at += 1 + sessionIdLength;
  if (at + 2 > body.length) return malformed("ends before the cipher suites");
  const suitesLength = u16(at);
  if (suitesLength < 2 || suitesLength % 2 !== 0) return malformed(`cipher suites of ${suitesLength} bytes`);
  at += 2 + suitesLength;
  if (at + 1 > body.length) return malformed("ends in the cipher suites");
  const compressionLength = body[at]!;
  if (compressionLength < 1) return malformed("no compression methods");
  at += 1 + compressionLength;
  if (at > body.length) return malformed("ends in the compression methods");

  const hello: Collected = { serverName: undefined, alpn: [], supportedVersions: [] };
  const extensionTypes: number[] = [];
  if (at < body.length) {
    if (at + 2 > body.length) return malformed("a stray byte where the extensions length should be");
    const extensionsLength = u16(at);
    at += 2;
    if (at + extensionsLength !== body.length) return malformed(`extensions length ${extensionsLength} does not fill the message (${body.length - at} bytes left)`);
    const seen = new Set<number>();
    while (at < body.length) {
      if (at + 4 > body.length) return badExtension("a truncated extension header");
      const type = u16(at);
      const length = u16(at + 2);
      at += 4;
      if (at + length > body.length) return badExtension(`extension ${type} says ${length} bytes, ${body.length - at} remain`);
      // RFC 8446 §4.2: no two extensions of the same type.
      if (seen.has(type)) return badExtension(`extension ${type} appears twice`);
      seen.add(type);
      extensionTypes.push(type);
      const data = body.subarray(at, at + length);
      at += length;
      const problem = readExtension(type, data, hello);
      if (problem !== undefined) return problem;
    }
  }
  const { serverName, alpn, supportedVersions } = hello;
  return { kind: "hello", ...(serverName === undefined ? {} : { serverName }), legacyVersion, alpn, supportedVersions, extensionTypes, recordBytes };
}

type Collected = { serverName: string | undefined; alpn: string[]; supportedVersions: number[] };

function readExtension(type: number, data: Uint8Array, hello: Collected): ClientHelloResult | undefined {
  switch (type) {
    case EXT_SERVER_NAME:
      return readServerName(data, hello);
    case EXT_ALPN:
      return readAlpn(data, hello);
    case EXT_SUPPORTED_VERSIONS: {
      // ClientHello form: a 1-byte length, then 2-byte versions (RFC 8446 §4.2.1).
      const length = data[0];
      if (length === undefined || length !== data.length - 1 || length < 2 || length % 2 !== 0) return badExtension("malformed supported_versions");
      for (let i = 1; i < data.length; i += 2) hello.supportedVersions.push((data[i]! << 8) | data[i + 1]!);
      return undefined;
    }
    default:
      return undefined;
  }
}

/** RFC 6066 §3: ServerNameList <1..2^16-1> of (name_type, HostName <1..2^16-1>). */
function readServerName(data: Uint8Array, hello: Collected): ClientHelloResult | undefined {
  if (data.length < 2 || ((data[0]! << 8) | data[1]!) !== data.length - 2 || data.length === 2) return badExtension("malformed server_name list");
  let at = 2;
  let sawHostName = false;
  while (at < data.length) {
    if (at + 3 > data.length) return badExtension("truncated server_name entry");
    const nameType = data[at]!;
    const length = (data[at + 1]! << 8) | data[at + 2]!;
    at += 3;
    if (length === 0 || at + length > data.length) return badExtension("server_name entry length out of bounds");
    if (nameType === NAME_TYPE_HOST_NAME) {
      if (sawHostName) return badExtension("two host_name entries");
      sawHostName = true;
      const name = hostName(data.subarray(at, at + length));
      if (typeof name !== "string") return name;
      hello.serverName = name;
    }
    at += length;
  }
  return undefined;
}

/**
 * ASCII letters, digits, '-', '_' and '.', lowercased; one trailing dot (which
 * RFC 6066 says must not be sent, but names the same host) is dropped; no
 * empty labels. Anything else — U-labels, spaces, '/', '%', control bytes —
 * is refused rather than passed to host lookups and logs.
 */
function hostName(raw: Uint8Array): string | ClientHelloResult {
  if (raw.length > MAX_SERVER_NAME_BYTES) return badName(`host_name of ${raw.length} bytes (at most ${MAX_SERVER_NAME_BYTES})`);
  const end = raw.length > 1 && raw[raw.length - 1] === 0x2e ? raw.length - 1 : raw.length;
  let name = "";
  let labelLength = 0;
  for (let i = 0; i < end; i++) {
    let c = raw[i]!;
    if (c === 0x2e) {
      if (labelLength === 0) return badName("host_name has an empty label");
      labelLength = 0;
    } else {
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
      if (!ok) return badName(`host_name byte 0x${c.toString(16).padStart(2, "0")} is not a letter, digit, '-', '_' or '.'`);
      labelLength++;
    }
    name += String.fromCharCode(c);
  }
  if (labelLength === 0) return badName("host_name is empty or ends with an empty label");
  return name;
}

/** RFC 7301 §3.1: ProtocolNameList <2..2^16-1> of ProtocolName <1..2^8-1>. */
function readAlpn(data: Uint8Array, hello: Collected): ClientHelloResult | undefined {
  if (data.length < 2 || ((data[0]! << 8) | data[1]!) !== data.length - 2 || data.length === 2) return badExtension("malformed ALPN list");
  let at = 2;
  while (at < data.length) {
    const length = data[at]!;
    at += 1;
    if (length === 0 || at + length > data.length) return badExtension("ALPN protocol id length out of bounds");
    let id = "";
    for (let i = at; i < at + length; i++) id += String.fromCharCode(data[i]!);
    hello.alpn.push(id);
    at += length;
  }
  return undefined;
}

function malformed(message: string): ClientHelloResult {
  return { kind: "error", code: "malformed_hello", message };
}

function badExtension(message: string): ClientHelloResult {
  return { kind: "error", code: "malformed_extension", message };
}

function badName(message: string): ClientHelloResult {
  return { kind: "error", code: "bad_server_name", message };
}
