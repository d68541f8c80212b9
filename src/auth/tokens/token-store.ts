/**
 * Grants, access-token records, refresh tokens and revocation in Redis.
 *
 *   oauth:grant:{id}          hash: record (JSON GrantRecord), refresh (hash of the live refresh token)
 *   oauth:grant_tokens:{id}   zset: jti → expiry (ms) of the grant's access tokens
 *   oauth:token:{jti}         JSON AccessTokenRecord, until the token expires
 *   oauth:user_tokens:{sub}   zset: jti → expiry (ms), for listing a user's tokens
 *   oauth:refresh:{sha256}    hash: grant_id, client_id, state (live | rotated), issued_at
 *   oauth:revoked             zset: jti → expiry (ms)
 *
 * A grant lives OAUTH_REFRESH_TOKEN_LIFETIME from login and its refresh tokens
 * end with it (an absolute, not sliding, lifetime). A rotated refresh token
 * stays as a tombstone for as long, so presenting it again is detected as
 * reuse and the whole grant is revoked (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2).
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { keys } from "../../storage/keys";
import { watchAndCommit } from "../../storage/transaction";
import { OAuthError } from "../oauth-error";
import type { AccessTokenClaims } from "./access-token";
import { queueRevocation, type RevocationTarget } from "./revocation";
import { countTokens, listAccessTokens, listGrantsWithRefresh } from "./token-listing";
import {
  isRefreshTokenFormat,
  newRefreshToken,
  parseJson,
  refreshTokenHash,
  type AccessTokenRecord,
  type GrantRecord,
  type RefreshTokenRecord,
  type RotateResult,
} from "./token-records";

export type { AccessTokenRecord, GrantRecord, RefreshTokenRecord, RotateResult } from "./token-records";

export interface TokenLifetimes {
  readonly accessTokenLifetimeSeconds: number;
  readonly refreshTokenLifetimeSeconds: number;
}

/**
 * Stores an access token under its grant, unless the grant is gone: a token
 * minted while its grant was being revoked must not outlive the revocation.
 * KEYS: grant, grant_tokens, token, user_tokens. ARGV: jti, record, expiry ms, now ms.
 */
const RECORD_ACCESS_TOKEN = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ttl = tonumber(ARGV[3]) - tonumber(ARGV[4])
redis.call('SET', KEYS[3], ARGV[2], 'PX', ttl)
for _, index in ipairs({KEYS[2], KEYS[4]}) do
  redis.call('ZREMRANGEBYSCORE', index, '-inf', ARGV[4])
  redis.call('ZADD', index, ARGV[3], ARGV[1])
  if redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
end
return 1`;

/**
 * Makes a new refresh token the grant's only live one; the previous one (if
 * the caller saw it right) becomes a tombstone. Refresh keys expire with the grant.
 * KEYS: grant, new refresh, previous refresh (or the new one again). ARGV: new hash, previous hash or '', client_id, grant_id, now s.
 */
const ISSUE_REFRESH = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then return 'no_grant' end
local live = redis.call('HGET', KEYS[1], 'refresh') or ''
if live ~= ARGV[2] then return 'conflict' end
if live ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[3], 'state', 'rotated') end
redis.call('HSET', KEYS[2], 'grant_id', ARGV[4], 'client_id', ARGV[3], 'state', 'live', 'issued_at', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('HSET', KEYS[1], 'refresh', ARGV[1])
return 'ok'`;

/**
 * Exchanges the live refresh token for a new one, atomically, so two
 * concurrent uses of one token cannot both succeed.
 * KEYS: presented refresh, grant, new refresh. ARGV: client_id, presented hash, new hash, grant_id, now s.
 */
const ROTATE_REFRESH = `
local token = redis.call('HMGET', KEYS[1], 'grant_id', 'client_id', 'state')
if not token[1] or token[1] ~= ARGV[4] then return {'unknown'} end
if token[2] ~= ARGV[1] then return {'client_mismatch'} end
if token[3] ~= 'live' then return {'reused'} end
local grant = redis.call('HGET', KEYS[2], 'record')
local ttl = redis.call('PTTL', KEYS[2])
if not grant or ttl < 0 then return {'unknown'} end
if redis.call('HGET', KEYS[2], 'refresh') ~= ARGV[2] then return {'reused'} end
redis.call('HSET', KEYS[1], 'state', 'rotated')
redis.call('HSET', KEYS[3], 'grant_id', ARGV[4], 'client_id', ARGV[1], 'state', 'live', 'issued_at', ARGV[5])
redis.call('PEXPIRE', KEYS[3], ttl)
redis.call('HSET', KEYS[2], 'refresh', ARGV[3])
return {'ok', grant}`;

const ISSUE_ATTEMPTS = 5;

