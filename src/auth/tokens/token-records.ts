/**
 * What TokenStore keeps, and the pure helpers around opaque refresh tokens.
 *
 * A grant is one login's token family: the access tokens and the chain of
 * refresh tokens that descend from one authorization code. Revoking the grant
 * ends all of them at once.
 */
import { createHash, randomBytes } from "node:crypto";

export interface GrantRecord {
  grant_id: string;
  client_id: string;
  sub: string;
  username: string;
  email: string | null;
  scope: string;
  resources: string[];
  proxy_hostname: string | null;
  /** Seconds since the epoch. */
  created_at: number;
  auth_time: number;
  /** The OAuth flow trace's id of the sign-in that started the grant: refreshes and revocations join that flow. */
  flow_id?: string;
}

/** `oauth:token:{jti}`: what the admin API and introspection show of an access token. */
export interface AccessTokenRecord {
  jti: string;
  client_id: string;
  sub: string;
  username: string;
  scope: string;
  aud: string[];
  iat: number;
  exp: number;
  grant_id: string;
}

/** A live refresh token, as looked up by the token itself (never stored). */
export interface RefreshTokenRecord {
  grant_id: string;
  client_id: string;
  /** Seconds since the epoch. */
  issued_at: number;
  /** Seconds since the epoch; refresh tokens end with their grant. */
  expires_at: number;
  grant: GrantRecord;
}

export type RotateResult =
  | { ok: true; grant: GrantRecord; refreshToken: string }
  | { ok: false; reason: "unknown" | "client_mismatch" | "reused" };

/** Tells a refresh token apart from a JWT or a client secret at a glance (and to secret scanners). */
const REFRESH_TOKEN_PREFIX = "prt_";
const REFRESH_TOKEN_FORMAT = /^prt_[A-Za-z0-9_-]{43}$/;

/** 256 random bits, base64url, prefixed. */
export function newRefreshToken(): string {
  return REFRESH_TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

export function isRefreshTokenFormat(token: unknown): token is string {
  return typeof token === "string" && REFRESH_TOKEN_FORMAT.test(token);
}

/** Only the hash is stored, so a copy of Redis yields no usable refresh token. */
export function refreshTokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function parseJson<T>(raw: string | null | undefined): T | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return null;
  }
}
