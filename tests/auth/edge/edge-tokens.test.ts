/**
 * EdgeTokenVerifier against real signing keys on a real Redis: the first
 * sighting verifies the signature, later ones answer synchronously from
 * memory — and still refuse a token once it is revoked or expired.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPair, SignJWT } from "jose";
import pino from "pino";
import { EdgeTokenVerifier, RememberedToken } from "../../../src/auth/edge/edge-tokens";
import { OAuthError } from "../../../src/auth/oauth-error";
import { signAccessToken, type AccessTokenClaims } from "../../../src/auth/tokens/access-token";
import { RevokedTokens } from "../../../src/auth/tokens/revoked-tokens";
import { SigningKeys } from "../../../src/auth/tokens/signing-keys";
import { TokenStore } from "../../../src/auth/tokens/token-store";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

const ISSUER = "https://auth.example.test";
const RESOURCE = "https://mcp.example.test/mcp";
const silent = pino({ level: "silent" });

let redis: TestRedis;
let otherRedis: TestRedis;
let keys: SigningKeys;
let otherGatewayKeys: SigningKeys;
let revoked: RevokedTokens;
let store: TokenStore;

beforeAll(async () => {
  [redis, otherRedis] = await Promise.all([startTestRedis(), startTestRedis()]);
  keys = new SigningKeys(redis.client, { jwtAlgorithm: "RS256", jwtPrivateKeyPem: null, accessTokenLifetimeSeconds: 1800 }, silent);
  otherGatewayKeys = new SigningKeys(otherRedis.client, { jwtAlgorithm: "RS256", jwtPrivateKeyPem: null, accessTokenLifetimeSeconds: 1800 }, silent);
  await Promise.all([keys.start(), otherGatewayKeys.start()]);
  revoked = new RevokedTokens(redis.client);
  await revoked.reload();
  store = new TokenStore(redis.client, { accessTokenLifetimeSeconds: 1800, refreshTokenLifetimeSeconds: 3600 });
});
afterAll(async () => {
  await Promise.all([redis?.stop(), otherRedis?.stop()]);
});

const claims = (overrides: Partial<AccessTokenClaims> = {}): Omit<AccessTokenClaims, "jti" | "iat" | "exp"> => ({
  iss: ISSUER,
  sub: "github-1",
  aud: [RESOURCE],
  client_id: "client-1",
  azp: "client-1",
  scope: "mcp:read",
  login: "alice",
  ...overrides,
});
const sign = (lifetime = 600, overrides: Partial<AccessTokenClaims> = {}) => signAccessToken(keys, claims(overrides), lifetime);

/** A token whose exp (whole seconds) is a full second away: signed just after a second begins, not just before it ends. */
async function signExpiringInASecond() {
  await Bun.sleep(1000 - (Date.now() % 1000) + 5);
  return sign(1);
}

/** A token recorded under a grant, so TokenStore can revoke it as the API does. */
async function recordedToken(): Promise<{ token: string; claims: AccessTokenClaims }> {
  const grant = await store.createGrant({
    client_id: "client-1",
    sub: "github-1",
    username: "alice",
    email: null,
    scope: "mcp:read",
    resources: [RESOURCE],
    proxy_hostname: null,
    auth_time: Math.floor(Date.now() / 1000),
  });
  const signed = await sign();
  await store.recordAccessToken(signed.claims, grant.grant_id);
  return signed;
}

/** The refusal reason, and whether it came synchronously (a throw) or as a rejected Promise. */
function refusal(verifier: EdgeTokenVerifier, token: string, remembered?: RememberedToken): { sync: true; reason: string } | Promise<{ sync: false; reason: string }> {
  let result: ReturnType<EdgeTokenVerifier["verify"]>;
  try {
    result = verifier.verify(token, remembered);
  } catch (err) {
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).code).toBe("invalid_token");
    return { sync: true, reason: (err as OAuthError).description };
  }
  if (!(result instanceof Promise)) throw new Error("the token was accepted");
  return result.then(
    () => {
      throw new Error("the token was accepted");
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(OAuthError);
      expect((err as OAuthError).code).toBe("invalid_token");
      return { sync: false as const, reason: (err as OAuthError).description };
    },
  );
}

