/**
 * How `portcullis export --include-secrets` writes a secret into the file:
 * `pc1:<salt>:<iv>:<ciphertext+tag>`, each part base64url. pc1 is AES-256-GCM
 * with a key derived by scrypt (N=2^15, r=8, p=1) from the passphrase and the
 * 16-byte random salt; the iv is 12 random bytes, the tag GCM's 16. Each secret
 * has its own salt, so two secrets never share a key. Pure (no I/O).
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";

export const ENVELOPE_VERSION = "pc1";
/** What a pc1 string looks like; the file's schema checks it before anything is decrypted. */
export const ENVELOPE_PATTERN = "^pc1:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{23,}$";

const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// The version is authenticated with the ciphertext: a string relabelled as another format does not open.
const AAD = Buffer.from(ENVELOPE_VERSION);

/** Thrown when an envelope does not open: a wrong passphrase, a changed string, or not a pc1 string. */
export class EnvelopeError extends Error {
  override name = "EnvelopeError";
}

function keyOf(passphrase: string, salt: Buffer): Buffer {
  return scryptSync(passphrase.normalize("NFC"), salt, 32, SCRYPT);
}

export function sealSecret(plaintext: string, passphrase: string): string {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", keyOf(passphrase, salt), iv);
  cipher.setAAD(AAD);
  const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return [ENVELOPE_VERSION, salt, iv, sealed].map((part) => (typeof part === "string" ? part : part.toString("base64url"))).join(":");
}

export function openSecret(envelope: string, passphrase: string): string {
  const parts = envelope.split(":");
  if (parts.length !== 4 || parts[0] !== ENVELOPE_VERSION) throw new EnvelopeError(`not a ${ENVELOPE_VERSION} encrypted value`);
  const [salt, iv, sealed] = parts.slice(1).map((part) => Buffer.from(part, "base64url"));
  if (salt!.length !== SALT_BYTES || iv!.length !== IV_BYTES || sealed!.length <= TAG_BYTES) throw new EnvelopeError(`not a ${ENVELOPE_VERSION} encrypted value`);
  const decipher = createDecipheriv("aes-256-gcm", keyOf(passphrase, salt!), iv!);
  decipher.setAAD(AAD);
  decipher.setAuthTag(sealed!.subarray(sealed!.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed!.subarray(0, sealed!.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    // GCM cannot tell a wrong key from a changed ciphertext, and neither message may hint at the passphrase.
    throw new EnvelopeError("does not decrypt: wrong passphrase, or the value was changed");
  }
}
