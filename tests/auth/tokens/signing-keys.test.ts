/**
 * SigningKeys on a real Redis: one generated key for nodes starting together,
 * the configured key taking over, rotation with the old key still verifying,
 * and other nodes catching up through reload().
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, importSPKI, jwtVerify } from "jose";
import pino from "pino";
import { signAccessToken, verifyAccessToken } from "../../../src/auth/tokens/access-token";
import { SigningKeys } from "../../../src/auth/tokens/signing-keys";
import { parseStreamEntry } from "../../../src/orchestration/events";
import { keys } from "../../../src/storage/keys";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

const log = pino({ level: "silent" });
const ISSUER = "https://auth.example.test";
const LIFETIME = 1800;
let redis: TestRedis;

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(() => redis?.stop());
beforeEach(() => redis.client.flushdb());

const generated = (lifetime = LIFETIME) => new SigningKeys(redis.client, { jwtAlgorithm: "RS256", jwtPrivateKeyPem: null, accessTokenLifetimeSeconds: lifetime }, log);
const configured = (pem: string) => new SigningKeys(redis.client, { jwtAlgorithm: "RS256", jwtPrivateKeyPem: pem, accessTokenLifetimeSeconds: LIFETIME }, log);
const rsaPem = (bits = 2048, type: "pkcs8" | "pkcs1" = "pkcs8") =>
  generateKeyPairSync("rsa", { modulusLength: bits }).privateKey.export({ type, format: "pem" }).toString();
const claims = () => ({ iss: ISSUER, sub: "github-1", aud: ["https://mcp.example.test"], client_id: "c1", azp: "c1", scope: "mcp:read" });
const storedRecord = async (kid: string) => JSON.parse((await redis.client.hget(keys.oauthSigningKeys, kid))!);
const rotationEvents = async () =>
  ((await redis.client.xrange(keys.workflowStream, "-", "+")) as [string, string[]][])
    .map(parseStreamEntry)
    .filter((e) => e.event_type === "oauth_signing_key_rotated");

describe("a generated key", () => {
  test("nodes starting together on one Redis agree on one key", async () => {
    const nodes = [generated(), generated(), generated()];
    await Promise.all(nodes.map((n) => n.start()));
    const kids = new Set(nodes.map((n) => n.current().kid));
    expect(kids.size).toBe(1);
    expect(await redis.client.hlen(keys.oauthSigningKeys)).toBe(1);
    expect(await redis.client.get(keys.oauthSigningKeyCurrent)).toBe([...kids][0]!);
  });

  test("a restarted node keeps the key (tokens it signed still verify)", async () => {
    const first = generated();
    await first.start();
    const { token } = await signAccessToken(first, claims(), 60);
    const restarted = generated();
    await restarted.start();
    expect(restarted.current().kid).toBe(first.current().kid);
    expect((await verifyAccessToken(restarted, token, { issuer: ISSUER })).sub).toBe("github-1");
  });

  test("the kid is the RFC 7638 thumbprint and the JWKS holds only public RS256 parameters", async () => {
    const node = generated();
    await node.start();
    const [jwk] = node.jwks().keys;
    expect(Object.keys(jwk!).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
    expect(jwk).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig", kid: node.current().kid });
    expect(await calculateJwkThumbprint({ kty: "RSA", n: jwk!.n, e: jwk!.e })).toBe(node.current().kid);
    expect(Buffer.from(jwk!.n!, "base64url").length).toBe(256); // 2048 bits
  });

  test("current() before start() says so", () => {
    expect(() => generated().current()).toThrow(/start\(\)/);
  });
});

describe("a configured key (OAUTH_JWT_PRIVATE_KEY_B64)", () => {
  test("wins over the stored key, which is retired but still verifies", async () => {
    const old = generated();
    await old.start();
    const { token: oldToken } = await signAccessToken(old, claims(), 60);
    const oldKid = old.current().kid;

    const pem = rsaPem();
    const node = configured(pem);
    await node.start();
    const spki = createPublicKey(pem).export({ type: "spki", format: "pem" }).toString();
    const { kty, n, e } = await exportJWK(await importSPKI(spki, "RS256", { extractable: true }));
    const kid = await calculateJwkThumbprint({ kty: kty!, n, e });
    expect(node.current().kid).toBe(kid);
    expect(await redis.client.get(keys.oauthSigningKeyCurrent)).toBe(kid);
    expect((await storedRecord(oldKid)).retired_at).toBeNumber();
    expect((await storedRecord(kid)).retired_at).toBeNull();
    expect(node.jwks().keys.map((k) => k.kid)).toEqual([kid, oldKid]);
    expect((await verifyAccessToken(node, oldToken, { issuer: ISSUER })).sub).toBe("github-1");
    expect((await rotationEvents()).map((e) => e.data)).toEqual([{ kid, retired: [oldKid] }]);

    // A node without the variable follows what Redis says is current.
    await old.reload();
    expect(old.current().kid).toBe(kid);
  });

  test("starting again with the same key changes nothing", async () => {
    const pem = rsaPem();
    await configured(pem).start();
    await configured(pem).start();
    expect(await redis.client.hlen(keys.oauthSigningKeys)).toBe(1);
    expect((await rotationEvents()).length).toBe(1);
  });

  test("a PKCS#1 PEM (openssl genrsa) is accepted", async () => {
    const node = configured(rsaPem(2048, "pkcs1"));
    await node.start();
    expect(node.current().kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test.each([
    ["a 1024-bit RSA key", () => rsaPem(1024), /OAUTH_JWT_PRIVATE_KEY_B64.*1024 bits.*2048/],
    ["an EC key", () => generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString(), /OAUTH_JWT_PRIVATE_KEY_B64.*RSA/],
    ["garbage", () => "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n", /OAUTH_JWT_PRIVATE_KEY_B64/],
  ])("%s is refused with an error naming the variable", async (_, pem, message) => {
    await expect(configured(pem()).start()).rejects.toThrow(message);
    expect(await redis.client.exists(keys.oauthSigningKeyCurrent)).toBe(0);
  });

  test("rotate() is refused: the variable is the source of truth", async () => {
    const node = configured(rsaPem());
    await node.start();
    await expect(node.rotate()).rejects.toThrow(/OAUTH_JWT_PRIVATE_KEY_B64: rotate it by changing that variable/);
  });
});

describe("rotation", () => {
  test("the new key signs, the old one stays published and verifies, and other nodes follow on reload()", async () => {
    const [a, b] = [generated(), generated()];
    await Promise.all([a.start(), b.start()]);
    const oldKid = a.current().kid;
    const { token: before } = await signAccessToken(a, claims(), 600);

    const { kid, retired } = await a.rotate();
    expect(retired).toEqual([oldKid]);
    expect(kid).not.toBe(oldKid);
    expect(a.current().kid).toBe(kid);
    expect(a.jwks().keys.map((k) => k.kid)).toEqual([kid, oldKid]);
    expect((await storedRecord(oldKid)).retired_at).toBeNumber();
    expect((await rotationEvents()).map((e) => e.data)).toEqual([{ kid, retired: [oldKid] }]);
    expect((await verifyAccessToken(a, before, { issuer: ISSUER })).sub).toBe("github-1");

    // b has not seen the event yet: it still signs with the old key until it reloads.
    expect(b.current().kid).toBe(oldKid);
    expect(b.wants("oauth_signing_key_rotated")).toBe(true);
    expect(b.wants("proxy_created")).toBe(false);
    await b.reload();
    expect(b.current().kid).toBe(kid);
    expect(b.jwks().keys.map((k) => k.kid)).toEqual([kid, oldKid]);
    const { token: after } = await signAccessToken(a, claims(), 600);
    for (const token of [before, after]) expect((await verifyAccessToken(b, token, { issuer: ISSUER })).sub).toBe("github-1");

    // An independent verifier given only b's JWKS accepts both.
    const jwks = createLocalJWKSet(b.jwks());
    for (const token of [before, after]) expect((await jwtVerify(token, jwks, { issuer: ISSUER })).protectedHeader.typ).toBe("at+jwt");
  });

  test("a node that has not reloaded yet still verifies a token of the new key (unknown kid → one reload)", async () => {
    const [a, b] = [generated(), generated()];
    await Promise.all([a.start(), b.start()]);
    await a.rotate();
    const { token } = await signAccessToken(a, claims(), 600);
    expect(b.verificationKey(a.current().kid)).toBeUndefined();
    expect((await verifyAccessToken(b, token, { issuer: ISSUER })).sub).toBe("github-1");
    expect(b.current().kid).toBe(a.current().kid);
  });

  test("a key retired for longer than the access-token lifetime is unpublished, then deleted on the next rotation", async () => {
    const node = generated(60);
    await node.start();
    const first = node.current().kid;
    const { kid: second } = await node.rotate();
    // Pretend the first key was retired two minutes ago.
    await redis.client.hset(keys.oauthSigningKeys, first, JSON.stringify({ ...(await storedRecord(first)), retired_at: Math.floor(Date.now() / 1000) - 120 }));
    await node.reload();
    expect(node.jwks().keys.map((k) => k.kid)).toEqual([second]);
    expect(node.verificationKey(first)).toBeUndefined();
    expect(node.verificationKey(second)).toBeDefined();

    const { kid: third, retired } = await node.rotate();
    expect(retired).toEqual([second]);
    expect((await redis.client.hkeys(keys.oauthSigningKeys)).sort()).toEqual([second, third].sort());
  });
});
