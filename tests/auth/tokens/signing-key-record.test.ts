/**
 * Signing key records without Redis: an ES256 key's shape (generated or
 * configured), the published JWK per algorithm, the refusals that name
 * OAUTH_JWT_PRIVATE_KEY_B64, and reading records written before `alg` existed.
 */
import { describe, expect, test } from "bun:test";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { calculateJwkThumbprint } from "jose";
import { generateRecord, parseRecord, publicJwkOf, recordFromPem } from "../../../src/auth/tokens/signing-key-record";

const pkcs8 = (key: { export(o: { type: "pkcs8"; format: "pem" }): string | Buffer }) => key.export({ type: "pkcs8", format: "pem" }).toString();
const ecPem = (namedCurve: string) => pkcs8(generateKeyPairSync("ec", { namedCurve }).privateKey);
const rsaPem = () => pkcs8(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey);

describe("keys per algorithm", () => {
  test("is generated on P-256; its JWK is { kty EC, crv P-256, x, y, kid, alg ES256, use sig } and its kid the RFC 7638 thumbprint", async () => {
    const record = await generateRecord("ES256");
    expect(record.alg).toBe("ES256");
    expect(createPublicKey(record.private_pem).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const jwk = publicJwkOf(record);
    expect(Object.keys(jwk).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x", "y"]);
    expect(jwk).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig", kid: record.kid });
    expect(Buffer.from(jwk.x!, "base64url").length).toBe(32);
    expect(Buffer.from(jwk.y!, "base64url").length).toBe(32);
    expect(await calculateJwkThumbprint({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y })).toBe(record.kid);
  });

  test("an RS256 key is still RSA-2048 and publishes { kty, n, e, kid, alg RS256, use sig }", async () => {
    const record = await generateRecord("RS256");
    expect(record.alg).toBe("RS256");
    const jwk = publicJwkOf(record);
    expect(Object.keys(jwk).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
    expect(jwk).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
    expect(Buffer.from(jwk.n!, "base64url").length).toBe(256);
  });

  test("a configured EC P-256 key is accepted, as PKCS#8 and as SEC1 (openssl ecparam -genkey)", async () => {
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const fromPkcs8 = await recordFromPem(pkcs8(key), "ES256");
    // What `openssl ecparam -name prime256v1 -genkey` prints: a parameters block, then the SEC1 key.
    const ecparamOutput = `-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n${key.export({ type: "sec1", format: "pem" })}`;
    const fromSec1 = await recordFromPem(ecparamOutput, "ES256");
    expect(fromPkcs8.alg).toBe("ES256");
    expect(fromSec1.kid).toBe(fromPkcs8.kid);
    expect(publicJwkOf(fromPkcs8).crv).toBe("P-256");
  });

  test.each([
    ["an RSA key", () => rsaPem(), /^OAUTH_JWT_PRIVATE_KEY_B64: expected an EC P-256 private key for ES256.*got an RSA key/],
    ["a P-384 key", () => ecPem("P-384"), /^OAUTH_JWT_PRIVATE_KEY_B64: the EC key is on P-384, ES256 needs P-256/],
    ["an Ed25519 key", () => pkcs8(generateKeyPairSync("ed25519").privateKey), /^OAUTH_JWT_PRIVATE_KEY_B64: expected an EC P-256 private key.*got a key of type ed25519/],
  ])("%s configured for ES256 is refused with a message naming the variable", async (_, pem, message) => {
    await expect(recordFromPem(pem(), "ES256")).rejects.toThrow(message);
  });

  test("an EC P-256 key configured for RS256 is refused and the message points at OAUTH_JWT_ALGORITHM=ES256", async () => {
    await expect(recordFromPem(ecPem("P-256"), "RS256")).rejects.toThrow(/^OAUTH_JWT_PRIVATE_KEY_B64: expected an RSA private key for RS256.*OAUTH_JWT_ALGORITHM=ES256/);
  });
});

describe("parseRecord", () => {
  test("a record without alg (written before ES256) reads as RS256 and publishes as before", async () => {
    const { alg, ...old } = await generateRecord("RS256");
    void alg;
    const parsed = parseRecord(JSON.stringify(old));
    expect(parsed?.alg).toBe("RS256");
    expect(publicJwkOf(parsed!)).toEqual({ ...old.public_jwk, kid: old.kid, alg: "RS256", use: "sig" });
  });

  test("accepts both shapes, and refuses a public key that does not fit its alg or an unknown alg", async () => {
    const rsa = await generateRecord("RS256");
    const ec = await generateRecord("ES256");
    expect(parseRecord(JSON.stringify(rsa))).toEqual(rsa);
    expect(parseRecord(JSON.stringify(ec))).toEqual(ec);
    // An EC record without alg would be taken for RS256: its JWK has no n, so it is malformed, never an RSA key.
    const { alg, ...ecWithoutAlg } = ec;
    void alg;
    expect(parseRecord(JSON.stringify(ecWithoutAlg))).toBeNull();
    expect(parseRecord(JSON.stringify({ ...rsa, alg: "ES256" }))).toBeNull();
    expect(parseRecord(JSON.stringify({ ...ec, alg: "RS256" }))).toBeNull();
    expect(parseRecord(JSON.stringify({ ...ec, public_jwk: { ...ec.public_jwk, crv: "P-384" } }))).toBeNull();
    for (const bad of ["HS256", "none", "EdDSA", null, 256]) expect(parseRecord(JSON.stringify({ ...ec, alg: bad }))).toBeNull();
    expect(parseRecord(JSON.stringify({ ...rsa, public_jwk: null }))).toBeNull();
  });
});
