/**
 * Client identifiers and the two secrets a registration hands out (client
 * secret, RFC 7592 registration access token). Only SHA-256 hashes are kept;
 * comparisons are constant-time.
 */
import { createHash, randomBytes } from "node:crypto";
import { secretsEqual } from "../../core/api-token";
import type { ClientRecord } from "./client-record";

/** 128 random bits: unguessable, so knowing one client_id tells nothing about another. */
export function generateClientId(): string {
  return "client_" + randomBytes(16).toString("base64url");
}

/** 256 random bits, base64url: safe in Basic credentials and form bodies without escaping. */
export function generateClientSecret(): string {
  return randomBytes(32).toString("base64url");
}

export function generateRegistrationAccessToken(): string {
  return "reg_" + randomBytes(32).toString("base64url");
}

/** The stored form: lower-case SHA-256 hex. */
export function hashClientSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Does `presented` hash to `storedHash`? Constant-time; an absent or empty stored hash never matches. */
export function secretMatchesHash(storedHash: string | null, presented: string): boolean {
  if (!storedHash) return false;
  return secretsEqual(storedHash, hashClientSecret(presented));
}

/** A presented client secret is right and not past client_secret_expires_at; public clients have none to match. */
export function clientSecretMatches(record: ClientRecord, secret: string, nowSeconds = Date.now() / 1000): boolean {
  const matches = secretMatchesHash(record.client_secret_hash, secret);
  const expired = record.client_secret_expires_at !== 0 && record.client_secret_expires_at <= nowSeconds;
  return matches && !expired;
}
