/**
 * Ctrl-C during a restore: the command stops the redis-servers it started (the
 * throwaway one holding the snapshot, the staging one in the data dir) and
 * removes their directories, so nothing keeps running with the dataset and
 * `<data dir>/redis` is never half there.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/gateway-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

let source: TestRedis;
beforeAll(async () => {
  source = await startTestRedis();
  // Enough keys that the copy takes a while.
  for (let batch = 0; batch < 40; batch++) {
    const pipeline = source.client.pipeline();
    for (let i = 0; i < 5_000; i++) pipeline.set(`key:${batch}:${i}`, "x".repeat(64));
    await pipeline.exec();
  }
}, 60_000);
afterAll(async () => {
  await source?.stop();
});

const throwawayDirs = () => new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("portcullis-restore-")));

/** redis-server processes whose command line mentions `fragment`. */
function redisServersNaming(fragment: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes("redis-server") && cmdline.includes(fragment)) found.push(Number(pid));
    } catch {}
  }
  return found;
}

async function run(args: string[], env: Record<string, string>) {
  const child = Bun.spawn(["bun", join(ROOT, "src/main.ts"), ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("home"), ...env }, stdout: "pipe", stderr: "pipe" });
  return child;
}

test("SIGINT while keys are copied into the embedded Redis: both redis-servers stopped, staging removed, exit 130", async () => {
  const file = join(tempDir("backup"), "big.tar.gz");
  const backup = await run(["backup", file], { REDIS_URL: source.url, PORTCULLIS_DATA_DIR: tempDir("data") });
  expect(await backup.exited).toBe(0);

  const before = throwawayDirs();
  const dataDir = join(tempDir("parent"), "data");
  const restore = await run(["restore", file], { PORTCULLIS_DATA_DIR: dataDir });
  // The staging Redis is up once its socket exists: the copy is under way.
  const deadline = Date.now() + 30_000;
  const stagingSocket = () => (existsSync(dataDir) ? readdirSync(dataDir).find((name) => name.startsWith(".restore-") && existsSync(join(dataDir, name, "redis", "redis.sock"))) : undefined);
  while (!stagingSocket() && restore.exitCode === null && Date.now() < deadline) await Bun.sleep(5);
  expect(stagingSocket()).toBeDefined();
  expect(redisServersNaming(dataDir).length).toBe(1);
  restore.kill("SIGINT");

  expect(await restore.exited).toBe(130);
  expect(await new Response(restore.stderr).text()).toBe("portcullis: interrupted (SIGINT); the Redis servers it started are stopped\n");
  // SIGKILL is immediate, but the kernel may take a moment to reap.
  const reaped = Date.now() + 5_000;
  while (redisServersNaming(dataDir).length > 0 && Date.now() < reaped) await Bun.sleep(20);
  expect(redisServersNaming(dataDir)).toEqual([]);
  const leftover = [...throwawayDirs()].filter((name) => !before.has(name));
  expect(leftover).toEqual([]);
  for (const name of leftover) expect(redisServersNaming(name)).toEqual([]);
  expect(readdirSync(dataDir).filter((name) => name !== "portcullis.lock")).toEqual([]);
}, 90_000);

test("SIGKILL during a restore leaves its staging Redis running; the next restore stops it, removes it, and restores", async () => {
  const file = join(tempDir("backup"), "big.tar.gz");
  const backup = await run(["backup", file], { REDIS_URL: source.url, PORTCULLIS_DATA_DIR: tempDir("data") });
  expect(await backup.exited).toBe(0);
  const dataDir = join(tempDir("parent"), "data");
  const before = throwawayDirs();
  const restore = await run(["restore", file], { PORTCULLIS_DATA_DIR: dataDir });
  const deadline = Date.now() + 30_000;
  const staged = () => existsSync(join(dataDir)) && readdirSync(dataDir).some((name) => name.startsWith(".restore-") && existsSync(join(dataDir, name, "redis", "redis.pid")));
  while (!staged() && restore.exitCode === null && Date.now() < deadline) await Bun.sleep(5);
  restore.kill("SIGKILL");
  await restore.exited;
  expect(redisServersNaming(dataDir).length).toBe(1);
  const abandoned = [...throwawayDirs()].filter((name) => !before.has(name));
  expect(abandoned.length).toBe(1);
  expect(redisServersNaming(abandoned[0]!).length).toBe(1);

  const again = await run(["restore", file], { PORTCULLIS_DATA_DIR: dataDir });
  expect(await again.exited).toBe(0);
  expect(await new Response(again.stdout).text()).toStartWith("restored 200000 keys into the embedded Redis of");
  expect(redisServersNaming(dataDir)).toEqual([]);
  expect(readdirSync(dataDir).filter((name) => name.startsWith(".restore-"))).toEqual([]);
  // The killed restore's throwaway Redis, holding the whole snapshot, is stopped and its directory removed too.
  expect(redisServersNaming(abandoned[0]!)).toEqual([]);
  expect(existsSync(join(tmpdir(), abandoned[0]!))).toBe(false);
}, 120_000);