const nowSeconds = () => Math.floor(Date.now() / 1000);
const grantGone = () => new OAuthError("invalid_grant", "the grant was revoked or has expired");

export class TokenStore {
  constructor(
    private readonly redis: Redis,
    private readonly settings: TokenLifetimes,
  ) {}

  /** Starts a token family for one login; it lives as long as a refresh token may. */
  async createGrant(fields: Omit<GrantRecord, "grant_id" | "created_at">): Promise<GrantRecord> {
    const grant: GrantRecord = { grant_id: randomUUID(), created_at: nowSeconds(), ...fields };
    const key = keys.oauthGrant(grant.grant_id);
    await this.redis.multi().hset(key, "record", JSON.stringify(grant)).expire(key, this.settings.refreshTokenLifetimeSeconds).exec();
    return grant;
  }

  async getGrant(grantId: string): Promise<GrantRecord | null> {
    return parseJson<GrantRecord>(await this.redis.hget(keys.oauthGrant(grantId), "record"));
  }

  /**
   * Records a signed access token under its grant. Throws OAuthError
   * invalid_grant if the grant was revoked meanwhile: the token must then not
   * be handed out.
   */
  async recordAccessToken(claims: AccessTokenClaims, grantId: string): Promise<void> {
    const grant = await this.getGrant(grantId);
    if (!grant) throw grantGone();
    if (grant.sub !== claims.sub || grant.client_id !== claims.client_id) {
      throw new Error(`access token ${claims.jti} does not belong to grant ${grantId}`);
    }
    const nowMs = Date.now();
    const expiresMs = claims.exp * 1000;
    if (expiresMs <= nowMs) throw new Error(`access token ${claims.jti} has already expired`);
    const record: AccessTokenRecord = {
      jti: claims.jti,
      client_id: claims.client_id,
      sub: claims.sub,
      username: claims.login ?? grant.username,
      scope: claims.scope,
      aud: claims.aud,
      iat: claims.iat,
      exp: claims.exp,
      grant_id: grantId,
    };
    const stored = await this.redis.eval(
      RECORD_ACCESS_TOKEN,
      4,
      keys.oauthGrant(grantId),
      keys.oauthGrantTokens(grantId),
      keys.oauthToken(claims.jti),
      keys.oauthUserTokens(claims.sub),
      claims.jti,
      JSON.stringify(record),
      String(expiresMs),
      String(nowMs),
    );
    if (stored !== 1) throw grantGone();
  }

  async getAccessToken(jti: string): Promise<AccessTokenRecord | null> {
    return parseJson<AccessTokenRecord>(await this.redis.get(keys.oauthToken(jti)));
  }

  /** A new refresh token for the grant, replacing any earlier one. Throws OAuthError invalid_grant if the grant is gone. */
  async issueRefreshToken(grantId: string): Promise<string> {
    const grantKey = keys.oauthGrant(grantId);
    for (let attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
      const [record, previous] = await this.redis.hmget(grantKey, "record", "refresh");
      const grant = parseJson<GrantRecord>(record);
      if (!grant) throw grantGone();
      const token = newRefreshToken();
      const hash = refreshTokenHash(token);
      const outcome = await this.redis.eval(
        ISSUE_REFRESH,
        3,
        grantKey,
        keys.oauthRefresh(hash),
        keys.oauthRefresh(previous ?? hash),
        hash,
        previous ?? "",
        grant.client_id,
        grantId,
        String(nowSeconds()),
      );
      if (outcome === "ok") return token;
      if (outcome === "no_grant") throw grantGone();
      // "conflict": another refresh token was issued meanwhile; decide again with it.
    }
    throw new Error(`the refresh token of grant ${grantId} kept changing during ${ISSUE_ATTEMPTS} attempts`);
  }

  /**
   * The refresh grant: the presented token is exchanged for a new one. A token
   * already exchanged means it leaked (or the client is broken): the whole grant
   * is revoked. A token of another client is refused without revoking anything,
   * so one client cannot end another's grant.
   */
  async rotateRefreshToken(token: string, clientId: string): Promise<RotateResult> {
    if (!isRefreshTokenFormat(token)) return { ok: false, reason: "unknown" };
    const hash = refreshTokenHash(token);
    const grantId = await this.redis.hget(keys.oauthRefresh(hash), "grant_id");
    if (!grantId) return { ok: false, reason: "unknown" };
    const next = newRefreshToken();
    const nextHash = refreshTokenHash(next);
    const [outcome, grantJson] = (await this.redis.eval(
      ROTATE_REFRESH,
      3,
      keys.oauthRefresh(hash),
      keys.oauthGrant(grantId),
      keys.oauthRefresh(nextHash),
      clientId,
      hash,
      nextHash,
      grantId,
      String(nowSeconds()),
    )) as [string, string?];
    if (outcome === "ok") {
      const grant = parseJson<GrantRecord>(grantJson);
      return grant ? { ok: true, grant, refreshToken: next } : { ok: false, reason: "unknown" };
    }
    if (outcome === "reused") {
      await this.revokeGrantIfPresent(grantId);
      return { ok: false, reason: "reused" };
    }
    return { ok: false, reason: outcome === "client_mismatch" ? "client_mismatch" : "unknown" };
  }

