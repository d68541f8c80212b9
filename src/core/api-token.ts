/**
 * API bearer tokens: `acm_` + 32 random bytes (hex). Only their sha256 is used to
 * look them up, and comparisons of secrets are constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const API_TOKEN_PREFIX = "acm_";

export function generateApiToken(): string {
  return API_TOKEN_PREFIX + randomBytes(32).toString("hex");
}

/** The stored form, `sha256:<hex>`, used in `token:hash:{hash}` and `owner_token_hash`. */
export function hashApiToken(token: string): string {
  return "sha256:" + createHash("sha256").update(token).digest("hex");
}

/** Constant-time equality for secrets of any length (compares digests). */
export function secretsEqual(a: string, b: string): boolean {
  const da = createHash("sha256").update(a).digest();
  const db = createHash("sha256").update(b).digest();
  return timingSafeEqual(da, db);
}

/** What listings show instead of the secret: enough to tell tokens apart. */
export function previewApiToken(token: string): string {
  return token.slice(0, API_TOKEN_PREFIX.length + 6) + "…";
}
