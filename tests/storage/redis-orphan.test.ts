/**
 * What the embedded Redis does with the process its redis.pid names: only a
 * redis-server that is provably this data dir's orphan is stopped.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { Redis } from "ioredis";
import type { Subprocess } from "bun";
import { lockDataDir, type LockedDataDir } from "../../src/storage/data-dir-lock";
import { EmbeddedRedis } from "../../src/storage/embedded-redis";
import { tempDir } from "../helpers/temp";

const log = pino({ level: "silent" });
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startEmbedded(dataDir: LockedDataDir): Promise<EmbeddedRedis> {
  const server = await EmbeddedRedis.start({ dataDir, serverBinary: "redis-server", log });
  cleanups.push(() => server.stop());
  return server;
}

function lock(dir: string): LockedDataDir {
  const held = lockDataDir(dir);
  cleanups.push(() => held.release());
  return held;
}

function spawnRedis(args: string[]): Subprocess {
  const child = Bun.spawn(["redis-server", ...args], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  cleanups.push(async () => {
    child.kill("SIGKILL");
    await child.exited;
  });
  return child;
}

async function ping(options: { path: string; password?: string }): Promise<string> {
  const client = new Redis({ ...options, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on("error", () => {});
  try {
    await client.connect();
    return await client.ping();
  } finally {
    client.disconnect();
  }
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await Bun.sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("redis.pid naming another data dir's live redis-server (a copied data dir) leaves it running", async () => {
  const other = await startEmbedded(lock(tempDir("data")));
  const dir = tempDir("data");
  const mine = lock(dir);
  // What a copy of the other gateway's data dir brings along.
  mkdirSync(join(dir, "redis"), { recursive: true });
  writeFileSync(join(dir, "redis/redis.pid"), `${other.pid}\n`);

  const server = await startEmbedded(mine);
  expect(alive(other.pid)).toBe(true);
  expect(await ping({ path: other.socketPath, password: other.password })).toBe("PONG");
  expect(await ping({ path: server.socketPath, password: server.password })).toBe("PONG");
});

test("redis.pid naming an unrelated redis-server (its own socket and config) leaves it running", async () => {
  const elsewhere = tempDir("redis");
  const socket = join(elsewhere, "other.sock");
  const unrelated = spawnRedis(["--port", "0", "--unixsocket", socket, "--save", "", "--appendonly", "no", "--dir", elsewhere]);
  await until(() => ping({ path: socket }).then(() => true, () => false), "the unrelated redis-server");
  const dir = tempDir("data");
  mkdirSync(join(dir, "redis"), { recursive: true });
  writeFileSync(join(dir, "redis/redis.pid"), `${unrelated.pid}\n`);

  const server = await startEmbedded(lock(dir));
  expect(alive(unrelated.pid)).toBe(true);
  expect(await ping({ path: socket })).toBe("PONG");
  expect(await ping({ path: server.socketPath, password: server.password })).toBe("PONG");
});

test("redis.pid naming a process that is no redis-server, though its command line mentions one, leaves it running", async () => {
  const bystander = Bun.spawn(["sh", "-c", "sleep 60; exit 0", "redis-server"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  cleanups.push(async () => {
    bystander.kill("SIGKILL");
    await bystander.exited;
  });
  const dir = tempDir("data");
  mkdirSync(join(dir, "redis"), { recursive: true });
  writeFileSync(join(dir, "redis/redis.pid"), `${bystander.pid}\n`);

  await startEmbedded(lock(dir));
  expect(alive(bystander.pid)).toBe(true);
});

test("a redis-server this data dir's gateway left running is stopped, and its data is kept", async () => {
  const dir = tempDir("data");
  const first = lockDataDir(dir);
  // Started and never stopped: what a gateway killed with SIGKILL leaves behind.
  const orphan = await EmbeddedRedis.start({ dataDir: first, serverBinary: "redis-server", log });
  cleanups.push(() => orphan.stop());
  const client = new Redis({ path: orphan.socketPath, password: orphan.password });
  await client.set("kept", "yes");
  client.disconnect();
  first.release();

  const server = await startEmbedded(lock(dir));
  await until(() => !alive(orphan.pid), "the orphan to exit");
  const after = new Redis({ path: server.socketPath, password: server.password });
  try {
    expect(await after.get("kept")).toBe("yes");
  } finally {
    after.disconnect();
  }
});

test("an orphan that kept its command line (set-proc-title no) is recognised by its config file", async () => {
  const dir = tempDir("data");
  const first = lockDataDir(dir);
  const written = await EmbeddedRedis.start({ dataDir: first, serverBinary: "redis-server", log });
  await written.stop();
  first.release();
  // The same data dir's redis.conf, started by hand; it rewrites redis.pid itself.
  const orphan = spawnRedis([join(dir, "redis/redis.conf"), "--set-proc-title", "no"]);
  await until(() => existsSync(join(dir, "redis/redis.pid")) && readFileSync(join(dir, "redis/redis.pid"), "utf8").trim() === String(orphan.pid), "the orphan's pid file");
  expect(readFileSync(`/proc/${orphan.pid}/cmdline`, "utf8")).toContain(join(dir, "redis/redis.conf"));

  const server = await startEmbedded(lock(dir));
  await until(() => !alive(orphan.pid), "the orphan to exit");
  expect(await ping({ path: server.socketPath, password: server.password })).toBe("PONG");
});
