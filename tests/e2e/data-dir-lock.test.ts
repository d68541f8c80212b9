/**
 * One gateway per data dir: a second `serve` on a live gateway's dir exits
 * with a clear message and leaves the first gateway and its Redis alone; a
 * copy of a live data dir (a restored backup) is a dir of its own.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { startTestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
const health = (gateway: RunningGateway) => fetch(`${gateway.apiUrl}/health`).then((r) => r.json() as Promise<any>);

let testRedis: TestRedis;
beforeAll(async () => {
  testRedis = await startTestRedis();
  await ensureBinary();
}, 120_000);
afterAll(() => testRedis?.stop());

test("a second serve on a live gateway's data dir exits 1 naming it, and touches nothing", async () => {
  const dataDir = tempDataDir();
  const first = await startGatewayProcess({ dataDir });
  try {
    await first.waitForHealthy();
    const redisPid = Number(readFileSync(join(dataDir, "redis/redis.pid"), "utf8"));
    const confChanged = statSync(join(dataDir, "redis/redis.conf")).mtimeMs;
    const token = readFileSync(join(dataDir, "admin-token"), "utf8");

    const second = await startGatewayProcess({ dataDir });
    expect(await second.child.exited).toBe(1);
    expect(second.output()).toContain(`another gateway is using ${dataDir} (pid ${first.child.pid})`);
    expect(second.output()).not.toContain("redis-server left running");

    expect(alive(redisPid)).toBe(true);
    expect(await health(first)).toMatchObject({ status: "healthy", redis: "ok" });
    expect(readFileSync(join(dataDir, "redis/redis.pid"), "utf8").trim()).toBe(String(redisPid));
    expect(statSync(join(dataDir, "redis/redis.conf")).mtimeMs).toBe(confChanged);
    expect(readFileSync(join(dataDir, "admin-token"), "utf8")).toBe(token);
    expect(readFileSync(join(dataDir, "portcullis.lock"), "utf8").trim()).toBe(String(first.child.pid));
  } finally {
    expect(await first.stop()).toBe(0);
  }
}, 60_000);

test("a copy of a live gateway's data dir (its pid files included) starts on its own; the original's Redis keeps running", async () => {
  const original = tempDataDir();
  const first = await startGatewayProcess({ dataDir: original });
  const copy = tempDataDir();
  let second: RunningGateway | undefined;
  try {
    await first.waitForHealthy();
    const redisPid = Number(readFileSync(join(original, "redis/redis.pid"), "utf8"));
    // What a file-level backup restored next to the original brings (the socket cannot be copied).
    mkdirSync(join(copy, "redis"), { recursive: true, mode: 0o700 });
    for (const file of ["portcullis.lock", "admin-token", "secrets.key", "redis/redis.pid", "redis/password", "redis/appendonlydir"]) {
      if (existsSync(join(original, file))) cpSync(join(original, file), join(copy, file), { recursive: true });
    }

    second = await startGatewayProcess({ dataDir: copy });
    await second.waitForHealthy();
    expect(alive(redisPid)).toBe(true);
    expect(await health(first)).toMatchObject({ status: "healthy", redis: "ok" });
    expect(Number(readFileSync(join(copy, "redis/redis.pid"), "utf8"))).not.toBe(redisPid);
  } finally {
    await second?.stop();
    expect(await first.stop()).toBe(0);
  }
}, 60_000);

test("the lock holds with an external Redis too (the dir still has secrets.key and admin-token)", async () => {
  const dataDir = tempDir("gateway");
  const first = await startTestGateway(testRedis, { PORTCULLIS_DATA_DIR: dataDir });
  try {
    await expect(startTestGateway(testRedis, { PORTCULLIS_DATA_DIR: dataDir })).rejects.toThrow(`another gateway is using ${dataDir} (pid ${process.pid})`);
    expect((await first.api("GET", "/health")).json).toMatchObject({ redis: "ok" });
  } finally {
    await first.stop();
  }
  // Stopping releases it.
  const again = await startTestGateway(testRedis, { PORTCULLIS_DATA_DIR: dataDir });
  await again.stop();
});
