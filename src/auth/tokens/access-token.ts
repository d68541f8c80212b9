/**
 * JWT access tokens in the RFC 9068 profile, signed with the current signing
 * key (RS256 or ES256, whichever that key is for) and verified locally against
 * the keys in memory, so the edge needs no network hop per request.
 * Revocation is checked separately (RevokedTokens), as it changes faster than
 * the keys.
 * @see https://www.rfc-editor.org/rfc/rfc9068
 */
import { randomUUID } from "node:crypto";
import { decodeProtectedHeader, errors, jwtVerify, SignJWT, type JWTPayload } from "jose";
import { isJwtAlgorithm } from "../../core/oauth-config";
import { OAuthError } from "../oauth-error";
import type { SigningKeys } from "./signing-keys";

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  /** The resources (RFC 8707) the token is for; always an array here, though a JWT may carry a single string. */
  aud: string[];
  client_id: string;
  azp: string;
  /** Space-separated. */
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  auth_time?: number;
  login?: string;
  email?: string;
  name?: string;
}

export interface VerifyOptions {
  /**
   * The expected iss; a list when several are ours (a proxy may present its own issuer).
   * Absent only for the authorization server's own endpoints, where our signature
   * already proves we minted the token, whichever issuer it names.
   */
  issuer?: string | readonly string[];
  /** When given, the token's aud must include it. */
  audience?: string;
  /** Allowed clock skew for exp/nbf/iat; 30 s unless given. */
  clockToleranceSeconds?: number;
}

const TYP = "at+jwt";
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
/** Far above any token we issue; stops a huge header from costing a decode. */
const MAX_TOKEN_LENGTH = 16_384;
const OPTIONAL_CLAIMS = ["auth_time", "login", "email", "name"] as const;

/** Signs a new access token; `jti`, `iat` and `exp` are set here. */
export async function signAccessToken(
  keys: SigningKeys,
  claims: Omit<AccessTokenClaims, "jti" | "iat" | "exp">,
  lifetimeSeconds: number,
): Promise<{ token: string; claims: AccessTokenClaims }> {
  // RFC 9068 §2.2 makes aud REQUIRED: a token for nothing is a caller's mistake.
  if (claims.aud.length === 0) throw new Error("an access token needs at least one audience");
  const iat = Math.floor(Date.now() / 1000);
  const full: AccessTokenClaims = { ...claims, jti: randomUUID(), iat, exp: iat + lifetimeSeconds };
  for (const name of OPTIONAL_CLAIMS) if (full[name] === undefined) delete full[name];
  const { kid, alg, privateKey } = keys.current();
  const token = await new SignJWT({ ...full } as JWTPayload).setProtectedHeader({ alg, typ: TYP, kid }).sign(privateKey);
  return { token, claims: full };
}

/**
 * Verifies signature (by `kid`), typ, alg, iss, exp/nbf and optionally aud.
 * Whatever is wrong — including input that is not a JWT at all — ends in
 * OAuthError("invalid_token"); nothing else is thrown.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export async function verifyAccessToken(keys: SigningKeys, token: string, options: VerifyOptions): Promise<AccessTokenClaims> {
  try {
    return await verify(keys, token, options);
  } catch (err) {
    if (err instanceof OAuthError) throw err;
    throw new OAuthError("invalid_token", describe(err));
  }
}

async function verify(keys: SigningKeys, token: string, options: VerifyOptions): Promise<AccessTokenClaims> {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid("malformed token");
  const header = decodeProtectedHeader(token);
  // Only RS256 and ES256 are ever issued; checking before the key lookup keeps "none" and HMAC confusion out early.
  if (!isJwtAlgorithm(header.alg)) throw invalid(`unsupported algorithm ${JSON.stringify(header.alg ?? null)}`);
  if (typeof header.kid !== "string" || header.kid.length === 0) throw invalid("token names no signing key (kid)");
  let key = keys.verificationKey(header.kid);
  if (!key) {
    await keys.reloadForUnknownKid();
    key = keys.verificationKey(header.kid);
  }
  if (!key) throw invalid("unknown signing key");
  // Each key verifies with its own algorithm only: the token's header does not get to choose how its signature is checked.
  if (header.alg !== key.alg) throw invalid(`algorithm ${header.alg} does not match the signing key's (${key.alg})`);
  const { payload } = await jwtVerify(token, key.publicKey, {
    algorithms: [key.alg],
    typ: TYP,
    issuer: options.issuer === undefined || typeof options.issuer === "string" ? options.issuer : [...options.issuer],
    audience: options.audience,
    clockTolerance: options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"],
  });
  return claimsFrom(payload);
}

/** The payload as AccessTokenClaims, or invalid_token if a claim has the wrong type. */
function claimsFrom(payload: JWTPayload): AccessTokenClaims {
  const p = payload as Record<string, unknown>;
  const aud = typeof p.aud === "string" ? [p.aud] : p.aud;
  const strings = ["iss", "sub", "client_id", "scope", "jti"] as const;
  for (const name of strings) if (typeof p[name] !== "string") throw invalid(`claim ${name} must be a string`);
  if (!Array.isArray(aud) || !aud.every((a) => typeof a === "string")) throw invalid("claim aud must be a string or an array of strings");
  if (typeof p.iat !== "number" || typeof p.exp !== "number") throw invalid("claims iat and exp must be numbers");
  const claims: AccessTokenClaims = {
    iss: p.iss as string,
    sub: p.sub as string,
    aud,
    client_id: p.client_id as string,
    azp: typeof p.azp === "string" ? p.azp : (p.client_id as string),
    scope: p.scope as string,
    jti: p.jti as string,
    iat: p.iat,
    exp: p.exp,
  };
  if (typeof p.auth_time === "number") claims.auth_time = p.auth_time;
  if (typeof p.login === "string") claims.login = p.login;
  if (typeof p.email === "string") claims.email = p.email;
  if (typeof p.name === "string") claims.name = p.name;
  return claims;
}

function invalid(why: string): OAuthError {
  return new OAuthError("invalid_token", why);
}

/** A short reason for the WWW-Authenticate error_description; never echoes the token. */
function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "token expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `claim ${err.claim} ${err.reason === "missing" ? "missing" : "invalid"}`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return "signature verification failed";
  if (err instanceof errors.JOSEAlgNotAllowed) return "unsupported algorithm";
  return "malformed token";
}