describe("EdgeTokenVerifier", () => {
  test("a first sighting is a Promise of the claims; the next verify returns the same claims synchronously", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { token, claims: signed } = await sign();
    const first = verifier.verify(token);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual(signed);
    const second = verifier.verify(token);
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toEqual(signed);
    expect(Object.isFrozen(second)).toBe(true);
    expect(verifier.size).toBe(1);
  });

  test("concurrent first sightings share one verification", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { token, claims: signed } = await sign();
    const results = await Promise.all([verifier.verify(token), verifier.verify(token), verifier.verify(token)]);
    for (const result of results) expect(result).toEqual(signed);
    expect(verifier.size).toBe(1);
  });

  test("a cached token revoked through the token store is refused synchronously once RevokedTokens reloads", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { token, claims: signed } = await recordedToken();
    expect((await verifier.verify(token)).jti).toBe(signed.jti);
    expect(verifier.verify(token)).toEqual(signed);

    expect(await store.revokeAccessToken(signed.jti)).toBe(true);
    await revoked.reload();
    expect(revoked.has(signed.jti)).toBe(true);
    expect(refusal(verifier, token)).toEqual({ sync: true, reason: "token revoked" });
    // A verifier that never saw it refuses it on its first sighting too.
    expect(await refusal(new EdgeTokenVerifier(keys, revoked), token)).toEqual({ sync: false, reason: "token revoked" });
  });

  test("a cached token is refused synchronously from the moment it expires", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked, { clockToleranceSeconds: 0 });
    const { token, claims: signed } = await signExpiringInASecond();
    expect((await verifier.verify(token)).jti).toBe(signed.jti);
    await Bun.sleep(Math.max(0, signed.exp * 1000 - Date.now()) + 5);
    expect(refusal(verifier, token)).toEqual({ sync: true, reason: "token expired" });
    expect(verifier.size).toBe(0);
    expect(refusal(verifier, token)).toEqual({ sync: true, reason: "token expired" });
  });

  test("an expired token is refused; the refusal is remembered, so the next one is synchronous", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { token } = await sign(-120);
    expect(await refusal(verifier, token)).toEqual({ sync: false, reason: "token expired" });
    expect(refusal(verifier, token)).toEqual({ sync: true, reason: "token expired" });
  });

  test("a token signed with another key under our kid fails its signature, and the refusal is remembered", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { privateKey } = await generateKeyPair("RS256");
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ ...claims(), jti: "forged", iat: now, exp: now + 600 })
      .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: keys.current().kid })
      .sign(privateKey);
    expect(await refusal(verifier, token)).toEqual({ sync: false, reason: "signature verification failed" });
    expect(refusal(verifier, token)).toEqual({ sync: true, reason: "signature verification failed" });
  });

  test("a token from another gateway's key is refused (unknown signing key), and not remembered", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { token } = await signAccessToken(otherGatewayKeys, claims(), 600);
    expect(await refusal(verifier, token)).toEqual({ sync: false, reason: "unknown signing key" });
    // A key rotated on another node may be this kid a moment later: ask again.
    expect(await refusal(verifier, token)).toEqual({ sync: false, reason: "unknown signing key" });
  });

  test("garbage is refused synchronously, before any signature work", () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    expect(refusal(verifier, "")).toEqual({ sync: true, reason: "malformed token" });
    expect(refusal(verifier, "not a token!")).toEqual({ sync: true, reason: "malformed token" });
    expect(refusal(verifier, "a".repeat(20_000))).toEqual({ sync: true, reason: "malformed token" });
  });

  test("with issuers, iss must be one of them on every use, cached or not", async () => {
    let issuers = new Set([ISSUER]);
    const verifier = new EdgeTokenVerifier(keys, revoked, { issuers: () => issuers });
    const ours = await sign();
    const proxyIssued = await sign(600, { iss: "https://mcp.example.test" });
    expect((await verifier.verify(ours.token)).iss).toBe(ISSUER);
    expect(await refusal(verifier, proxyIssued.token)).toEqual({ sync: false, reason: "claim iss invalid" });
    issuers = new Set([ISSUER, "https://mcp.example.test"]);
    expect(verifier.verify(proxyIssued.token)).toEqual(proxyIssued.claims);
    issuers = new Set(["https://mcp.example.test"]);
    expect(refusal(verifier, ours.token)).toEqual({ sync: true, reason: "claim iss invalid" });
  });

  test("without issuers, our signature is what counts, whatever issuer the token names", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { token } = await sign(600, { iss: "https://proxy-issuer.example.test" });
    expect((await verifier.verify(token)).iss).toBe("https://proxy-issuer.example.test");
  });

  test("the cache is bounded: the oldest token is dropped and verified again on its next use", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked, { cacheSize: 2 });
    const [a, b, c] = await Promise.all([sign(), sign(), sign()]);
    await verifier.verify(a!.token);
    await verifier.verify(b!.token);
    await verifier.verify(c!.token);
    expect(verifier.size).toBe(2);
    expect(verifier.verify(c!.token)).not.toBeInstanceOf(Promise);
    expect(verifier.verify(b!.token)).not.toBeInstanceOf(Promise);
    const again = verifier.verify(a!.token);
    expect(again).toBeInstanceOf(Promise);
    expect((await again).jti).toBe(a!.claims.jti);
  });

  test("clear() forgets verified tokens", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { token } = await sign();
    await verifier.verify(token);
    verifier.clear();
    expect(verifier.size).toBe(0);
    expect(verifier.verify(token)).toBeInstanceOf(Promise);
  });
});

