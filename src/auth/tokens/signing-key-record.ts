/**
 * One signing key as it is kept in Redis (`oauth:signing_keys`, field = kid),
 * and the rules for when a retired key stops being published. Building a
 * record does crypto but no I/O, so the rules are testable on their own.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, type JWK } from "jose";
import { isJwtAlgorithm, type JwtAlgorithm } from "../../core/oauth-config";
import { SIGNING_KEY_KINDS } from "./signing-key-kinds";

export interface SigningKeyRecord {
  /** RFC 7638 JWK thumbprint (SHA-256) of the public key: the same key always gets the same kid on every node. */
  kid: string;
  /**
   * The one algorithm this key signs and verifies with. Records written before
   * ES256 existed have none and are RS256 (parseRecord fills it in).
   */
  alg: JwtAlgorithm;
  /** PKCS#8 PEM. */
  private_pem: string;
  /** The thumbprint's members only ({ kty, n, e } or { kty, crv, x, y }); kid, alg and use are added when published. */
  public_jwk: JWK;
  /** Seconds since the epoch. */
  created_at: number;
  /** Seconds since the epoch when another key became current; null while current. */
  retired_at: number | null;
}

const ENV_NAME = "OAUTH_JWT_PRIVATE_KEY_B64";

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * A record for the configured key; throws an Error naming the variable unless
 * the key fits `alg` (RS256: RSA of 2048 bits or more; ES256: EC on P-256).
 */
export async function recordFromPem(pem: string, alg: JwtAlgorithm = "RS256", createdAt = nowSeconds()): Promise<SigningKeyRecord> {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${ENV_NAME}: not a readable PEM private key (${(err as Error).message})`);
  }
  const unfit = SIGNING_KEY_KINDS[alg].unfitness(key);
  if (unfit) throw new Error(`${ENV_NAME}: ${unfit}`);
  return recordFromKey(key, alg, createdAt);
}

/** A fresh key for `alg`: RSA-2048 for RS256, EC P-256 for ES256. */
export async function generateRecord(alg: JwtAlgorithm = "RS256", createdAt = nowSeconds()): Promise<SigningKeyRecord> {
  return recordFromKey(await SIGNING_KEY_KINDS[alg].generate(), alg, createdAt);
}

async function recordFromKey(key: KeyObject, alg: JwtAlgorithm, createdAt: number): Promise<SigningKeyRecord> {
  const publicJwk = SIGNING_KEY_KINDS[alg].publicMembers(createPublicKey(key).export({ format: "jwk" }) as JWK);
  // unfitness() has accepted the key, so its JWK has this algorithm's shape.
  if (!publicJwk) throw new Error(`a key for ${alg} exported an unexpected public JWK`);
  return {
    kid: await calculateJwkThumbprint(publicJwk, "sha256"),
    alg,
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

/**
 * The published form of a key (RFC 7517 §4): RSA { kty, n, e }, EC { kty, crv,
 * x, y }, each with kid, its algorithm and use "sig". Only the thumbprint's
 * members are copied, so nothing private can leak from a record.
 */
export function publicJwkOf(record: SigningKeyRecord): JWK {
  const members = SIGNING_KEY_KINDS[record.alg].publicMembers(record.public_jwk);
  if (!members) throw new Error(`signing key ${record.kid}: its public JWK does not fit ${record.alg}`);
  return { ...members, kid: record.kid, alg: record.alg, use: "sig" };
}

/**
 * Parses a hash value from Redis; a malformed one (another writer's bug) is
 * skipped rather than fatal. A record without `alg` was written before ES256
 * existed and is RS256; a public key of the wrong shape for its alg is malformed.
 */
export function parseRecord(raw: string): SigningKeyRecord | null {
  try {
    const r = JSON.parse(raw) as Omit<SigningKeyRecord, "alg"> & { alg?: unknown };
    const alg = r.alg === undefined ? "RS256" : r.alg;
    const ok =
      isJwtAlgorithm(alg) &&
      typeof r.kid === "string" &&
      typeof r.private_pem === "string" &&
      typeof r.public_jwk === "object" &&
      r.public_jwk !== null &&
      SIGNING_KEY_KINDS[alg].publicMembers(r.public_jwk) !== null &&
      typeof r.created_at === "number" &&
      (r.retired_at === null || typeof r.retired_at === "number");
    return ok ? { ...r, alg } : null;
  } catch {
    return null;
  }
}
