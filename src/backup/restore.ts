/**
 * `portcullis restore`: puts a backup back so that the next `portcullis
 * serve` with these settings is the gateway that was backed up. Everything
 * is checked before anything is written — the archive against its manifest,
 * the data dir (empty, no gateway running on it), the external Redis (empty)
 * — and `--force` replaces what is there instead of refusing.
 *
 * The snapshot is loaded by a throwaway redis-server and copied key by key
 * (DUMP/RESTORE, with time to live) into the gateway's Redis: for the
 * embedded one, a Redis started the way `serve` starts it, in a staging
 * directory that replaces `<data dir>/redis` only once it is complete and
 * its AOF flushed; for REDIS_URL, the URL's database.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import { ADMIN_TOKEN_FILE } from "../api/admin-token-bootstrap";
import type { Config } from "../core/config";
import type { Logger } from "../core/logger";
import { SECRETS_KEY_FILE } from "../core/secret-box";
import { DataDirInUseError, lockDataDir } from "../storage/data-dir-lock";
import { EmbeddedRedis } from "../storage/embedded-redis";
import { describe as describeRedis } from "../storage/redis-connection";
import { externalServer, SentinelLookupError } from "../storage/sentinel-master";
import { BackupArchiveError, unpackBackup, type BackupContents, type BackupManifest } from "./archive";
import { onInterrupt, signalRedisOf } from "./interrupt-cleanup";
import { copyKeys } from "./key-copy";
import { TemporaryRedis } from "./temporary-redis";

export class RestoreError extends Error {
  override name = "RestoreError";
}

export interface RestoreReport {
  file: string;
  data_dir: string;
  redis: string;
  keys_restored: number;
  /** Keys whose time to live ran out between the scan and their copy (those that ran out before are not loaded at all). */
  keys_expired: number;
  written: string[];
  warnings: string[];
  backup: Pick<BackupManifest, "created_at" | "product_version" | "source" | "key_count">;
}

/** What in a data dir a restore would replace. */
const EMBEDDED_DATA = ["redis/appendonlydir", "redis/dump.rdb"];
const DATA_DIR_FILES = [SECRETS_KEY_FILE, ADMIN_TOKEN_FILE];

export interface RestoreOptions {
  force: boolean;
  /** Loads the snapshot; with REDIS_URL, REDIS_SERVER_BIN is not part of the config, so the caller passes it. */
  redisServerBinary?: string;
}

export async function restoreGateway(config: Config, file: string, options: RestoreOptions, log: Logger): Promise<RestoreReport> {
  const source = resolve(file);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(source));
  } catch (err) {
    throw new RestoreError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let contents: BackupContents;
  try {
    contents = await unpackBackup(bytes);
  } catch (err) {
    if (err instanceof BackupArchiveError) throw new RestoreError(`${source}: ${err.message}; nothing was restored`);
    throw err;
  }
  const warnings = keyWarnings(config, contents);
  // With Sentinel: the master the sentinels name now.
  const server = config.redis.mode === "embedded" ? undefined : await externalServer(config.redis).catch((err) => {
    throw err instanceof SentinelLookupError ? new RestoreError(err.message) : err;
  });
  const target = server ? describeRedis({ url: server.url }) : "embedded";

  const dataDir = config.dataDir;
  const created = !existsSync(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (created) chmodSync(dataDir, 0o700); // as serve makes it; the mode above is masked by the umask
  let lock;
  try {
    lock = lockDataDir(dataDir);
  } catch (err) {
    if (err instanceof DataDirInUseError) throw new RestoreError(`${err.message.replace(/^another gateway is using/, "a gateway is running on")}: stop it before restoring (just down)`);
    throw err;
  }
  try {
    removeStaleStaging(dataDir);
    const present = [...(config.redis.mode === "embedded" ? EMBEDDED_DATA : []), ...DATA_DIR_FILES].filter((name) => existsSync(join(dataDir, name)));
    if (present.length > 0 && !options.force) {
      throw new RestoreError(`${dataDir} is not empty: it holds ${present.join(", ")}. Restore into a new data dir (PORTCULLIS_DATA_DIR), or add --force to replace them`);
    }
    const external = server ? await openExternal(server.url, server.password, options.force) : undefined;
    let copied;
    try {
      const serverBinary = config.redis.mode === "embedded" ? config.redis.serverBinary : (options.redisServerBinary ?? "redis-server");
      const snapshot = await TemporaryRedis.load(contents.rdb, serverBinary);
      try {
        await snapshot.client.select(contents.manifest.source.database);
        copied = external ? await copyIntoExternal(snapshot.client, external, target) : await copyIntoEmbedded(snapshot.client, config, log);
      } finally {
        await snapshot.stop();
      }
    } finally {
      external?.disconnect();
    }
    const written = writeDataDirFiles(dataDir, contents);
    return {
      file: source,
      data_dir: dataDir,
      redis: target,
      keys_restored: copied.copied,
      keys_expired: copied.expired,
      written,
      warnings,
      backup: {
        created_at: contents.manifest.created_at,
        product_version: contents.manifest.product_version,
        source: contents.manifest.source,
        key_count: contents.manifest.key_count,
      },
    };
  } catch (err) {
    // A dir this command created and could not fill is removed, so a retry finds it as it was.
    if (created) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  } finally {
    lock.release();
  }
}

function keyWarnings(config: Config, contents: BackupContents): string[] {
  const warnings: string[] = [];
  if (contents.manifest.secrets_key === "OAUTH_SECRETS_KEY" && !config.oauth.secretsKey) {
    warnings.push("the backed-up gateway used OAUTH_SECRETS_KEY, which no backup holds: set the same value here, or per-proxy GitHub secrets cannot be decrypted");
  }
  if (contents.secretsKey && config.oauth.secretsKey) {
    warnings.push("OAUTH_SECRETS_KEY is set here, so the gateway will use it rather than the restored secrets.key: per-proxy GitHub secrets decrypt only if it is the same key");
  }
  return warnings;
}

async function openExternal(url: string, password: string | undefined, force: boolean): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...(password ? { password } : {}) });
  client.on("error", () => {});
  const where = describeRedis({ url });
  try {
    await client.connect();
    const keys = await client.dbsize();
    if (keys > 0 && !force) throw new RestoreError(`${where} already holds ${keys} ${keys === 1 ? "key" : "keys"}: restore into an empty database, or add --force to delete them first`);
    return client;
  } catch (err) {
    client.disconnect();
    if (err instanceof RestoreError) throw err;
    throw new RestoreError(`cannot use ${where}: ${(err as Error).message}`);
  }
}

