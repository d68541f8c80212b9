/**
 * What kind of key each access-token signing algorithm needs: RS256 an RSA
 * key of 2048 bits or more, ES256 an EC key on P-256 (RFC 7518 §3.4 ties
 * ES256 to that one curve). Records, the JWKS and start-up checks all ask
 * this table, so none of them branches on the algorithm.
 */
import { generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import type { JWK } from "jose";
import type { JwtAlgorithm } from "../../core/oauth-config";

export interface SigningKeyKind {
  /** A fresh private key; generated off the event loop (an RSA prime search takes tens of milliseconds). */
  generate(): Promise<KeyObject>;
  /** Why `key` cannot sign with this algorithm, or null when it can. */
  unfitness(key: KeyObject): string | null;
  /**
   * The members that define the public key (RFC 7638 §3.2: exactly those the
   * thumbprint covers), or null if the JWK is not of this kind. Both what is
   * stored and what is published are built from these, so a stored record of
   * the wrong shape is caught on reading.
   */
  publicMembers(jwk: JWK): JWK | null;
}

export const MIN_RSA_BITS = 2048;
/** node:crypto's name for P-256 (asymmetricKeyDetails.namedCurve). */
const P256 = "prime256v1";
/** The JOSE names of the curves an operator is likely to try, for error messages. */
const CURVE_NAMES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521", secp256k1: "secp256k1" };

const generate = promisify(generateKeyPair);
const allStrings = (...values: unknown[]) => values.every((v) => typeof v === "string" && v.length > 0);

const rsa: SigningKeyKind = {
  generate: async () => (await generate("rsa", { modulusLength: MIN_RSA_BITS })).privateKey,
  unfitness(key) {
    if (key.asymmetricKeyType !== "rsa") {
      return `expected an RSA private key for RS256, got ${describeType(key)} (an EC P-256 key needs OAUTH_JWT_ALGORITHM=ES256)`;
    }
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits < MIN_RSA_BITS ? `the RSA key has ${bits} bits, at least ${MIN_RSA_BITS} are required` : null;
  },
  publicMembers: ({ kty, n, e }) => (kty === "RSA" && allStrings(n, e) ? { kty, n, e } : null),
};

const ecP256: SigningKeyKind = {
  generate: async () => (await generate("ec", { namedCurve: P256 })).privateKey,
  unfitness(key) {
    if (key.asymmetricKeyType !== "ec") return `expected an EC P-256 private key for ES256 (OAUTH_JWT_ALGORITHM=ES256), got ${describeType(key)}`;
    const curve = key.asymmetricKeyDetails?.namedCurve ?? "an unknown curve";
    return curve === P256 ? null : `the EC key is on ${CURVE_NAMES[curve] ?? curve}, ES256 needs P-256 (prime256v1)`;
  },
  publicMembers: ({ kty, crv, x, y }) => (kty === "EC" && crv === "P-256" && allStrings(x, y) ? { kty, crv, x, y } : null),
};

export const SIGNING_KEY_KINDS: Record<JwtAlgorithm, SigningKeyKind> = { RS256: rsa, ES256: ecP256 };

function describeType(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (!type) return "an unknown key type";
  return type === "rsa" ? "an RSA key" : type === "ec" ? `an EC key (${CURVE_NAMES[key.asymmetricKeyDetails?.namedCurve ?? ""] ?? "unknown curve"})` : `a key of type ${type}`;
}
