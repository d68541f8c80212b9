/**
 * PKCE S256 for the upstream logins we start (RFC 7636): the verifier stays
 * with our login state, only its hash goes through the browser.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1
 */
import { createHash, randomBytes } from "node:crypto";

export function pkcePair(): { verifier: string; challenge: string } {
  // 32 random bytes → 43 base64url characters, the RFC's minimum length and full entropy.
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}