  /** The live refresh token's record with its grant; null for unknown, rotated or revoked tokens. */
  async getRefreshToken(token: string): Promise<RefreshTokenRecord | null> {
    if (!isRefreshTokenFormat(token)) return null;
    const key = keys.oauthRefresh(refreshTokenHash(token));
    const [[, fields], [, ttlMs]] = (await this.redis.multi().hgetall(key).pttl(key).exec()) as [[unknown, Record<string, string>], [unknown, number]];
    if (fields.state !== "live" || !fields.grant_id) return null;
    const grant = await this.getGrant(fields.grant_id);
    if (!grant) return null;
    return {
      grant_id: fields.grant_id,
      client_id: fields.client_id ?? grant.client_id,
      issued_at: Number(fields.issued_at),
      expires_at: Math.floor((Date.now() + Math.max(ttlMs, 0)) / 1000),
      grant,
    };
  }

  /** Revokes one access token; false if it is unknown or already expired. */
  async revokeAccessToken(jti: string): Promise<boolean> {
    const record = await this.getAccessToken(jti);
    if (!record || record.exp * 1000 <= Date.now()) return false;
    const tx = this.redis.multi();
    queueRevocation(tx, [record]);
    await tx.exec();
    return true;
  }

  /** Revoking a refresh token ends its whole grant (RFC 7009 §2.1). False if the token is unknown. */
  async revokeRefreshToken(token: string): Promise<boolean> {
    if (!isRefreshTokenFormat(token)) return false;
    const grantId = await this.redis.hget(keys.oauthRefresh(refreshTokenHash(token)), "grant_id");
    return grantId ? this.revokeGrantIfPresent(grantId) : false;
  }

  /** Every access token of the grant goes on the revoked list; the grant and its refresh token are deleted. */
  async revokeGrant(grantId: string): Promise<void> {
    await this.revokeGrantIfPresent(grantId);
  }

  /** Whether a jti is on the revoked list (Redis; the edge uses RevokedTokens in memory instead). */
  async isRevoked(jti: string): Promise<boolean> {
    const expiresMs = await this.redis.zscore(keys.oauthRevoked, jti);
    return expiresMs !== null && Number(expiresMs) > Date.now();
  }

  listAccessTokens(filter: { clientId?: string; sub?: string } = {}): Promise<AccessTokenRecord[]> {
    return listAccessTokens(this.redis, filter);
  }

  async listGrants(): Promise<GrantRecord[]> {
    return (await listGrantsWithRefresh(this.redis)).map((g) => g.grant);
  }

  counts(): Promise<{ access_tokens: number; refresh_tokens: number; grants: number; revoked: number }> {
    return countTokens(this.redis);
  }

  /**
   * Watches the grant and its token index, so an access token recorded while
   * this decides makes it decide again rather than escape the revocation.
   */
  private revokeGrantIfPresent(grantId: string): Promise<boolean> {
    const grantKey = keys.oauthGrant(grantId);
    const indexKey = keys.oauthGrantTokens(grantId);
    return watchAndCommit(this.redis, [grantKey, indexKey], async (conn) => {
      const nowMs = Date.now();
      const [[record, refresh], scored] = await Promise.all([
        conn.hmget(grantKey, "record", "refresh"),
        conn.zrangebyscore(indexKey, `(${nowMs}`, "+inf", "WITHSCORES"),
      ]);
      const grant = parseJson<GrantRecord>(record);
      const jtis = scored.filter((_, i) => i % 2 === 0);
      if (!grant && !refresh && jtis.length === 0) return { result: false };
      const tokenRecords = jtis.length > 0 ? await conn.mget(jtis.map(keys.oauthToken)) : [];
      const targets: RevocationTarget[] = jtis.map((jti, i) => {
        const token = parseJson<AccessTokenRecord>(tokenRecords[i]);
        return { jti, exp: token?.exp ?? Math.ceil(Number(scored[2 * i + 1]) / 1000), sub: token?.sub ?? grant?.sub ?? null, grant_id: grantId };
      });
      const tx = conn.multi();
      queueRevocation(tx, targets, nowMs);
      tx.del(grantKey, indexKey);
      if (refresh) tx.del(keys.oauthRefresh(refresh));
      return { commit: tx, result: true };
    });
  }
}
