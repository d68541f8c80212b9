/**
 * backup and restore against real Redis servers: a REDIS_URL gateway's
 * database copied into another Redis, and an embedded Redis's data dir into a
 * new data dir that the embedded Redis then starts from. Values of every
 * type, times to live and stream consumer groups survive; what a restore
 * must refuse, it refuses before writing anything.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { backupGateway } from "../../src/backup/backup";
import { restoreGateway } from "../../src/backup/restore";
import { parseConfig } from "../../src/core/config";
import { createLogger } from "../../src/core/logger";
import { lockDataDir } from "../../src/storage/data-dir-lock";
import { EmbeddedRedis } from "../../src/storage/embedded-redis";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const log = createLogger("error");
const config = (env: Record<string, string>) => parseConfig({ AUTO_CERTIFICATES: "false", ...env });
const failure = (work: Promise<unknown>) => work.then(() => "succeeded", (err: Error) => err.message);
const mode = (path: string) => statSync(path).mode & 0o777;

let source: TestRedis;
let target: TestRedis;

beforeAll(async () => {
  [source, target] = await Promise.all([startTestRedis(), startTestRedis()]);
});
afterAll(async () => {
  await source?.stop();
  await target?.stop();
});

async function populate(client: Redis): Promise<void> {
  await client.set("proxy:app.example.com", JSON.stringify({ hostname: "app.example.com" }));
  await client.set("session:short", "x", "PX", 600_000);
  await client.hset("token:abc", { name: "alice", role: "user" });
  await client.sadd("proxies", "app.example.com", "b.example.com");
  await client.zadd("log:index", 1, "r1", 2, "r2");
  await client.set(Buffer.from([0xff, 0x00, 0x01]), Buffer.from([0x00, 0xfe]));
  await client.xadd("events:workflow", "*", "type", "proxy_created");
  await client.xgroup("CREATE", "events:workflow", "workflow-group", "0");
}

async function expectPopulated(client: Redis): Promise<void> {
  expect(await client.get("proxy:app.example.com")).toBe(JSON.stringify({ hostname: "app.example.com" }));
  const ttl = await client.pttl("session:short");
  expect(ttl).toBeGreaterThan(500_000);
  expect(ttl).toBeLessThanOrEqual(600_000);
  expect(await client.pttl("proxy:app.example.com")).toBe(-1);
  expect(await client.hgetall("token:abc")).toEqual({ name: "alice", role: "user" });
  expect((await client.smembers("proxies")).sort()).toEqual(["app.example.com", "b.example.com"]);
  expect(await client.zrange("log:index", "0", "-1", "WITHSCORES")).toEqual(["r1", "1", "r2", "2"]);
  expect(await client.getBuffer(Buffer.from([0xff, 0x00, 0x01]))).toEqual(Buffer.from([0x00, 0xfe]));
  expect(await client.xlen("events:workflow")).toBe(1);
  const groups = (await client.xinfo("GROUPS", "events:workflow")) as unknown[][];
  expect(groups.map((g) => g[1])).toEqual(["workflow-group"]);
}

describe("REDIS_URL", () => {
  test("a database is snapshotted and copied into an empty one elsewhere, with times to live and consumer groups", async () => {
    await source.client.flushall();
    await target.client.flushall();
    await populate(source.client);
    const file = join(tempDir("backup"), "gateway.tar.gz");
    const dataDir = tempDir("data");
    writeFileSync(join(dataDir, "secrets.key"), new Uint8Array(32).fill(9), { mode: 0o600 });

    const report = await backupGateway(config({ REDIS_URL: source.url, PORTCULLIS_DATA_DIR: dataDir }), file, log);
    expect(mode(file)).toBe(0o600);
    expect(report.manifest).toMatchObject({ key_count: 7, secrets_key: "included", source: { database: 0, redis_version: expect.stringMatching(/^\d+\.\d+/) } });
    // The source is named, its password is not.
    expect(report.manifest.source.redis).toBe(`redis://127.0.0.1:${source.port}/0`);
    expect(Buffer.from(readFileSync(file)).includes(source.password)).toBe(false);

    const restoredDir = tempDir("restored");
    const restored = await restoreGateway(config({ REDIS_URL: target.url, PORTCULLIS_DATA_DIR: restoredDir }), file, { force: false }, log);
    expect(restored).toMatchObject({ keys_restored: 7, keys_expired: 0 });
    await expectPopulated(target.client);
    expect(readFileSync(join(restoredDir, "secrets.key"))).toEqual(Buffer.from(new Uint8Array(32).fill(9)));
    expect(mode(join(restoredDir, "secrets.key"))).toBe(0o600);
  });

  test("the URL's database index: only that database is backed up, and it goes into the target URL's database", async () => {
    await source.client.flushall();
    await target.client.flushall();
    await source.client.set("other-db-0", "not the gateway's");
    const db3 = source.client.duplicate({ db: 3 });
    await populate(db3);
    db3.disconnect();
    const file = join(tempDir("backup"), "db3.tar.gz");
    const report = await backupGateway(config({ REDIS_URL: source.url.replace(/\/0$/, "/3"), PORTCULLIS_DATA_DIR: tempDir("data") }), file, log);
    // Database 3 is not the snapshot's first, so its count is not in the RDB head.
    expect(report.manifest.source.database).toBe(3);
    expect(report.manifest.key_count).toBeNull();

    await restoreGateway(config({ REDIS_URL: target.url.replace(/\/0$/, "/5"), PORTCULLIS_DATA_DIR: tempDir("restored") }), file, { force: false }, log);
    const db5 = target.client.duplicate({ db: 5 });
    await expectPopulated(db5);
    expect(await db5.dbsize()).toBe(7);
    db5.disconnect();
    expect(await target.client.dbsize()).toBe(0);
  });

  test("a target database holding keys is refused unless --force, which replaces them", async () => {
    await source.client.flushall();
    await target.client.flushall();
    await populate(source.client);
    const file = join(tempDir("backup"), "gateway.tar.gz");
    await backupGateway(config({ REDIS_URL: source.url, PORTCULLIS_DATA_DIR: tempDir("data") }), file, log);
    await target.client.set("left:over", "from another gateway");

    const settings = config({ REDIS_URL: target.url, PORTCULLIS_DATA_DIR: tempDir("restored") });
    expect(await failure(restoreGateway(settings, file, { force: false }, log))).toBe(
      `redis://127.0.0.1:${target.port}/0 already holds 1 key: restore into an empty database, or add --force to delete them first`,
    );
    expect(await target.client.keys("*")).toEqual(["left:over"]);

    await restoreGateway(settings, file, { force: true }, log);
    expect(await target.client.exists("left:over")).toBe(0);
    await expectPopulated(target.client);
  });

  test("a target that refuses writes part way: the error says the database holds part of the backup and how to start over", async () => {
    await source.client.flushall();
    await target.client.flushall();
    await populate(source.client);
    const file = join(tempDir("backup"), "gateway.tar.gz");
    await backupGateway(config({ REDIS_URL: source.url, PORTCULLIS_DATA_DIR: tempDir("data") }), file, log);
    await target.client.config("SET", "maxmemory", "1");
    try {
      const restoredDir = tempDir("restored");
      const message = await failure(restoreGateway(config({ REDIS_URL: target.url, PORTCULLIS_DATA_DIR: restoredDir }), file, { force: false }, log));
      expect(message).toMatch(new RegExp(`^restoring into redis://127\\.0\\.0\\.1:${target.port}/0 stopped part way \\(OOM .+\\); it holds some of the backup's keys: run restore again with --force$`));
      // secrets.key and admin-token are written only after Redis: the data dir says nothing was restored.
      expect(readdirSync(restoredDir)).toEqual(["portcullis.lock"]);
    } finally {
      await target.client.config("SET", "maxmemory", "0");
    }
  });

  test("another client writing to the target during the restore (a gateway left running): BUSYKEY, and the error says to stop it first", async () => {
    await source.client.flushall();
    await target.client.flushall();
    // Three copy batches, so the writer below lands between two of them.
    const names = Array.from({ length: 2500 }, (_, i) => `proxy:k${i}`);
    const seed = source.client.pipeline();
    for (const name of names) seed.set(name, "v");
    await seed.exec();
    const file = join(tempDir("backup"), "gateway.tar.gz");
    await backupGateway(config({ REDIS_URL: source.url, PORTCULLIS_DATA_DIR: tempDir("data") }), file, log);

    // As soon as the first key is restored, another client writes every key the backup holds (the restore's flush is past).
    await target.client.config("SET", "notify-keyspace-events", "Eg");
    const listener = target.client.duplicate();
    const writer = target.client.duplicate();
    let wrote = false;
    listener.on("message", () => {
      if (wrote) return;
      wrote = true;
      const write = writer.pipeline();
      for (const name of names) write.set(name, "written meanwhile");
      void write.exec();
    });
    await listener.subscribe("__keyevent@0__:restore");
    try {
      const message = await failure(restoreGateway(config({ REDIS_URL: target.url, PORTCULLIS_DATA_DIR: tempDir("restored") }), file, { force: true }, log));
      expect(message).toStartWith(`restoring into redis://127.0.0.1:${target.port}/0 stopped part way (BUSYKEY`);
      expect(message).toEndWith("another client wrote to it during the restore, a gateway still running on it perhaps; it holds some of the backup's keys: stop every gateway that uses it, then run restore again with --force");
    } finally {
      listener.disconnect();
      writer.disconnect();
      await target.client.config("SET", "notify-keyspace-events", "");
    }
  });

  test("OAUTH_SECRETS_KEY: no secrets.key in the archive, and a restore without the same setting is warned about", async () => {
    await source.client.flushall();
    await target.client.flushall();
    const key = Buffer.alloc(32, 3).toString("base64");
    const dataDir = tempDir("data");
    // A secrets.key left in the dir is not what this gateway uses: it stays out of the archive.
    writeFileSync(join(dataDir, "secrets.key"), new Uint8Array(32), { mode: 0o600 });
    const file = join(tempDir("backup"), "keyed.tar.gz");
    const report = await backupGateway(config({ REDIS_URL: source.url, PORTCULLIS_DATA_DIR: dataDir, OAUTH_SECRETS_KEY: key }), file, log);
    expect(report.manifest.secrets_key).toBe("OAUTH_SECRETS_KEY");
    expect([...(await new Bun.Archive(readFileSync(file)).files()).keys()].sort()).toEqual(["manifest.json", "redis.rdb"]);

    const restored = await restoreGateway(config({ REDIS_URL: target.url, PORTCULLIS_DATA_DIR: tempDir("restored") }), file, { force: false }, log);
    expect(restored.written).toEqual([]);
    expect(restored.warnings).toEqual([
      "the backed-up gateway used OAUTH_SECRETS_KEY, which no backup holds: set the same value here, or per-proxy GitHub secrets cannot be decrypted",
    ]);
    await target.client.flushall();
    const keyed = await restoreGateway(config({ REDIS_URL: target.url, PORTCULLIS_DATA_DIR: tempDir("restored"), OAUTH_SECRETS_KEY: key }), file, { force: false }, log);
    expect(keyed.warnings).toEqual([]);
  });

  test("an ACL user in the URL (AUTH user password) is how the snapshot is asked for", async () => {
    await source.client.flushall();
    await source.client.set("k", "v");
    await source.client.call("ACL", "SETUSER", "gateway", "on", ">user-secret", "~*", "&*", "+@all");
    const url = `redis://gateway:user-secret@127.0.0.1:${source.port}/0`;
    const report = await backupGateway(config({ REDIS_URL: url, PORTCULLIS_DATA_DIR: tempDir("data") }), join(tempDir("backup"), "acl.tar.gz"), log);
    expect(report.manifest.key_count).toBe(1);
    // A user without the replication commands is refused with the server's reason.
    await source.client.call("ACL", "SETUSER", "gateway", "-sync", "-psync");
    expect(await failure(backupGateway(config({ REDIS_URL: url, PORTCULLIS_DATA_DIR: tempDir("data") }), join(tempDir("backup"), "x.tar.gz"), log))).toMatch(/refused the snapshot \(SYNC\): NOPERM/);
    await source.client.call("ACL", "DELUSER", "gateway");
  });

  test("a wrong password is reported by the server's words, without the password", async () => {
    const wrong = `redis://:not-the-password@127.0.0.1:${source.port}/0`;
    const message = await failure(backupGateway(config({ REDIS_URL: wrong, PORTCULLIS_DATA_DIR: tempDir("data") }), join(tempDir("backup"), "x.tar.gz"), log));
    expect(message).toMatch(/^the Redis at redis:\/\/127\.0\.0\.1:\d+ refused the snapshot \(SYNC\): WRONGPASS/);
    expect(message).not.toContain("not-the-password");
  });
});

describe("embedded Redis", () => {
  /** A data dir as a gateway leaves it: the embedded Redis's AOF, secrets.key, admin-token. */
  async function gatewayDataDir(): Promise<string> {
    const dir = tempDir("data");
    const lock = lockDataDir(dir);
    const server = await EmbeddedRedis.start({ dataDir: lock, serverBinary: "redis-server", log });
    const client = new Redis({ path: server.socketPath, password: server.password });
    await populate(client);
    client.disconnect();
    await server.stop();
    lock.release();
    writeFileSync(join(dir, "secrets.key"), new Uint8Array(32).fill(4), { mode: 0o600 });
    writeFileSync(join(dir, "admin-token"), "pc_admin_token_value\n", { mode: 0o600 });
    return dir;
  }

  /** What `serve` would load: the embedded Redis started on the dir as the gateway starts it. */
  async function withEmbedded(dir: string, check: (client: Redis) => Promise<void>): Promise<void> {
    const lock = lockDataDir(dir);
    const server = await EmbeddedRedis.start({ dataDir: lock, serverBinary: "redis-server", log });
    const client = new Redis({ path: server.socketPath, password: server.password });
    try {
      await check(client);
    } finally {
      client.disconnect();
      await server.stop();
      lock.release();
    }
  }

  test("a stopped gateway's data dir: backed up, restored into a new dir, and the embedded Redis starts from it", async () => {
    const dir = await gatewayDataDir();
    const file = join(tempDir("backup"), "embedded.tar.gz");
    const report = await backupGateway(config({ PORTCULLIS_DATA_DIR: dir }), file, log);
    expect(report.manifest).toMatchObject({ key_count: 7, secrets_key: "included", source: { redis: "embedded", database: 0 } });
    expect(report.admin_token).toBe(true);
    // Only data: no pid file, lock or socket in the archive.
    expect([...(await new Bun.Archive(readFileSync(file)).files()).keys()].sort()).toEqual(["admin-token", "manifest.json", "redis.rdb", "secrets.key"]);

    const fresh = join(tempDir("parent"), "new-data");
    const restored = await restoreGateway(config({ PORTCULLIS_DATA_DIR: fresh }), file, { force: false }, log);
    expect(restored).toMatchObject({ keys_restored: 7, redis: "embedded", written: [join(fresh, "secrets.key"), join(fresh, "admin-token")] });
    expect(readFileSync(join(fresh, "admin-token"), "utf8")).toBe("pc_admin_token_value\n");
    expect(readFileSync(join(fresh, "secrets.key"))).toEqual(Buffer.from(new Uint8Array(32).fill(4)));
    for (const name of ["secrets.key", "admin-token"]) expect(mode(join(fresh, name))).toBe(0o600);
    expect(mode(join(fresh, "redis"))).toBe(0o700);
    // The staging dir is gone and the restored Redis is not running (no pid file, no socket).
    expect(readdirSync(fresh).filter((name) => name.startsWith(".restore-"))).toEqual([]);
    expect(existsSync(join(fresh, "redis", "redis.pid"))).toBe(false);
    expect(existsSync(join(fresh, "redis", "redis.sock"))).toBe(false);
    await withEmbedded(fresh, async (client) => {
      await expectPopulated(client);
      expect(await client.dbsize()).toBe(7);
    });
  });

  test("a data dir holding data is refused, naming what is there; --force replaces it", async () => {
    const file = join(tempDir("backup"), "embedded.tar.gz");
    await backupGateway(config({ PORTCULLIS_DATA_DIR: await gatewayDataDir() }), file, log);
    const occupied = await gatewayDataDir();
    await withEmbedded(occupied, async (client) => void (await client.set("only:here", "1")));

    expect(await failure(restoreGateway(config({ PORTCULLIS_DATA_DIR: occupied }), file, { force: false }, log))).toBe(
      `${occupied} is not empty: it holds redis/appendonlydir, secrets.key, admin-token. Restore into a new data dir (PORTCULLIS_DATA_DIR), or add --force to replace them`,
    );
    await withEmbedded(occupied, async (client) => expect(await client.get("only:here")).toBe("1"));

    await restoreGateway(config({ PORTCULLIS_DATA_DIR: occupied }), file, { force: true }, log);
    await withEmbedded(occupied, async (client) => {
      expect(await client.exists("only:here")).toBe(0);
      await expectPopulated(client);
    });
  });

  test("a data dir another process holds (a running gateway) is refused and left alone", async () => {
    const file = join(tempDir("backup"), "embedded.tar.gz");
    await backupGateway(config({ PORTCULLIS_DATA_DIR: await gatewayDataDir() }), file, log);
    const busy = tempDir("busy");
    const held = lockDataDir(busy);
    try {
      expect(await failure(restoreGateway(config({ PORTCULLIS_DATA_DIR: busy }), file, { force: true }, log))).toBe(
        `a gateway is running on ${busy} (pid ${process.pid}): stop it before restoring (just down)`,
      );
      expect(readdirSync(busy)).toEqual(["portcullis.lock"]);
    } finally {
      held.release();
    }
  });

  test("a damaged archive is refused before anything is written: the data dir is not even created", async () => {
    const file = join(tempDir("backup"), "embedded.tar.gz");
    await backupGateway(config({ PORTCULLIS_DATA_DIR: await gatewayDataDir() }), file, log);
    const bytes = readFileSync(file);
    const truncated = join(tempDir("backup"), "truncated.tar.gz");
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
    const fresh = join(tempDir("parent"), "never-created");
    const message = await failure(restoreGateway(config({ PORTCULLIS_DATA_DIR: fresh }), truncated, { force: false }, log));
    expect(message).toStartWith(`${truncated}: not a readable backup archive (`);
    expect(message).toEndWith("; nothing was restored");
    expect(existsSync(fresh)).toBe(false);
  });

  test("a dir with no gateway data: nothing to back up, said so", async () => {
    const empty = tempDir("empty");
    expect(await failure(backupGateway(config({ PORTCULLIS_DATA_DIR: empty }), join(empty, "x.tar.gz"), log))).toBe(
      `${empty} holds no gateway data (no redis/appendonlydir): nothing to back up. Is PORTCULLIS_DATA_DIR the gateway's data dir?`,
    );
    expect(readdirSync(empty)).toEqual([]);
  });
});
