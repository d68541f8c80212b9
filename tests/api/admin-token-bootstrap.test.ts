import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { ensureAdminToken } from "../../src/api/admin-token-bootstrap";
import { hashApiToken } from "../../src/core/api-token";
import { OwnershipRegistry } from "../../src/storage/ownership";
import { TokenRepository } from "../../src/storage/token-repository";
import { tempDir } from "../helpers/temp";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let tokens: TokenRepository;
const log = pino({ level: "silent" });

beforeAll(async () => {
  redis = await startTestRedis();
  tokens = new TokenRepository(redis.client, new OwnershipRegistry());
});
afterAll(() => redis.stop());
beforeEach(() => redis.client.flushdb());

test("unset ADMIN_TOKEN: generated once, announced once, saved 0600", async () => {
  const dataDir = tempDir("admin");
  const announcements: string[] = [];
  const announce = (text: string) => announcements.push(text);

  await ensureAdminToken({ tokens, dataDir, log, announce });
  const saved = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  expect(statSync(join(dataDir, "admin-token")).mode & 0o777).toBe(0o600);
  expect(announcements).toHaveLength(1);
  expect(announcements[0]).toContain(saved);
  expect((await tokens.getByHash(hashApiToken(saved)))?.role).toBe("admin");

  await ensureAdminToken({ tokens, dataDir, log, announce });
  expect(announcements).toHaveLength(1);
  expect(readFileSync(join(dataDir, "admin-token"), "utf8").trim()).toBe(saved);
});

test("ADMIN_TOKEN set: used as is, nothing written to disk", async () => {
  const dataDir = tempDir("admin");
  const configured = "acm_configured_admin_token_value_1";
  await ensureAdminToken({ tokens, dataDir, log, configuredToken: configured, adminEmail: "ops@example.com" });
  const admin = await tokens.getByHash(hashApiToken(configured));
  expect(admin).toMatchObject({ name: "admin", role: "admin", cert_email: "ops@example.com" });
  expect(existsSync(join(dataDir, "admin-token"))).toBe(false);
});

test("changing ADMIN_TOKEN rotates it: the old value stops working", async () => {
  const dataDir = tempDir("admin");
  const first = "acm_first_admin_token_value_000001";
  const second = "acm_second_admin_token_value_00002";
  await ensureAdminToken({ tokens, dataDir, log, configuredToken: first });
  await ensureAdminToken({ tokens, dataDir, log, configuredToken: second });
  expect(await tokens.getByHash(hashApiToken(first))).toBeNull();
  expect((await tokens.getByHash(hashApiToken(second)))?.name).toBe("admin");
  expect(await redis.client.exists(`token:hash:${hashApiToken(first)}`)).toBe(0);
});