/**
 * Unlike the embedded Redis (staged), an external database that failed part
 * way holds part of the backup: say so, and how to start over. BUSYKEY means
 * a key appeared between the flush and its copy: something else writes to
 * that database, most often a gateway still running on it.
 */
function partWayMessage(where: string, error: string): string {
  const stopped = `restoring into ${where} stopped part way (${error})`;
  if (error.startsWith("BUSYKEY")) {
    return `${stopped}: another client wrote to it during the restore, a gateway still running on it perhaps; it holds some of the backup's keys: stop every gateway that uses it, then run restore again with --force`;
  }
  return `${stopped}; it holds some of the backup's keys: run restore again with --force`;
}

async function copyIntoExternal(snapshot: Redis, target: Redis, where: string) {
  // Checked empty above unless --force, which replaces what is there.
  await target.flushdb();
  try {
    return await copyKeys(snapshot, target);
  } catch (err) {
    throw new RestoreError(partWayMessage(where, (err as Error).message));
  }
}

/**
 * Into a Redis started exactly as `serve` starts it (same config file, AOF
 * layout and password handling), in a staging dir; SIGTERM flushes its AOF,
 * and the finished directory then replaces `<data dir>/redis`.
 */
async function copyIntoEmbedded(snapshot: Redis, config: Config, log: Logger) {
  if (config.redis.mode !== "embedded") throw new Error("not an embedded Redis");
  const staging = join(config.dataDir, `.restore-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  const stagingLock = lockDataDir(staging);
  try {
    // Interrupted, even while it starts: the staging Redis and its half-filled directory go; <data dir>/redis was never touched.
    const forget = onInterrupt(() => {
      signalRedisOf(join(staging, "redis"), "SIGKILL");
      rmSync(staging, { recursive: true, force: true });
    });
    const server = await EmbeddedRedis.start({ dataDir: stagingLock, serverBinary: config.redis.serverBinary, password: config.redis.password, log }).catch((err) => {
      forget();
      throw err;
    });
    let outcome;
    try {
      const client = new Redis({ path: server.socketPath, password: server.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on("error", () => {});
      try {
        await client.connect();
        outcome = await copyKeys(snapshot, client);
      } finally {
        client.disconnect();
      }
    } finally {
      await server.stop();
      forget();
    }
    const redisDir = join(config.dataDir, "redis");
    rmSync(redisDir, { recursive: true, force: true });
    renameSync(join(staging, "redis"), redisDir);
    return outcome;
  } finally {
    stagingLock.release();
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * A restore killed outright (SIGKILL, a reboot) leaves its staging dir, maybe
 * with its Redis still running. This process holds the data dir's lock, so no
 * other restore owns one: each goes, its Redis stopped first.
 */
function removeStaleStaging(dataDir: string): void {
  for (const name of readdirSync(dataDir)) {
    if (!/^\.restore-\d+$/.test(name)) continue;
    signalRedisOf(join(dataDir, name, "redis"), "SIGKILL");
    rmSync(join(dataDir, name), { recursive: true, force: true });
  }
}

/** secrets.key and admin-token as the backup has them (0600); with --force, ones the backup lacks are removed, as they belong to the data replaced. */
function writeDataDirFiles(dataDir: string, contents: BackupContents): string[] {
  const written: string[] = [];
  const put = (name: string, data: Uint8Array | string | null) => {
    const path = join(dataDir, name);
    if (data === null) {
      rmSync(path, { force: true });
      return;
    }
    const partial = `${path}.restore-${process.pid}`;
    rmSync(partial, { force: true });
    // wx: never through a link planted at that name.
    writeFileSync(partial, data, { mode: 0o600, flag: "wx" });
    chmodSync(partial, 0o600);
    renameSync(partial, path);
    written.push(path);
  };
  put(SECRETS_KEY_FILE, contents.secretsKey);
  put(ADMIN_TOKEN_FILE, contents.adminToken === null ? null : `${contents.adminToken}\n`);
  return written;
}
