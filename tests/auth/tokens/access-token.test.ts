/**
 * RFC 9068 access tokens: what is signed, an independent verifier's view of
 * it, and every way a token must be refused — always as invalid_token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import pino from "pino";
import { OAuthError } from "../../../src/auth/oauth-error";
import { signAccessToken, verifyAccessToken, type AccessTokenClaims, type VerifyOptions } from "../../../src/auth/tokens/access-token";
import { SigningKeys } from "../../../src/auth/tokens/signing-keys";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

const ISSUER = "https://auth.example.test";
const RESOURCE = "https://mcp.example.test";
let redis: TestRedis;
let keys: SigningKeys;

beforeAll(async () => {
  redis = await startTestRedis();
  keys = new SigningKeys(redis.client, { jwtAlgorithm: "RS256", jwtPrivateKeyPem: null, accessTokenLifetimeSeconds: 1800 }, pino({ level: "silent" }));
  await keys.start();
});
afterAll(() => redis?.stop());

const baseClaims = (): Omit<AccessTokenClaims, "jti" | "iat" | "exp"> => ({
  iss: ISSUER,
  sub: "github-42",
  aud: [RESOURCE, "https://other.example.test"],
  client_id: "client-1",
  azp: "client-1",
  scope: "mcp:read mcp:write",
  auth_time: 1_700_000_000,
  login: "octocat",
  email: "octocat@example.test",
  name: "The Octocat",
});
const sign = (lifetime = 600, overrides: Partial<AccessTokenClaims> = {}) => signAccessToken(keys, { ...baseClaims(), ...overrides }, lifetime);

/** Signs an arbitrary payload/header with the real current key, to build tokens our signer never would. */
async function forge(payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const { kid, privateKey } = keys.current();
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, sub: "s", aud: [RESOURCE], client_id: "c", scope: "", jti: "j", iat: now, exp: now + 60, ...payload })
    .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid, ...header })
    .sign(privateKey);
}

async function rejection(token: unknown, options: Partial<VerifyOptions> = {}): Promise<string> {
  try {
    await verifyAccessToken(keys, token as string, { issuer: ISSUER, ...options });
  } catch (err) {
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).code).toBe("invalid_token");
    expect((err as OAuthError).status).toBe(401);
    return (err as OAuthError).description;
  }
  throw new Error("the token was accepted");
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("signAccessToken", () => {
  test("signs RFC 9068 claims with header { alg: RS256, typ: at+jwt, kid }", async () => {
    const before = Math.floor(Date.now() / 1000);
    const { token, claims } = await sign(600);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "RS256", typ: "at+jwt", kid: keys.current().kid });
    expect(claims).toMatchObject({ ...baseClaims() });
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.exp).toBe(claims.iat + 600);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect((await sign()).claims.jti).not.toBe(claims.jti);
  });

  test("an independent verifier with only the JWKS accepts it, and sees the same claims", async () => {
    const { token, claims } = await sign();
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), {
      issuer: ISSUER,
      audience: RESOURCE,
      typ: "at+jwt",
      algorithms: ["RS256"],
    });
    expect(protectedHeader.typ).toBe("at+jwt");
    expect(payload).toEqual(claims as unknown as typeof payload);
  });

  test("optional claims left out are absent, not null", async () => {
    const { login, email, name, auth_time, ...required } = baseClaims();
    void [login, email, name, auth_time];
    const { token, claims } = await signAccessToken(keys, required, 60);
    expect(Object.keys(claims).sort()).toEqual(["aud", "azp", "client_id", "exp", "iat", "iss", "jti", "scope", "sub"]);
    expect(await verifyAccessToken(keys, token, { issuer: ISSUER })).toEqual(claims);
  });

  test("a token for no audience is refused (RFC 9068 §2.2: aud is required)", async () => {
    await expect(sign(60, { aud: [] })).rejects.toThrow(/audience/);
  });
});

describe("verifyAccessToken accepts", () => {
  test("a fresh token, returning its claims", async () => {
    const { token, claims } = await sign();
    expect(await verifyAccessToken(keys, token, { issuer: ISSUER })).toEqual(claims);
  });

  test("any of its audiences", async () => {
    const { token } = await sign();
    for (const audience of baseClaims().aud) expect((await verifyAccessToken(keys, token, { issuer: ISSUER, audience })).sub).toBe("github-42");
  });

  test("any of several issuers, when given a list", async () => {
    const { token } = await sign(60, { iss: "https://proxy.example.test" });
    expect((await verifyAccessToken(keys, token, { issuer: [ISSUER, "https://proxy.example.test"] })).iss).toBe("https://proxy.example.test");
    expect(await rejection(token, { issuer: [ISSUER, "https://other-proxy.example.test"] })).toBe("claim iss invalid");
  });

  test("a token expired less than the clock tolerance ago (30 s by default)", async () => {
    const { token } = await sign(-10);
    expect((await verifyAccessToken(keys, token, { issuer: ISSUER })).sub).toBe("github-42");
  });

  test("typ application/at+jwt (RFC 9068 §4) and a single-string aud", async () => {
    const token = await forge({ aud: RESOURCE }, { typ: "application/at+jwt" });
    expect((await verifyAccessToken(keys, token, { issuer: ISSUER, audience: RESOURCE })).aud).toEqual([RESOURCE]);
  });
});

