/**
 * Reassembles the first handshake message of a TLS connection from its
 * records (RFC 8446 §5.1): a message may be split over several records, and
 * the records over several TCP reads. Each header byte is checked as soon as
 * it arrives, and the caps are checked before waiting for the bytes they
 * cover, so a peer can never make the caller buffer more than MAX_PEEK_BYTES.
 */

/** The largest handshake message body accepted: RFC 8446's record plaintext limit, 2^14. */
export const MAX_CLIENT_HELLO_BYTES = 16384;

/**
 * The most bytes the peek may need, record headers included: a maximal
 * ClientHello (16 KiB + its 4-byte header) needs two records, and the rest
 * leaves room for ~400 more record headers for senders that fragment finely.
 */
export const MAX_PEEK_BYTES = 18432;

/** RFC 8446 §5.1: a TLSPlaintext fragment is at most 2^14 bytes. */
const MAX_RECORD_FRAGMENT = 16384;

const RECORD_HEADER_BYTES = 5;
const HANDSHAKE_HEADER_BYTES = 4;

const CONTENT_CHANGE_CIPHER_SPEC = 20;
const CONTENT_ALERT = 21;
const CONTENT_HANDSHAKE = 22;
const CONTENT_APPLICATION_DATA = 23;

export type RecordErrorCode = "not_tls" | "not_handshake" | "bad_record" | "not_client_hello" | "too_large";

export type Reassembly =
  | { readonly kind: "incomplete" }
  | { readonly kind: "message"; readonly messageType: number; readonly body: Uint8Array; readonly recordBytes: number }
  | { readonly kind: "error"; readonly code: RecordErrorCode; readonly message: string };

const INCOMPLETE = { kind: "incomplete" } as const;

export function reassembleFirstHandshake(bytes: Uint8Array, expectedType: number): Reassembly {
  const fragments: Uint8Array[] = [];
  const head: number[] = []; // the handshake header's 4 bytes, gathered across fragments
  let messageBytes = -1; // header + body, once the header is known
  let gathered = 0;
  let offset = 0;
  for (;;) {
    if (offset >= bytes.length) return INCOMPLETE;
    const first = offset === 0;
    const contentType = bytes[offset]!;
    if (contentType !== CONTENT_HANDSHAKE) {
      if (!first) return fail("bad_record", `record type ${contentType} interleaved with a fragmented handshake message`);
      const isTls = contentType === CONTENT_CHANGE_CIPHER_SPEC || contentType === CONTENT_ALERT || contentType === CONTENT_APPLICATION_DATA;
      return isTls ? fail("not_handshake", `first record has type ${contentType}, not handshake (22)`) : fail("not_tls", `first byte 0x${hex(contentType)} is not a TLS record type`);
    }
    // legacy_record_version: 0x0300-0x0304 (ClientHellos use 0x0301 or 0x0303).
    if (offset + 1 < bytes.length && bytes[offset + 1] !== 3) return versionError(first, bytes[offset + 1]!, bytes[offset + 2]);
    if (offset + 2 < bytes.length && bytes[offset + 2]! > 4) return versionError(first, bytes[offset + 1]!, bytes[offset + 2]);
    if (offset + RECORD_HEADER_BYTES > bytes.length) return INCOMPLETE;
    const fragmentLength = (bytes[offset + 3]! << 8) | bytes[offset + 4]!;
    if (fragmentLength === 0) return fail("bad_record", "empty handshake record (RFC 8446 §5.1 forbids them)");
    if (fragmentLength > MAX_RECORD_FRAGMENT) return fail("bad_record", `record of ${fragmentLength} bytes exceeds 2^14`);
    const recordEnd = offset + RECORD_HEADER_BYTES + fragmentLength;
    if (recordEnd > MAX_PEEK_BYTES) return fail("too_large", `the handshake message's records run past ${MAX_PEEK_BYTES} bytes`);

    const available = Math.min(recordEnd, bytes.length);
    const fragment = bytes.subarray(offset + RECORD_HEADER_BYTES, available);
    for (let i = 0; i < fragment.length && head.length < HANDSHAKE_HEADER_BYTES; i++) head.push(fragment[i]!);
    fragments.push(fragment);
    gathered += fragment.length;

    if (head.length >= 1 && head[0] !== expectedType) return fail("not_client_hello", `first handshake message has type ${head[0]}, not ${expectedType}`);
    if (head.length === HANDSHAKE_HEADER_BYTES && messageBytes < 0) {
      const bodyLength = (head[1]! << 16) | (head[2]! << 8) | head[3]!;
      if (bodyLength > MAX_CLIENT_HELLO_BYTES) return fail("too_large", `handshake message of ${bodyLength} bytes exceeds ${MAX_CLIENT_HELLO_BYTES}`);
      messageBytes = HANDSHAKE_HEADER_BYTES + bodyLength;
    }
    // RFC 8446 §5.1: a ClientHello must end at a record boundary (a key change may follow it).
    if (messageBytes >= 0 && gathered - fragment.length + fragmentLength > messageBytes) {
      return fail("bad_record", "the record holding the end of the handshake message carries more data");
    }
    if (available < recordEnd) return INCOMPLETE;
    if (gathered === messageBytes) {
      const message = fragments.length === 1 ? fragments[0]! : concat(fragments, gathered);
      return { kind: "message", messageType: head[0]!, body: message.subarray(HANDSHAKE_HEADER_BYTES), recordBytes: recordEnd };
    }
    offset = recordEnd;
  }
}

function versionError(first: boolean, major: number, minor: number | undefined): Reassembly {
  const version = `0x${hex(major)}${minor === undefined ? "??" : hex(minor)}`;
  return first ? fail("not_tls", `record version ${version} is not TLS`) : fail("bad_record", `record version ${version} is not TLS`);
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function fail(code: RecordErrorCode, message: string): Reassembly {
  return { kind: "error", code, message };
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
