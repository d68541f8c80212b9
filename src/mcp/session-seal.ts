/**
 * The session id a client sees for an MCP session of a server before
 * 2026-07-28 (`Mcp-Session-Id`): the server's own id and the backend that
 * holds the session, sealed with AES-256-GCM under a key every gateway node
 * shares. Any node opens it and sends the request to that backend with the
 * server's id, without asking Redis or another node. Pure (crypto, no I/O).
 *
 * The seal is bound (as GCM's additional data) to the proxy's hostname and
 * to the token's subject, so a client cannot steer a request anywhere: a
 * forged or altered id, one from another proxy, or one presented with
 * another user's token does not open, and the gateway never reads a target
 * out of it. Encryption also keeps the backend's address from the client.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** Everything a sealed id carries. */
export interface SessionRecord {
  /** The backend URL (ForwardTarget.url.href) that assigned the session. */
  readonly target: string;
  /**
   * A digest of the proxy's forwarding settings (custom headers, Host) when
   * the session began: an old backend is followed only while they are the
   * same, so it never receives headers meant for its successor.
   */
  readonly settings: string;
  /** The id the backend assigned, sent back to it on every request of the session. */
  readonly serverSessionId: string;
  /** Seconds since the epoch when the gateway first saw the session. */
  readonly sealedAt: number;
}

/** What a sealed id is bound to: only a request to the same proxy, with a token for the same user, opens it. */
export interface SessionBinding {
  /** The proxy's hostname as the host table keys it. */
  readonly proxy: string;
  /** The token's `sub`; "" without a token (a proxy without auth). */
  readonly subject: string;
}

export const SEALED_PREFIX = "s1.";
export const SESSION_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Ids longer than this are not opened (nor made): a client's header costs no
 * base64 decoding of kilobytes, and every sealed id a client holds fits.
 */
export const MAX_SEALED_LENGTH = 1024;

/** The sealed id, or null when it would be too long to hand out (a server id or target URL of hundreds of bytes). */
export function sealSession(key: Uint8Array, record: SessionRecord, binding: SessionBinding): string | null {
  if (record.target.includes("\n") || record.settings.includes("\n") || !isVisibleAscii(record.serverSessionId)) return null;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(additionalData(binding));
  const plaintext = `${record.sealedAt}\n${record.settings}\n${record.target}\n${record.serverSessionId}`;
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const sealed = SEALED_PREFIX + Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString("base64url");
  return sealed.length <= MAX_SEALED_LENGTH ? sealed : null;
}

/** The record, or null for anything this key did not seal for this binding (forged, altered, truncated, another proxy or user). */
export function openSession(key: Uint8Array, sealed: string, binding: SessionBinding): SessionRecord | null {
  if (sealed.length > MAX_SEALED_LENGTH || !sealed.startsWith(SEALED_PREFIX)) return null;
  const encoded = sealed.slice(SEALED_PREFIX.length);
  const raw = Buffer.from(encoded, "base64url");
  // Buffer.from skips what is not base64url and ignores spare bits: one record, one spelling.
  if (raw.length < IV_BYTES + TAG_BYTES + 1 || raw.toString("base64url") !== encoded) return null;
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(additionalData(binding));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  let plaintext: string;
  try {
    plaintext = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
  // Authenticated, so the gateway wrote it; the shape is checked all the same.
  const [sealedAt, settings, target, serverSessionId, ...rest] = plaintext.split("\n");
  const seconds = Number(sealedAt);
  if (rest.length > 0 || serverSessionId === undefined || !Number.isSafeInteger(seconds)) return null;
  return { sealedAt: seconds, settings: settings!, target: target!, serverSessionId };
}

/** MCP requires session ids of visible ASCII (0x21–0x7E); anything else is passed through unsealed. */
export function isVisibleAscii(value: string): boolean {
  return value.length > 0 && VISIBLE_ASCII.test(value);
}

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** Hostnames and subjects hold no NUL, so the pair is unambiguous. */
function additionalData(binding: SessionBinding): Buffer {
  return Buffer.from(`${binding.proxy}\0${binding.subject}`, "utf8");
}
