/**
 * ES256 access tokens: an independent verifier (node:crypto, not the library
 * that signed) accepts them against the published JWKS, they are much shorter
 * than RS256 ones, and a key verifies only tokens that name its own algorithm
 * (no algorithm confusion between the RSA and EC keys published side by side).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac, createPublicKey, verify as verifySignature, type JsonWebKeyInput } from "node:crypto";
import { SignJWT } from "jose";
import pino from "pino";
import { OAuthError } from "../../../src/auth/oauth-error";
import { signAccessToken, verifyAccessToken, type AccessTokenClaims } from "../../../src/auth/tokens/access-token";
import { SigningKeys, type Signer } from "../../../src/auth/tokens/signing-keys";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

const ISSUER = "https://auth.example.test";
const RESOURCE = "https://mcp.example.test";
const log = pino({ level: "silent" });
let redis: TestRedis;
/** Signs ES256; its Redis also holds the RS256 key it replaced, retired but published. */
let keys: SigningKeys;
let rsaSigner: Signer;
let ecSigner: Signer;

beforeAll(async () => {
  redis = await startTestRedis();
  const rsNode = new SigningKeys(redis.client, { jwtAlgorithm: "RS256", jwtPrivateKeyPem: null, accessTokenLifetimeSeconds: 1800 }, log);
  await rsNode.start();
  rsaSigner = rsNode.current();
  keys = new SigningKeys(redis.client, { jwtAlgorithm: "ES256", jwtPrivateKeyPem: null, accessTokenLifetimeSeconds: 1800 }, log);
  await keys.start();
  ecSigner = keys.current();
});
afterAll(() => redis?.stop());

const baseClaims = (): Omit<AccessTokenClaims, "jti" | "iat" | "exp"> => ({
  iss: ISSUER,
  sub: "github-42",
  aud: [RESOURCE],
  client_id: "client-1",
  azp: "client-1",
  scope: "mcp:read",
});
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A token signed by `signer`'s private key, with a header we choose: what a forger holding one of the keys could send. */
function forge(signer: Signer, header: { alg: string; kid: string }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...baseClaims(), jti: "j", iat: now, exp: now + 60 }).setProtectedHeader({ typ: "at+jwt", ...header }).sign(signer.privateKey);
}

async function rejection(token: string): Promise<string> {
  try {
    await verifyAccessToken(keys, token, { issuer: ISSUER });
  } catch (err) {
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).code).toBe("invalid_token");
    return (err as OAuthError).description;
  }
  throw new Error("the token was accepted");
}

/** ES256 verification with node:crypto against the JWKS: JWS carries the signature as r‖s (IEEE P1363), not DER. */
function verifyWithJwks(jwt: string): boolean {
  const [headerB64, payloadB64, signatureB64] = jwt.split(".");
  const header = JSON.parse(Buffer.from(headerB64!, "base64url").toString());
  const jwk = keys.jwks().keys.find((k) => k.kid === header.kid);
  expect(jwk).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256" });
  const key = createPublicKey({ key: jwk, format: "jwk" } as JsonWebKeyInput);
  return verifySignature("sha256", Buffer.from(`${headerB64}.${payloadB64}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(signatureB64!, "base64url"));
}

describe("an ES256 access token", () => {
  test("has header { alg: ES256, typ: at+jwt, kid } and verifies with node:crypto against the published JWKS", async () => {
    const { token, claims } = await signAccessToken(keys, baseClaims(), 600);
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString())).toEqual({ alg: "ES256", typ: "at+jwt", kid: ecSigner.kid });
    expect(verifyWithJwks(token)).toBe(true);
    expect(await verifyAccessToken(keys, token, { issuer: ISSUER, audience: RESOURCE })).toEqual(claims);

    const tampered = token.replace(/\.[^.]+\./, `.${b64({ ...claims, scope: "mcp:admin" })}.`);
    expect(verifyWithJwks(tampered)).toBe(false);
    expect(await rejection(tampered)).toBe("signature verification failed");
  });

  test("carries an 86-character signature where RS256 needs 342", async () => {
    const { token } = await signAccessToken(keys, baseClaims(), 600);
    expect(token.split(".")[2]).toHaveLength(86);
    const rsToken = await forge(rsaSigner, { alg: "RS256", kid: rsaSigner.kid });
    expect(rsToken.split(".")[2]).toHaveLength(342);
  });
});

describe("algorithm confusion is refused", () => {
  test("the retired RS256 key still verifies its own RS256 tokens", async () => {
    expect((await verifyAccessToken(keys, await forge(rsaSigner, { alg: "RS256", kid: rsaSigner.kid }), { issuer: ISSUER })).sub).toBe("github-42");
  });

  test("a token labelled ES256 naming the RSA key's kid, and one labelled RS256 naming the EC key's kid", async () => {
    expect(await rejection(await forge(ecSigner, { alg: "ES256", kid: rsaSigner.kid }))).toBe("algorithm ES256 does not match the signing key's (RS256)");
    expect(await rejection(await forge(rsaSigner, { alg: "RS256", kid: ecSigner.kid }))).toBe("algorithm RS256 does not match the signing key's (ES256)");
  });

  test("none, HS256 keyed with the EC public key, and other algorithms", async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = b64({ ...baseClaims(), jti: "j", iat: now, exp: now + 60 });
    for (const alg of ["none", "HS256", "ES384", "PS256", "EdDSA"]) {
      const header = b64({ alg, typ: "at+jwt", kid: ecSigner.kid });
      const mac = createHmac("sha256", JSON.stringify(keys.jwks().keys[0])).update(`${header}.${payload}`).digest("base64url");
      expect(await rejection(`${header}.${payload}.${alg === "none" ? "" : mac}`)).toMatch(/unsupported algorithm/);
    }
  });
});
