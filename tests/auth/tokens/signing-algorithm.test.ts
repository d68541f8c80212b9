/**
 * OAUTH_JWT_ALGORITHM on a real Redis: ES256 keys generated and agreed on by
 * nodes starting together, and a change of algorithm going through the
 * ordinary rotation — the previous key retired, still published and still
 * verifying, new tokens signed with the new algorithm — even when several
 * nodes restart at once or the stored key predates the `alg` field.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { decodeProtectedHeader } from "jose";
import pino from "pino";
import type { JwtAlgorithm } from "../../../src/core/oauth-config";
import { signAccessToken, verifyAccessToken } from "../../../src/auth/tokens/access-token";
import { generateRecord } from "../../../src/auth/tokens/signing-key-record";
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

const node = (jwtAlgorithm: JwtAlgorithm, jwtPrivateKeyPem: string | null = null) =>
  new SigningKeys(redis.client, { jwtAlgorithm, jwtPrivateKeyPem, accessTokenLifetimeSeconds: LIFETIME }, log);
const started = async (jwtAlgorithm: JwtAlgorithm) => {
  const keys = node(jwtAlgorithm);
  await keys.start();
  return keys;
};
const claims = () => ({ iss: ISSUER, sub: "github-1", aud: ["https://mcp.example.test"], client_id: "c1", azp: "c1", scope: "mcp:read" });
const storedRecord = async (kid: string) => JSON.parse((await redis.client.hget(keys.oauthSigningKeys, kid))!);
const rotationEvents = async () =>
  ((await redis.client.xrange(keys.workflowStream, "-", "+")) as [string, string[]][])
    .map(parseStreamEntry)
    .filter((e) => e.event_type === "oauth_signing_key_rotated");
const headerAlg = (token: string) => decodeProtectedHeader(token).alg;

describe("ES256 configured on a fresh Redis", () => {
  test("nodes starting together agree on one EC P-256 key, and sign ES256", async () => {
    const nodes = [node("ES256"), node("ES256"), node("ES256")];
    await Promise.all(nodes.map((n) => n.start()));
    expect(new Set(nodes.map((n) => n.current().kid)).size).toBe(1);
    expect(await redis.client.hlen(keys.oauthSigningKeys)).toBe(1);
    const [only] = nodes[0]!.jwks().keys;
    expect(only).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect((await storedRecord(only!.kid!)).alg).toBe("ES256");

    const { token } = await signAccessToken(nodes[1]!, claims(), 60);
    expect(headerAlg(token)).toBe("ES256");
    expect((await verifyAccessToken(nodes[2]!, token, { issuer: ISSUER })).sub).toBe("github-1");
  });

  test("a restart keeps the key; rotate() makes another EC key", async () => {
    const first = await started("ES256");
    const again = await started("ES256");
    expect(again.current().kid).toBe(first.current().kid);
    expect(await rotationEvents()).toEqual([]);

    const { kid, retired } = await again.rotate();
    expect(retired).toEqual([first.current().kid]);
    expect(again.current()).toMatchObject({ kid, alg: "ES256" });
    expect(again.jwks().keys.map((k) => k.kty)).toEqual(["EC", "EC"]);
  });
});

describe("switching algorithm on a Redis that holds a key of the other one", () => {
  test("RS256 → ES256: the RS256 key is retired but published and verifying; new tokens are ES256; other nodes follow", async () => {
    const rsNode = await started("RS256");
    const rsKid = rsNode.current().kid;
    const { token: rsToken } = await signAccessToken(rsNode, claims(), 600);
    expect(headerAlg(rsToken)).toBe("RS256");

    const esNode = await started("ES256");
    const esKid = esNode.current().kid;
    expect(esKid).not.toBe(rsKid);
    expect(esNode.current().alg).toBe("ES256");
    expect(await redis.client.get(keys.oauthSigningKeyCurrent)).toBe(esKid);
    expect((await storedRecord(rsKid)).retired_at).toBeNumber();
    expect((await storedRecord(esKid))).toMatchObject({ alg: "ES256", retired_at: null });
    expect((await rotationEvents()).map((e) => e.data)).toEqual([{ kid: esKid, retired: [rsKid] }]);

    // Both keys are published, the current one first, each with its own algorithm.
    expect(esNode.jwks().keys.map((k) => [k.kid, k.kty, k.alg])).toEqual([
      [esKid, "EC", "ES256"],
      [rsKid, "RSA", "RS256"],
    ]);
    // The token signed before the switch keeps verifying; new ones are ES256.
    expect((await verifyAccessToken(esNode, rsToken, { issuer: ISSUER })).sub).toBe("github-1");
    const { token: esToken } = await signAccessToken(esNode, claims(), 600);
    expect(decodeProtectedHeader(esToken)).toEqual({ alg: "ES256", typ: "at+jwt", kid: esKid });

    // A node still configured RS256 follows the cluster's current key on reload (the event), rather than signing with a retired one.
    expect((await verifyAccessToken(rsNode, esToken, { issuer: ISSUER })).sub).toBe("github-1");
    await rsNode.reload();
    expect(rsNode.current()).toMatchObject({ kid: esKid, alg: "ES256" });
    expect(headerAlg((await signAccessToken(rsNode, claims(), 60)).token)).toBe("ES256");
  });

  test("nodes restarting together with the new algorithm make exactly one new key current", async () => {
    const rsKid = (await started("RS256")).current().kid;
    const nodes = [node("ES256"), node("ES256"), node("ES256"), node("ES256")];
    await Promise.all(nodes.map((n) => n.start()));
    const kids = new Set(nodes.map((n) => n.current().kid));
    expect(kids.size).toBe(1);
    const [esKid] = kids;
    expect(await redis.client.get(keys.oauthSigningKeyCurrent)).toBe(esKid!);
    expect((await redis.client.hkeys(keys.oauthSigningKeys)).sort()).toEqual([esKid!, rsKid].sort());
    expect((await rotationEvents()).map((e) => e.data)).toEqual([{ kid: esKid, retired: [rsKid] }]);
    for (const n of nodes) expect(n.jwks().keys.map((k) => k.kid)).toEqual([esKid!, rsKid]);
  });

  test("ES256 → RS256 goes the same way back", async () => {
    const esNode = await started("ES256");
    const { token: esToken } = await signAccessToken(esNode, claims(), 600);
    const rsNode = await started("RS256");
    expect(rsNode.current().alg).toBe("RS256");
    expect(rsNode.jwks().keys.map((k) => k.alg)).toEqual(["RS256", "ES256"]);
    expect((await storedRecord(esNode.current().kid)).retired_at).toBeNumber();
    expect((await verifyAccessToken(rsNode, esToken, { issuer: ISSUER })).sub).toBe("github-1");
    expect(headerAlg((await signAccessToken(rsNode, claims(), 60)).token)).toBe("RS256");
  });

  test("a stored key written before records had `alg` is RS256: kept by an RS256 node, replaced by an ES256 one", async () => {
    const { alg, ...legacy } = await generateRecord("RS256");
    void alg;
    await redis.client.hset(keys.oauthSigningKeys, legacy.kid, JSON.stringify(legacy));
    await redis.client.set(keys.oauthSigningKeyCurrent, legacy.kid);

    const rsNode = await started("RS256");
    expect(rsNode.current()).toMatchObject({ kid: legacy.kid, alg: "RS256" });
    expect(await redis.client.hlen(keys.oauthSigningKeys)).toBe(1);
    expect(await rotationEvents()).toEqual([]);
    const { token } = await signAccessToken(rsNode, claims(), 600);

    const esNode = await started("ES256");
    expect(esNode.current().alg).toBe("ES256");
    expect(await storedRecord(legacy.kid)).toMatchObject({ alg: "RS256", retired_at: expect.any(Number) });
    expect((await verifyAccessToken(esNode, token, { issuer: ISSUER })).sub).toBe("github-1");
  });

  test("a configured EC P-256 key (OAUTH_JWT_PRIVATE_KEY_B64) takes over from a generated RS256 key", async () => {
    const rsNode = await started("RS256");
    const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const configured = node("ES256", pem);
    await configured.start();
    expect(configured.current().alg).toBe("ES256");
    expect(configured.jwks().keys.map((k) => k.kid)).toEqual([configured.current().kid, rsNode.current().kid]);
    expect((await storedRecord(rsNode.current().kid)).retired_at).toBeNumber();
  });

  test("an RSA key configured with ES256 stops start-up, naming the variable, and changes nothing in Redis", async () => {
    const rsKid = (await started("RS256")).current().kid;
    const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    await expect(node("ES256", pem).start()).rejects.toThrow(/OAUTH_JWT_PRIVATE_KEY_B64: expected an EC P-256 private key for ES256/);
    expect(await redis.client.get(keys.oauthSigningKeyCurrent)).toBe(rsKid);
    expect(await redis.client.hlen(keys.oauthSigningKeys)).toBe(1);
  });
});
