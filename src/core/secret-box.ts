/**
 * Encryption at rest for secrets kept in Redis (per-proxy GitHub client
 * secrets): AES-256-GCM with a fresh 96-bit IV per value, so anyone who reads
 * Redis (a backup, a replica, `redis-cli`) learns nothing, and any change to a
 * stored value is detected instead of decrypting to garbage.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const VERSION = "v1:";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export const SECRETS_KEY_FILE = "secrets.key";

export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) throw new Error(`a secrets key is ${KEY_BYTES} bytes, got ${key.length}`);
    // A private copy: a caller zeroing or reusing its buffer cannot change ours.
    this.#key = Buffer.from(key);
  }

  /** `"v1:" + base64url(iv | ciphertext | tag)`; the version prefix leaves room to rotate the scheme. */
  seal(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return VERSION + Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString("base64url");
  }

  /** The plaintext; throws when the value was altered, is not ours, or was sealed with another key. */
  open(sealed: string): string {
    if (!sealed.startsWith(VERSION)) throw new Error("not a sealed secret (expected the v1: prefix)");
    const raw = Buffer.from(sealed.slice(VERSION.length), "base64url");
    if (raw.length < IV_BYTES + TAG_BYTES) throw new Error("sealed secret is truncated");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      // node's message ("Unsupported state or unable to authenticate data") says nothing useful to an operator.
      throw new Error("sealed secret failed authentication: it was altered or sealed with another key (OAUTH_SECRETS_KEY)");
    }
  }
}

/**
 * OAUTH_SECRETS_KEY when configured; otherwise `{dataDir}/secrets.key`, made
 * once (32 random bytes, mode 0600) and read on every later start. Nodes of
 * one cluster with separate data dirs must share OAUTH_SECRETS_KEY instead,
 * or each would seal with a key the others cannot open.
 */
export function loadSecretsKey(configured: Uint8Array | null, dataDir: string): Uint8Array {
  if (configured) return configured;
  const file = join(dataDir, SECRETS_KEY_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Written aside, then linked into place: link fails if the file exists, so two
  // processes starting together agree on one key and neither reads a half-written file.
  const pending = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  const fresh = randomBytes(KEY_BYTES);
  try {
    writeFileSync(pending, fresh, { mode: 0o600, flag: "wx" });
    chmodSync(pending, 0o600); // the mode above is masked by the umask
    linkSync(pending, file);
    return new Uint8Array(fresh);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    rmSync(pending, { force: true });
  }
  const key = readFileSync(file);
  if (key.length !== KEY_BYTES) {
    throw new Error(`${file}: expected ${KEY_BYTES} bytes, found ${key.length}; restore it, or set OAUTH_SECRETS_KEY`);
  }
  return new Uint8Array(key);
}
