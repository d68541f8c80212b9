/**
 * `portcullis backup`: one archive holding everything a gateway needs to come
 * back — a point-in-time snapshot of its Redis, `secrets.key` (which decrypts
 * per-proxy GitHub secrets) and `admin-token`. Run on the gateway's machine
 * with the settings `serve` uses. A running gateway keeps serving; a stopped
 * one's embedded Redis is started for the snapshot and stopped again. Never
 * copied: `redis.pid`, the lock file, sockets (they describe processes, not
 * data).
 */
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ADMIN_TOKEN_FILE } from "../api/admin-token-bootstrap";
import type { Config } from "../core/config";
import type { Logger } from "../core/logger";
import { SECRETS_KEY_FILE } from "../core/secret-box";
import { VERSION } from "../core/version";
import { DataDirInUseError, lockDataDir } from "../storage/data-dir-lock";
import { EmbeddedRedis } from "../storage/embedded-redis";
import { describe as describeRedis } from "../storage/redis-connection";
import { externalServer, SentinelLookupError } from "../storage/sentinel-master";
import { packBackup, type BackupManifest, type SecretsKeyState } from "./archive";
import { onInterrupt, signalRedisOf } from "./interrupt-cleanup";
import { summarizeRdb } from "./rdb-summary";
import { fetchSnapshot } from "./redis-snapshot";

export class BackupError extends Error {
  override name = "BackupError";
}

export interface BackupReport {
  file: string;
  bytes: number;
  manifest: Omit<BackupManifest, "files" | "format" | "format_version">;
  admin_token: boolean;
}

export async function backupGateway(config: Config, file: string, log: Logger): Promise<BackupReport> {
  const target = resolve(file);
  const snapshot = await takeSnapshot(config, log);
  const summary = summarizeRdb(snapshot.rdb, snapshot.database);

  let secretsKey: Uint8Array | null = null;
  let secretsState: SecretsKeyState = "absent";
  if (config.oauth.secretsKey) secretsState = "OAUTH_SECRETS_KEY";
  else if (existsSync(join(config.dataDir, SECRETS_KEY_FILE))) {
    secretsKey = new Uint8Array(readFileSync(join(config.dataDir, SECRETS_KEY_FILE)));
    secretsState = "included";
  }
  const tokenFile = join(config.dataDir, ADMIN_TOKEN_FILE);
  const adminToken = existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() || null : null;

  const manifest: BackupReport["manifest"] = {
    product_version: VERSION,
    created_at: new Date().toISOString(),
    source: { redis: snapshot.redis, database: snapshot.database, redis_version: summary.redisVersion },
    key_count: summary.keyCount,
    secrets_key: secretsState,
  };
  const bytes = await packBackup({ manifest, rdb: snapshot.rdb, secretsKey, adminToken });
  writePrivately(target, bytes);
  return { file: target, bytes: bytes.length, manifest, admin_token: adminToken !== null };
}

/** Written aside with mode 0600 (the archive holds secrets), then renamed into place: no reader sees half a backup. */
function writePrivately(target: string, bytes: Uint8Array): void {
  const partial = `${target}.partial-${process.pid}`;
  try {
    writeFileSync(partial, bytes, { mode: 0o600, flag: "wx" });
    chmodSync(partial, 0o600); // the mode above is masked by the umask
    renameSync(partial, target);
  } catch (err) {
    rmSync(partial, { force: true });
    throw new BackupError(`cannot write ${target}: ${(err as Error).message}`);
  }
}

async function takeSnapshot(config: Config, log: Logger): Promise<{ rdb: Uint8Array; redis: string; database: number }> {
  if (config.redis.mode !== "embedded") {
    const { url, password } = await externalServer(config.redis).catch((err) => {
      throw err instanceof SentinelLookupError ? new BackupError(err.message) : err;
    });
    const database = Number(new URL(url).pathname.slice(1) || 0);
    return { rdb: await fetchSnapshot({ url, password }), redis: describeRedis({ url }), database };
  }

  const redisDir = join(config.dataDir, "redis");
  if (!existsSync(join(redisDir, "appendonlydir"))) {
    throw new BackupError(`${config.dataDir} holds no gateway data (no redis/appendonlydir): nothing to back up. Is PORTCULLIS_DATA_DIR the gateway's data dir?`);
  }
  let lock;
  try {
    lock = lockDataDir(config.dataDir);
  } catch (err) {
    if (!(err instanceof DataDirInUseError)) throw err;
    // A gateway runs there: its Redis answers on the data dir's socket.
    const password = config.redis.password ?? readFileSync(join(redisDir, "password"), "utf8").trim();
    return { rdb: await fetchSnapshot({ path: join(redisDir, "redis.sock"), password }), redis: "embedded", database: 0 };
  }
  try {
    // No gateway runs there (and none can start while the lock is held): start its Redis just for the snapshot.
    // Interrupted, even while it starts: SIGTERM, which flushes its AOF, rather than leaving it running on the gateway's data.
    const forget = onInterrupt(() => signalRedisOf(redisDir, "SIGTERM"));
    const server = await EmbeddedRedis.start({ dataDir: lock, serverBinary: config.redis.serverBinary, password: config.redis.password, log }).catch((err) => {
      forget();
      throw err;
    });
    try {
      return { rdb: await fetchSnapshot({ path: server.socketPath, password: server.password }), redis: "embedded", database: 0 };
    } finally {
      await server.stop();
      forget();
    }
  } finally {
    lock.release();
  }
}
