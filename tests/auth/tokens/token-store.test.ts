/**
 * TokenStore on a real Redis: grants, access-token records, refresh-token
 * rotation and reuse detection, revocation reaching every node's
 * RevokedTokens, TTLs on every key, and the admin listings.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import pino from "pino";
import { OAuthError } from "../../../src/auth/oauth-error";
import { signAccessToken, type AccessTokenClaims } from "../../../src/auth/tokens/access-token";
import { RevokedTokens } from "../../../src/auth/tokens/revoked-tokens";
import { SigningKeys } from "../../../src/auth/tokens/signing-keys";
import type { GrantRecord } from "../../../src/auth/tokens/token-records";
import { TokenStore } from "../../../src/auth/tokens/token-store";
import { parseStreamEntry } from "../../../src/orchestration/events";
import { keys } from "../../../src/storage/keys";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

const ACCESS_LIFETIME = 1800;
const REFRESH_LIFETIME = 86_400;
const ISSUER = "https://auth.example.test";
let redis: TestRedis;
let signing: SigningKeys;
let store: TokenStore;

beforeAll(async () => {
  redis = await startTestRedis();
  signing = new SigningKeys(redis.client, { jwtAlgorithm: "RS256", jwtPrivateKeyPem: null, accessTokenLifetimeSeconds: ACCESS_LIFETIME }, pino({ level: "silent" }));
  store = new TokenStore(redis.client, { accessTokenLifetimeSeconds: ACCESS_LIFETIME, refreshTokenLifetimeSeconds: REFRESH_LIFETIME });
});
afterAll(() => redis?.stop());
beforeEach(async () => {
  await redis.client.flushdb();
  await signing.start();
});

const grantFields = (overrides: Partial<GrantRecord> = {}) => ({
  client_id: "client-1",
  sub: "github-42",
  username: "octocat",
  email: "o@example.test",
  scope: "mcp:read",
  resources: ["https://mcp.example.test"],
  proxy_hostname: null,
  auth_time: 1_700_000_000,
  ...overrides,
});

/** Signs and records an access token the way /token does. */
async function accessToken(grant: GrantRecord, lifetime = ACCESS_LIFETIME): Promise<AccessTokenClaims> {
  const { claims } = await signAccessToken(
    signing,
    { iss: ISSUER, sub: grant.sub, aud: grant.resources, client_id: grant.client_id, azp: grant.client_id, scope: grant.scope, login: grant.username },
    lifetime,
  );
  await store.recordAccessToken(claims, grant.grant_id);
  return claims;
}

async function revocationEvents(): Promise<string[][]> {
  const entries = (await redis.client.xrange(keys.workflowStream, "-", "+")) as [string, string[]][];
  return entries
    .map(parseStreamEntry)
    .filter((e) => e.event_type === "oauth_token_revoked")
    .map((e) => e.data.jtis as string[]);
}

const pttl = (key: string) => redis.client.pttl(key);