describe("a connection's remembered token (RememberedToken)", () => {
  test("found verified, it is remembered: the same claims, synchronously; another token on the connection gets its own", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const [a, b] = await Promise.all([sign(), sign(600, { sub: "github-2", login: "bob" })]);
    await verifier.verify(a!.token);
    await verifier.verify(b!.token);
    const remembered = new RememberedToken();
    for (const [token, expected] of [[a!.token, a!.claims], [a!.token, a!.claims], [b!.token, b!.claims], [a!.token, a!.claims], [b!.token, b!.claims]] as const) {
      const claims = verifier.verify(token, remembered);
      expect(claims).not.toBeInstanceOf(Promise);
      expect((claims as AccessTokenClaims).jti).toBe(expected.jti);
      expect(remembered.token).toBe(token);
    }
  });

  test("a first sighting is not remembered: only a token found verified is", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { token } = await sign();
    const remembered = new RememberedToken();
    await verifier.verify(token, remembered);
    expect(remembered.entry).toBeUndefined();
    verifier.verify(token, remembered);
    expect(remembered.token).toBe(token);
  });

  test("a remembered token revoked is refused from the moment RevokedTokens reloads", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { token, claims: signed } = await recordedToken();
    const remembered = new RememberedToken();
    await verifier.verify(token);
    expect(verifier.verify(token, remembered)).toEqual(signed);
    expect(remembered.token).toBe(token);
    expect(await store.revokeAccessToken(signed.jti)).toBe(true);
    await revoked.reload();
    expect(refusal(verifier, token, remembered)).toEqual({ sync: true, reason: "token revoked" });
  });

  test("a remembered token is refused once it expires, on every later use", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked, { clockToleranceSeconds: 0 });
    const { token, claims: signed } = await signExpiringInASecond();
    const remembered = new RememberedToken();
    await verifier.verify(token);
    expect(verifier.verify(token, remembered)).toEqual(signed);
    await Bun.sleep(Math.max(0, signed.exp * 1000 - Date.now()) + 5);
    expect(refusal(verifier, token, remembered)).toEqual({ sync: true, reason: "token expired" });
    expect(refusal(verifier, token, remembered)).toEqual({ sync: true, reason: "token expired" });
  });

  test("with issuers, iss is checked on every use of a remembered token", async () => {
    let issuers = new Set([ISSUER]);
    const verifier = new EdgeTokenVerifier(keys, revoked, { issuers: () => issuers });
    const { token } = await sign();
    const remembered = new RememberedToken();
    await verifier.verify(token);
    verifier.verify(token, remembered);
    issuers = new Set(["https://another-issuer.example.test"]);
    expect(refusal(verifier, token, remembered)).toEqual({ sync: true, reason: "claim iss invalid" });
  });

  test("what a connection remembered from one verifier means nothing to another", async () => {
    const { token } = await sign();
    const first = new EdgeTokenVerifier(keys, revoked);
    const remembered = new RememberedToken();
    await first.verify(token);
    first.verify(token, remembered);
    expect(new EdgeTokenVerifier(keys, revoked).verify(token, remembered)).toBeInstanceOf(Promise);
  });

  test("clear() forgets what every connection remembers: the next use is verified again", async () => {
    const verifier = new EdgeTokenVerifier(keys, revoked);
    const { token, claims: signed } = await sign();
    const remembered = new RememberedToken();
    await verifier.verify(token);
    verifier.verify(token, remembered);
    verifier.clear();
    const again = verifier.verify(token, remembered);
    expect(again).toBeInstanceOf(Promise);
    expect((await again).jti).toBe(signed.jti);
  });
});