describe("verifyAccessToken refuses with invalid_token", () => {
  test("a tampered payload", async () => {
    const { token } = await sign();
    const [h, , s] = token.split(".");
    const payload = { ...JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()), scope: "mcp:admin" };
    expect(await rejection(`${h}.${b64(payload)}.${s}`)).toBe("signature verification failed");
  });

  test("a tampered signature", async () => {
    const { token } = await sign();
    const signature = Buffer.from(token.split(".")[2]!, "base64url");
    signature[0]! ^= 1;
    expect(await rejection(token.replace(/[^.]+$/, signature.toString("base64url")))).toBe("signature verification failed");
  });

  test("an expired token, and one just expired when the tolerance is 0", async () => {
    expect(await rejection((await sign(-60)).token)).toBe("token expired");
    expect(await rejection((await sign(-10)).token, { clockToleranceSeconds: 0 })).toBe("token expired");
  });

  test("a token not valid yet (nbf in the future)", async () => {
    expect(await rejection(await forge({ nbf: Math.floor(Date.now() / 1000) + 120 }))).toBe("claim nbf invalid");
  });

  test("a token from another issuer", async () => {
    expect(await rejection((await sign(60, { iss: "https://evil.example.test" })).token)).toBe("claim iss invalid");
    expect(await rejection((await sign()).token, { issuer: "https://auth.example.test/other" })).toBe("claim iss invalid");
  });

  test("a token for another audience", async () => {
    expect(await rejection((await sign()).token, { audience: "https://unrelated.example.test" })).toBe("claim aud invalid");
  });

  test("alg none", async () => {
    const { token } = await sign();
    const [, payload] = token.split(".");
    const header = { alg: "none", typ: "at+jwt", kid: keys.current().kid };
    expect(await rejection(`${b64(header)}.${payload}.`)).toMatch(/unsupported algorithm/);
    expect(await rejection(`${b64({ ...header, alg: "NONE" })}.${payload}.`)).toMatch(/unsupported algorithm/);
  });

  test("HS256 keyed with the public key (algorithm confusion)", async () => {
    const { token } = await sign();
    const [, payload] = token.split(".");
    const header = b64({ alg: "HS256", typ: "at+jwt", kid: keys.current().kid });
    const mac = createHmac("sha256", JSON.stringify(keys.jwks().keys[0])).update(`${header}.${payload}`).digest("base64url");
    expect(await rejection(`${header}.${payload}.${mac}`)).toMatch(/unsupported algorithm/);
  });

  test("a JWT that is not an access token (typ JWT, or none)", async () => {
    expect(await rejection(await forge({}, { typ: "JWT" }))).toBe("claim typ invalid");
    expect(await rejection(await forge({}, { typ: undefined }))).toBe("claim typ invalid");
  });

  test("an unknown kid, and no kid", async () => {
    expect(await rejection(await forge({}, { kid: "not-a-key" }))).toBe("unknown signing key");
    expect(await rejection(await forge({}, { kid: undefined }))).toMatch(/kid/);
  });

  test("claims missing or of the wrong type", async () => {
    expect(await rejection(await forge({ client_id: undefined }))).toBe("claim client_id missing");
    expect(await rejection(await forge({ jti: undefined }))).toBe("claim jti missing");
    expect(await rejection(await forge({ sub: 42 }))).toMatch(/sub/);
    expect(await rejection(await forge({ scope: ["mcp:read"] }))).toMatch(/scope/);
    expect(await rejection(await forge({ aud: [RESOURCE, 7] }))).toMatch(/aud/);
  });

  test("random garbage never throws anything but OAuthError", async () => {
    const header = b64({ alg: "RS256", typ: "at+jwt", kid: keys.current().kid });
    const inputs: unknown[] = [
      "",
      ".",
      "..",
      "a.b.c",
      "a.b",
      "a.b.c.d.e",
      `${header}..`,
      `${header}.${b64("string payload")}.AAAA`,
      `${header}.${b64(null)}.AAAA`,
      `${header}.not base64!.AAAA`,
      `${b64("x")}.${b64({})}.AAAA`,
      `${b64({ alg: "RS256", kid: { toString: 1 } })}.${b64({})}.AAAA`,
      "Bearer " + header,
      "x".repeat(100_000),
      null,
      undefined,
      42,
      {},
      [],
    ];
    for (let i = 0; i < 300; i++) {
      const parts = Array.from({ length: 1 + (i % 4) }, () => randomBytes(i % 50).toString(i % 2 ? "base64url" : "latin1"));
      inputs.push(parts.join("."));
    }
    for (const input of inputs) await rejection(input);
  });
});
