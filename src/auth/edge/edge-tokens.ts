/**
 * Access-token verification for the edge, where it runs on every request.
 *
 * A token's signature is checked once per node, on its first sighting
 * (verifyAccessToken: the one definition of a well-formed token). Its claims
 * are then remembered under the token string until it expires, so each later
 * request costs one Map lookup, an expiry comparison, `revoked.has(jti)` and
 * (when configured) an issuer set lookup — and gets its answer synchronously,
 * not as a Promise. Revocation and issuers are checked on every use, never
 * remembered, so a revoked token is refused from the moment RevokedTokens
 * learns of it.
 *
 * Refusals that cannot change (bad signature, expired) are remembered too,
 * briefly, so a client retrying a dead token does not cost a signature check
 * each time. "Unknown signing key" and "not valid yet" are never remembered:
 * another node may have just rotated the key, and time passes.
 *
 * Issuer: our signature alone proves we minted a token; the `iss` check adds
 * that its issuer is still one this gateway answers for (the default issuer
 * and the proxies' own, `issuers`), which matters when a proxy's issuer is
 * withdrawn. Without `issuers`, the signature and the audience (checked by the
 * caller against the resource) decide.
 */
import { OAuthError } from "../oauth-error";
import { verifyAccessToken, type AccessTokenClaims } from "../tokens/access-token";
import type { RevokedTokens } from "../tokens/revoked-tokens";
import type { SigningKeys } from "../tokens/signing-keys";

export interface EdgeTokenVerifierOptions {
  /** Verified tokens remembered at most (oldest dropped first); 10 000 unless given. */
  readonly cacheSize?: number;
  /** Allowed clock skew for exp/nbf, as verifyAccessToken's; 30 s unless given. */
  readonly clockToleranceSeconds?: number;
  /** The issuers a token may name; read on every use, so it may change. Without it, iss is not checked. */
  readonly issuers?: () => ReadonlySet<string>;
}

interface Verified {
  readonly claims: AccessTokenClaims;
  /** When the token stops being accepted (exp plus the tolerance), in ms. */
  readonly expiresMs: number;
}

interface Refused {
  readonly reason: string;
  readonly untilMs: number;
}

const DEFAULT_CACHE_SIZE = 10_000;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
const REFUSAL_MEMORY_MS = 10 * 60_000;
/** verifyAccessToken's own limit; longer strings are refused before any work. */
const MAX_TOKEN_LENGTH = 16_384;
/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Refusals worth remembering: they cost a signature check and can never turn into acceptance. */
const FINAL_REFUSALS = new Set(["signature verification failed", "token expired"]);

/**
 * What one client connection remembers of the token it presented last. A
 * keep-alive client sends the same token on every request, and comparing it
 * with the last one (usually the very same string, see the raw edge's
 * RepeatedHeads) is cheaper than hashing it for the Map lookup (~0.15 µs for
 * an RS256 token). Only a token found verified is remembered; expiry,
 * revocation and the issuer are checked on every use all the same. Both
 * strings compared come from the same client, so the comparison's timing
 * tells it nothing it did not send.
 */
export class RememberedToken {
  /** The Authorization value last presented and the token cut from it (authenticate.ts): the same value is the same token. */
  authorization = "";
  bearer = "";
  token = "";
  entry: Verified | undefined = undefined;
  /** The verifier's epoch when remembered: another verifier's, or one before clear(), is not this one's. */
  epoch: object | undefined = undefined;
}

export class EdgeTokenVerifier {
  /** Replaced by clear(), so tokens connections remembered before it are looked up again. */
  private epoch: object = {};
  private readonly verified = new Map<string, Verified>();
  private readonly refused = new Map<string, Refused>();
  /** First sightings being verified, so a burst of requests with a new token shares one signature check. */
  private readonly pending = new Map<string, Promise<Verified>>();
  private readonly cacheSize: number;
  private readonly refusedSize: number;
  private readonly toleranceSeconds: number;
  private readonly issuers: (() => ReadonlySet<string>) | undefined;