describe("grants and access tokens", () => {
  test("a grant is stored for the refresh-token lifetime", async () => {
    const grant = await store.createGrant(grantFields());
    expect(grant.grant_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(grant.created_at).toBeGreaterThan(Date.now() / 1000 - 5);
    expect(await store.getGrant(grant.grant_id)).toEqual(grant);
    expect(await pttl(keys.oauthGrant(grant.grant_id))).toBeWithin(REFRESH_LIFETIME * 1000 - 5_000, REFRESH_LIFETIME * 1000 + 1);
    expect(await store.getGrant("no-such-grant")).toBeNull();
  });

  test("an access token is recorded until it expires, under its grant and its user", async () => {
    const grant = await store.createGrant(grantFields());
    const claims = await accessToken(grant, 600);
    expect(await store.getAccessToken(claims.jti)).toEqual({
      jti: claims.jti,
      client_id: "client-1",
      sub: "github-42",
      username: "octocat",
      scope: "mcp:read",
      aud: ["https://mcp.example.test"],
      iat: claims.iat,
      exp: claims.exp,
      grant_id: grant.grant_id,
    });
    for (const key of [keys.oauthToken(claims.jti), keys.oauthGrantTokens(grant.grant_id), keys.oauthUserTokens("github-42")]) {
      expect(await pttl(key)).toBeWithin(595_000, 600_001);
    }
    expect(await redis.client.zscore(keys.oauthUserTokens("github-42"), claims.jti)).toBe(String(claims.exp * 1000));
    // A longer-lived token extends the indexes; a shorter one never shortens them.
    await accessToken(grant, 900);
    await accessToken(grant, 60);
    expect(await pttl(keys.oauthUserTokens("github-42"))).toBeWithin(895_000, 900_001);
    expect(await pttl(keys.oauthGrantTokens(grant.grant_id))).toBeWithin(895_000, 900_001);
  });

  test("a token cannot be recorded under a revoked grant, nor under someone else's", async () => {
    const grant = await store.createGrant(grantFields());
    const other = await store.createGrant(grantFields({ sub: "github-7" }));
    await store.revokeGrant(grant.grant_id);
    const error = await accessToken(grant).catch((e) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.code).toBe("invalid_grant");
    const { claims } = await signAccessToken(signing, { iss: ISSUER, sub: "github-42", aud: ["x"], client_id: "client-1", azp: "client-1", scope: "" }, 60);
    await expect(store.recordAccessToken(claims, other.grant_id)).rejects.toThrow(/does not belong/);
    expect(await store.getAccessToken(claims.jti)).toBeNull();
  });
});

describe("refresh tokens", () => {
  test("an opaque prt_ token is stored only by its hash and ends with its grant", async () => {
    const grant = await store.createGrant(grantFields());
    const token = await store.issueRefreshToken(grant.grant_id);
    expect(token).toMatch(/^prt_[A-Za-z0-9_-]{43}$/);
    const allKeys = await redis.client.keys("*");
    expect(allKeys.some((k) => k.includes(token.slice(4)))).toBe(false);
    for (const key of allKeys) expect(JSON.stringify(await redis.client.dump(key))).not.toContain(token.slice(4));
    const record = await store.getRefreshToken(token);
    expect(record).toMatchObject({ grant_id: grant.grant_id, client_id: "client-1", grant });
    const grantTtl = await pttl(keys.oauthGrant(grant.grant_id));
    expect(record!.expires_at).toBeWithin(Math.floor((Date.now() + grantTtl) / 1000) - 2, Math.floor((Date.now() + grantTtl) / 1000) + 2);
    const refreshKey = allKeys.find((k) => k.startsWith(keys.oauthRefresh("")))!;
    expect(Math.abs((await pttl(refreshKey)) - grantTtl)).toBeLessThan(2_000);
  });

  test("rotation exchanges the token for a new one, again and again", async () => {
    const grant = await store.createGrant(grantFields());
    let token = await store.issueRefreshToken(grant.grant_id);
    for (let i = 0; i < 3; i++) {
      const rotated = await store.rotateRefreshToken(token, "client-1");
      if (!rotated.ok) throw new Error(`rotation ${i} failed: ${rotated.reason}`);
      expect(rotated.grant).toEqual(grant);
      expect(rotated.refreshToken).not.toBe(token);
      expect(await store.getRefreshToken(token)).toBeNull();
      expect((await store.getRefreshToken(rotated.refreshToken))?.grant_id).toBe(grant.grant_id);
      token = rotated.refreshToken;
    }
  });

  test("a rotated token presented again revokes the whole grant, and every node sees its access tokens revoked", async () => {
    const grant = await store.createGrant(grantFields());
    const first = await store.issueRefreshToken(grant.grant_id);
    const a1 = await accessToken(grant);
    const rotated = await store.rotateRefreshToken(first, "client-1");
    if (!rotated.ok) throw new Error(rotated.reason);
    const a2 = await accessToken(grant);
    const bystander = await accessToken(await store.createGrant(grantFields()));
    const edge = new RevokedTokens(redis.client);
    await edge.reload();
    expect(edge.has(a1.jti)).toBe(false);

    expect(await store.rotateRefreshToken(first, "client-1")).toEqual({ ok: false, reason: "reused" });

    expect(await store.getGrant(grant.grant_id)).toBeNull();
    // The newest refresh token, which the attacker or the client may hold, is gone too.
    expect(await store.rotateRefreshToken(rotated.refreshToken, "client-1")).toEqual({ ok: false, reason: "unknown" });
    expect(await store.getRefreshToken(rotated.refreshToken)).toBeNull();
    for (const jti of [a1.jti, a2.jti]) {
      expect(await store.isRevoked(jti)).toBe(true);
      expect(await store.getAccessToken(jti)).toBeNull();
    }
    expect(await store.isRevoked(bystander.jti)).toBe(false);
    expect((await revocationEvents()).map((jtis) => jtis.sort())).toEqual([[a1.jti, a2.jti].sort()]);
    expect(edge.wants("oauth_token_revoked")).toBe(true);
    expect(edge.has(a1.jti)).toBe(false); // memory only changes on reload
    await edge.reload();
    expect(edge.has(a1.jti)).toBe(true);
    expect(edge.has(a2.jti)).toBe(true);
    expect(edge.has(bystander.jti)).toBe(false);
    await expect(accessToken(grant)).rejects.toThrow(OAuthError);
    await expect(store.issueRefreshToken(grant.grant_id)).rejects.toThrow(OAuthError);
  });

  test("a token presented by another client is refused without revoking anything", async () => {
    const grant = await store.createGrant(grantFields());
    const token = await store.issueRefreshToken(grant.grant_id);
    const access = await accessToken(grant);
    expect(await store.rotateRefreshToken(token, "client-2")).toEqual({ ok: false, reason: "client_mismatch" });
    expect(await store.isRevoked(access.jti)).toBe(false);
    expect((await store.rotateRefreshToken(token, "client-1")).ok).toBe(true);
    // A rotated token of another client is still only a mismatch: client-2 cannot end client-1's grant.
    expect(await store.rotateRefreshToken(token, "client-2")).toEqual({ ok: false, reason: "client_mismatch" });
    expect(await store.getGrant(grant.grant_id)).not.toBeNull();
  });

  test("unknown and malformed tokens are unknown", async () => {
    for (const token of ["prt_" + "A".repeat(43), "A".repeat(47), "", "prt_short"]) {
      expect(await store.rotateRefreshToken(token, "client-1")).toEqual({ ok: false, reason: "unknown" });
      expect(await store.getRefreshToken(token)).toBeNull();
      expect(await store.revokeRefreshToken(token)).toBe(false);
    }
  });

  test("of two concurrent rotations of one token only one succeeds; the other counts as reuse", async () => {
    const grant = await store.createGrant(grantFields());
    const token = await store.issueRefreshToken(grant.grant_id);
    const results = await Promise.all([store.rotateRefreshToken(token, "client-1"), store.rotateRefreshToken(token, "client-1")]);
    expect(results.filter((r) => r.ok).length).toBe(1);
    expect(results.filter((r) => !r.ok && r.reason === "reused").length).toBe(1);
  });

  test("issuing again for a grant leaves one live refresh token", async () => {
    const grant = await store.createGrant(grantFields());
    const first = await store.issueRefreshToken(grant.grant_id);
    const second = await store.issueRefreshToken(grant.grant_id);
    expect(await store.getRefreshToken(first)).toBeNull();
    expect((await store.getRefreshToken(second))?.grant_id).toBe(grant.grant_id);
    expect((await store.counts()).refresh_tokens).toBe(1);
  });
});

describe("revocation", () => {
  test("one access token: on the revoked list until it expires, the rest of the grant untouched", async () => {
    const grant = await store.createGrant(grantFields());
    const refresh = await store.issueRefreshToken(grant.grant_id);
    const [a1, a2] = [await accessToken(grant, 600), await accessToken(grant, 900)];
    expect(await store.revokeAccessToken(a1.jti)).toBe(true);
    expect(await store.revokeAccessToken(a1.jti)).toBe(false);
    expect(await store.revokeAccessToken("no-such-jti")).toBe(false);
    expect(await store.isRevoked(a1.jti)).toBe(true);
    expect(await store.isRevoked(a2.jti)).toBe(false);
    expect(await redis.client.zscore(keys.oauthRevoked, a1.jti)).toBe(String(a1.exp * 1000));
    expect(await pttl(keys.oauthRevoked)).toBeWithin(595_000, 600_001);
    expect(await store.getRefreshToken(refresh)).not.toBeNull();
    expect(await revocationEvents()).toEqual([[a1.jti]]);
    expect(await redis.client.zscore(keys.oauthGrantTokens(grant.grant_id), a1.jti)).toBeNull();
    // A later, longer-lived revocation extends the list's TTL.
    await store.revokeAccessToken(a2.jti);
    expect(await pttl(keys.oauthRevoked)).toBeWithin(895_000, 900_001);
  });

  test("revoking a refresh token revokes its grant (RFC 7009 §2.1)", async () => {
    const grant = await store.createGrant(grantFields());
    const refresh = await store.issueRefreshToken(grant.grant_id);
    const access = await accessToken(grant);
    expect(await store.revokeRefreshToken(refresh)).toBe(true);
    expect(await store.isRevoked(access.jti)).toBe(true);
    expect(await store.getGrant(grant.grant_id)).toBeNull();
    expect(await store.revokeRefreshToken(refresh)).toBe(false);
    expect(await store.rotateRefreshToken(refresh, "client-1")).toEqual({ ok: false, reason: "unknown" });
  });

  test("entries whose token has expired are pruned from the list and ignored by every node", async () => {
    const stale = Date.now() - 1_000;
    await redis.client.zadd(keys.oauthRevoked, stale, "long-expired");
    const edge = new RevokedTokens(redis.client);
    await edge.reload();
    expect(edge.has("long-expired")).toBe(false);
    expect(await store.isRevoked("long-expired")).toBe(false);

    const grant = await store.createGrant(grantFields());
    const access = await accessToken(grant);
    await store.revokeAccessToken(access.jti);
    expect(await redis.client.zrange(keys.oauthRevoked, "0", "-1")).toEqual([access.jti]);
    await edge.reload();
    expect(edge.has(access.jti)).toBe(true);
    expect(edge.size).toBe(1);
  });
});

describe("keys", () => {
  test("every key written has a TTL (the event stream is bounded by length instead)", async () => {
    const grant = await store.createGrant(grantFields());
    const refresh = await store.issueRefreshToken(grant.grant_id);
    await accessToken(grant);
    const rotated = await store.rotateRefreshToken(refresh, "client-1");
    if (!rotated.ok) throw new Error(rotated.reason);
    await store.issueRefreshToken(grant.grant_id);
    const other = await store.createGrant(grantFields({ sub: "github-7" }));
    await store.revokeAccessToken((await accessToken(other)).jti);
    await accessToken(other);
    await store.rotateRefreshToken(refresh, "client-1"); // reuse: revokes the first grant

    const written = (await redis.client.keys("*")).filter((k) => !([keys.workflowStream, keys.oauthSigningKeys, keys.oauthSigningKeyCurrent] as string[]).includes(k));
    expect(written.length).toBeGreaterThan(5);
    for (const key of written) {
      const ttl = await pttl(key);
      if (ttl <= 0) throw new Error(`${key} has no TTL`);
    }
  });
});

describe("listings for the admin API", () => {
  test("access tokens by user, by client, or all; grants; counts", async () => {
    const g1 = await store.createGrant(grantFields());
    const g2 = await store.createGrant(grantFields({ client_id: "client-2", sub: "github-7", username: "hubot" }));
    await store.issueRefreshToken(g1.grant_id);
    const t1 = await accessToken(g1);
    const t2 = await accessToken(g2);
    const t3 = await accessToken(g1);
    await store.revokeAccessToken(t3.jti);

    const jtis = (records: { jti: string }[]) => records.map((r) => r.jti).sort();
    expect(jtis(await store.listAccessTokens())).toEqual([t1.jti, t2.jti].sort());
    expect(jtis(await store.listAccessTokens({ sub: "github-42" }))).toEqual([t1.jti]);
    expect(jtis(await store.listAccessTokens({ clientId: "client-2" }))).toEqual([t2.jti]);
    expect(jtis(await store.listAccessTokens({ sub: "github-42", clientId: "client-2" }))).toEqual([]);
    expect((await store.listGrants()).map((g) => g.grant_id).sort()).toEqual([g1.grant_id, g2.grant_id].sort());
    expect(await store.counts()).toEqual({ access_tokens: 2, refresh_tokens: 1, grants: 2, revoked: 1 });
  });
});
