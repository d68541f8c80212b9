import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { ensureAdminToken } from "../../src/api/admin-token-bootstrap";
import { hashApiToken } from "../../src/core/api-token";
import { createLogger } from "../../src/core/logger";
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

test("unset ADMIN_TOKEN, stdout a terminal: generated once, shown once, saved 0600", async () => {
  const dataDir = tempDir("admin");
  const shown: string[] = [];
  const terminal = { isTTY: true, write: (text: string) => shown.push(text) };

  await ensureAdminToken({ tokens, dataDir, log, terminal });
  const saved = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  expect(statSync(join(dataDir, "admin-token")).mode & 0o777).toBe(0o600);
  expect(shown).toHaveLength(1);
  expect(shown[0]).toContain(saved);
  expect((await tokens.getByHash(hashApiToken(saved)))?.role).toBe("admin");

  await ensureAdminToken({ tokens, dataDir, log, terminal });
  expect(shown).toHaveLength(1);
  expect(readFileSync(join(dataDir, "admin-token"), "utf8").trim()).toBe(saved);
});

test("unset ADMIN_TOKEN, stdout not a terminal: nothing written there, one record names the file, never the token", async () => {
  const dataDir = tempDir("admin");
  const written: string[] = [];
  const records: string[] = [];
  const recording = createLogger("debug", { write: (line: string) => void records.push(line) });

  await ensureAdminToken({ tokens, dataDir, log: recording, terminal: { isTTY: false, write: (text: string) => written.push(text) } });
  const file = join(dataDir, "admin-token");
  const saved = readFileSync(file, "utf8").trim();
  expect(saved).toMatch(/^acm_/);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(written).toEqual([]);
  expect(records.some((line) => line.includes(saved))).toBe(false);
  expect(records.map((line) => JSON.parse(line))).toContainEqual(expect.objectContaining({ file, msg: expect.stringContaining("saved to " + file) }));
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
