/**
 * Authorization codes on a real Redis: 60 s life, single use, replay
 * detection that names the grant, and the consume/attachGrant race.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { AuthorizationCodes, type AuthorizationCodeRecord } from "../../../src/auth/tokens/authorization-codes";
import { keys } from "../../../src/storage/keys";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

let redis: TestRedis;
let codes: AuthorizationCodes;

beforeAll(async () => {
  redis = await startTestRedis();
  codes = new AuthorizationCodes(redis.client);
});
afterAll(() => redis?.stop());
beforeEach(() => redis.client.flushdb());

const record = (): AuthorizationCodeRecord => ({
  client_id: "client-1",
  redirect_uri: "https://app.example.test/callback",
  code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  scope: "mcp:read",
  resources: ["https://mcp.example.test"],
  identity: { sub: "github-42", provider: "github", username: "octocat", name: null, email: "o@example.test", emails: ["o@example.test"] },
  proxy_hostname: null,
  auth_time: 1_700_000_000,
});

describe("AuthorizationCodes", () => {
  test("a code is 256 random bits in base64url and redeems once for its record", async () => {
    const code = await codes.issue(record());
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await codes.issue(record())).not.toBe(code);
    expect(await codes.consume(code)).toEqual({ ok: true, record: record() });
  });

  test("an unused code lives 60 s", async () => {
    const code = await codes.issue(record());
    const ttl = await redis.client.pttl(keys.oauthCode(code));
    expect(ttl).toBeGreaterThan(58_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // What Redis does when those 60 s are over:
    await redis.client.pexpire(keys.oauthCode(code), 1);
    await Bun.sleep(5);
    expect(await codes.consume(code)).toEqual({ ok: false, reason: "unknown" });
  });

  test("a second redemption is reported as reuse, with the grant the first one started", async () => {
    const code = await codes.issue(record());
    expect((await codes.consume(code)).ok).toBe(true);
    expect(await codes.consume(code)).toEqual({ ok: false, reason: "reused", grantId: null });
    expect(await codes.attachGrant(code, "grant-1")).toBe("replayed");
    expect(await codes.consume(code)).toEqual({ ok: false, reason: "reused", grantId: "grant-1" });
  });

  test("the tombstone holds no record and lives 600 s", async () => {
    const code = await codes.issue(record());
    await codes.consume(code);
    expect(await redis.client.hgetall(keys.oauthCode(code))).toEqual({ state: "consumed" });
    const ttl = await redis.client.pttl(keys.oauthCode(code));
    expect(ttl).toBeGreaterThan(598_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    expect(await codes.attachGrant(code, "grant-1")).toBe("ok");
    expect(await redis.client.pttl(keys.oauthCode(code))).toBeGreaterThan(598_000);
  });

  test("attachGrant with no replay in between is ok; a replay afterwards names the grant", async () => {
    const code = await codes.issue(record());
    await codes.consume(code);
    expect(await codes.attachGrant(code, "grant-7")).toBe("ok");
    expect(await codes.consume(code)).toEqual({ ok: false, reason: "reused", grantId: "grant-7" });
  });

  test("of many concurrent redemptions exactly one succeeds", async () => {
    const code = await codes.issue(record());
    const results = await Promise.all(Array.from({ length: 20 }, () => codes.consume(code)));
    expect(results.filter((r) => r.ok).length).toBe(1);
    expect(results.filter((r) => !r.ok && r.reason === "reused").length).toBe(19);
  });

  test("unknown and malformed codes are unknown, and attachGrant on them writes nothing", async () => {
    for (const code of ["A".repeat(43), "short", "", "A".repeat(42) + "!", "x".repeat(10_000)]) {
      expect(await codes.consume(code)).toEqual({ ok: false, reason: "unknown" });
      expect(await codes.attachGrant(code, "grant-1")).toBe("ok");
    }
    expect(await redis.client.dbsize()).toBe(0);
  });
});
