/**
 * One RS256 signing key as it is kept in Redis (`oauth:signing_keys`, field =
 * kid), and the rules for when a retired key stops being published. Building
 * a record does crypto but no I/O, so the rules are testable on their own.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { calculateJwkThumbprint, type JWK } from "jose";

export interface SigningKeyRecord {
  /** RFC 7638 JWK thumbprint (SHA-256) of the public key: the same key always gets the same kid on every node. */
  kid: string;
  /** PKCS#8 PEM. */
  private_pem: string;
  /** { kty, n, e } only; kid, alg and use are added when published. */
  public_jwk: JWK;
  /** Seconds since the epoch. */
  created_at: number;
  /** Seconds since the epoch when another key became current; null while current. */
  retired_at: number | null;
}

export const MIN_RSA_BITS = 2048;
const ENV_NAME = "OAUTH_JWT_PRIVATE_KEY_B64";

const generateRsa = promisify(generateKeyPair);

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A record for the configured key; throws an Error naming the variable unless it is an RSA key of 2048 bits or more. */
export async function recordFromPem(pem: string, createdAt = nowSeconds()): Promise<SigningKeyRecord> {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${ENV_NAME}: not a readable PEM private key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw new Error(`${ENV_NAME}: expected an RSA private key for RS256, got ${key.asymmetricKeyType ?? "an unknown key type"}`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw new Error(`${ENV_NAME}: the RSA key has ${bits} bits, at least ${MIN_RSA_BITS} are required`);
  return recordFromKey(key, createdAt);
}

/** A fresh RSA-2048 key; generated off the event loop (a 2048-bit prime search takes tens of milliseconds). */
export async function generateRecord(createdAt = nowSeconds()): Promise<SigningKeyRecord> {
  const { privateKey } = await generateRsa("rsa", { modulusLength: MIN_RSA_BITS });
  return recordFromKey(privateKey, createdAt);
}

async function recordFromKey(key: KeyObject, createdAt: number): Promise<SigningKeyRecord> {
  const { kty, n, e } = createPublicKey(key).export({ format: "jwk" });
  const publicJwk: JWK = { kty, n, e };
  return {
    kid: await calculateJwkThumbprint(publicJwk, "sha256"),
    private_pem: key.export({ type: "pkcs8", format: "pem" }).toString(),
    public_jwk: publicJwk,
    created_at: createdAt,
    retired_at: null,
  };
}

/**
 * A retired key is published (and verifies) as long as a token it signed may
 * still be unexpired: until retired_at + the access-token lifetime.
 */
export function isPublished(record: SigningKeyRecord, now: number, accessTokenLifetimeSeconds: number): boolean {
  return record.retired_at === null || record.retired_at + accessTokenLifetimeSeconds > now;
}

/** The kids that may be deleted: retired long enough that nothing they signed is still valid. */
export function expiredKids(records: Iterable<SigningKeyRecord>, now: number, accessTokenLifetimeSeconds: number): string[] {
  return [...records].filter((r) => !isPublished(r, now, accessTokenLifetimeSeconds)).map((r) => r.kid);
}

/** The published form of a key (RFC 7517 §4). */
export function publicJwkOf(record: SigningKeyRecord): JWK {
  const { kty, n, e } = record.public_jwk;
  return { kty, n, e, kid: record.kid, alg: "RS256", use: "sig" };
}

/** Parses a hash value from Redis; a malformed one (another writer's bug) is skipped rather than fatal. */
export function parseRecord(raw: string): SigningKeyRecord | null {
  try {
    const r = JSON.parse(raw) as SigningKeyRecord;
    const ok =
      typeof r.kid === "string" &&
      typeof r.private_pem === "string" &&
      typeof r.public_jwk?.n === "string" &&
      typeof r.created_at === "number" &&
      (r.retired_at === null || typeof r.retired_at === "number");
    return ok ? r : null;
  } catch {
    return null;
  }
}