  constructor(
    private readonly keys: SigningKeys,
    private readonly revoked: RevokedTokens,
    options: EdgeTokenVerifierOptions = {},
  ) {
    this.cacheSize = Math.max(1, Math.floor(options.cacheSize ?? DEFAULT_CACHE_SIZE));
    this.refusedSize = Math.max(16, Math.floor(this.cacheSize / 8));
    this.toleranceSeconds = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
    this.issuers = options.issuers;
  }

  /**
   * The token's claims, or OAuthError("invalid_token", reason). Synchronous
   * (a value, or a throw) for a token seen before; a Promise on a first sighting.
   * The claims object is shared between requests and frozen.
   */
  verify(token: string, remembered?: RememberedToken): AccessTokenClaims | Promise<AccessTokenClaims> {
    if (remembered !== undefined && remembered.epoch === this.epoch && remembered.token === token) return this.admit(token, remembered.entry!);
    const hit = this.verified.get(token);
    if (hit === undefined) return this.firstSighting(token);
    if (remembered !== undefined) {
      remembered.token = token;
      remembered.entry = hit;
      remembered.epoch = this.epoch;
    }
    return this.admit(token, hit);
  }

  /** Verified tokens remembered now. */
  get size(): number {
    return this.verified.size;
  }

  /** Forgets everything remembered (e.g. after the signing keys were replaced outright). */
  clear(): void {
    this.epoch = {};
    this.verified.clear();
    this.refused.clear();
  }

  private admit(token: string, entry: Verified): AccessTokenClaims {
    const claims = entry.claims;
    if (Date.now() >= entry.expiresMs) {
      this.verified.delete(token);
      this.remember(token, "token expired");
      throw invalid("token expired");
    }
    if (this.revoked.has(claims.jti)) throw invalid("token revoked");
    if (this.issuers !== undefined && !this.issuers().has(claims.iss)) throw invalid("claim iss invalid");
    return claims;
  }

  private firstSighting(token: string): AccessTokenClaims | Promise<AccessTokenClaims> {
    const refusal = this.refused.get(token);
    if (refusal !== undefined) {
      if (Date.now() < refusal.untilMs) throw invalid(refusal.reason);
      this.refused.delete(token);
    }
    if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token)) {
      throw invalid("malformed token");
    }
    let verifying = this.pending.get(token);
    if (verifying === undefined) {
      verifying = this.checkSignature(token);
      this.pending.set(token, verifying);
      const forget = () => this.pending.delete(token);
      verifying.then(forget, forget);
    }
    return verifying.then((entry) => this.admit(token, entry));
  }

  private async checkSignature(token: string): Promise<Verified> {
    let claims: AccessTokenClaims;
    try {
      claims = await verifyAccessToken(this.keys, token, { clockToleranceSeconds: this.toleranceSeconds });
    } catch (err) {
      const reason = err instanceof OAuthError ? err.description : "malformed token";
      if (FINAL_REFUSALS.has(reason)) this.remember(token, reason);
      throw err instanceof OAuthError ? err : invalid(reason);
    }
    Object.freeze(claims.aud);
    const entry: Verified = { claims: Object.freeze(claims), expiresMs: (claims.exp + this.toleranceSeconds) * 1000 };
    // Map keeps insertion order: the first key is the oldest, usually also the first to expire.
    if (this.verified.size >= this.cacheSize) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, entry);
    return entry;
  }

  private remember(token: string, reason: string): void {
    if (this.refused.size >= this.refusedSize) this.refused.delete(this.refused.keys().next().value!);
    this.refused.set(token, { reason, untilMs: Date.now() + REFUSAL_MEMORY_MS });
  }
}

function invalid(reason: string): OAuthError {
  return new OAuthError("invalid_token", reason);
}
