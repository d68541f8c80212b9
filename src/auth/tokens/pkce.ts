/**
 * PKCE (RFC 7636) with S256 only: OAuth 2.1 drops "plain", so a challenge is
 * always the base64url SHA-256 of the verifier. Pure functions, no I/O.
 */
import { createHash, timingSafeEqual } from "node:crypto";

const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** 32 bytes of SHA-256 in unpadded base64url are always 43 characters. */
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1 */
export function isValidCodeVerifier(verifier: string): boolean {
  return typeof verifier === "string" && CODE_VERIFIER.test(verifier);
}

/** @see https://www.rfc-editor.org/rfc/rfc7636#section-4.2 */
export function isValidCodeChallenge(challenge: string): boolean {
  return typeof challenge === "string" && CODE_CHALLENGE.test(challenge);
}

/**
 * BASE64URL(SHA256(verifier)) == challenge, compared in constant time so the
 * response time says nothing about how much of a guessed verifier was right.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.6
 */
export function pkceS256Matches(verifier: string, challenge: string): boolean {
  if (!isValidCodeVerifier(verifier) || !isValidCodeChallenge(challenge)) return false;
  const computed = Buffer.from(createHash("sha256").update(verifier, "ascii").digest("base64url"), "ascii");
  const expected = Buffer.from(challenge, "ascii");
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}
