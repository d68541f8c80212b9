/**
 * What a gateway holds once per machine before it serves: the data-dir lock
 * and, without REDIS_URL or REDIS_SENTINELS, the embedded Redis. A single gateway opens it itself;
 * with workers, the supervisor opens it and hands the Redis to the workers.
 */
import { chmodSync, mkdirSync } from "node:fs";
import type { Config } from "../core/config";
import type { Logger } from "../core/logger";
import { lockDataDir } from "./data-dir-lock";
import { EmbeddedRedis } from "./embedded-redis";
import type { RedisTarget } from "./redis-connection";

export interface GatewayStorage {
  readonly target: RedisTarget;
  /** The embedded Redis's socket and password; undefined with REDIS_URL or REDIS_SENTINELS. */
  readonly embedded?: { readonly path: string; readonly password: string };
  /** Stops the embedded Redis and drops the lock. */
  close(): Promise<void>;
}

export async function openGatewayStorage(config: Config, log: Logger): Promise<GatewayStorage> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  // Before anything else in the dir is read or written; a second gateway stops here.
  const dataDir = lockDataDir(config.dataDir);
  if (config.redis.mode !== "embedded") return { target: externalTarget(config), close: async () => dataDir.release() };
  const embedded = await EmbeddedRedis.start({
    dataDir,
    serverBinary: config.redis.serverBinary,
    password: config.redis.password,
    log,
  }).catch((err) => {
    dataDir.release();
    throw err;
  });
  return {
    target: { path: embedded.socketPath, password: embedded.password },
    embedded: { path: embedded.socketPath, password: embedded.password },
    async close() {
      await embedded.stop();
      dataDir.release();
    },
  };
}

/** A worker's storage: the supervisor's Redis (or REDIS_URL), nothing to lock or stop. */
export function workerStorage(config: Config, embedded: { readonly path: string; readonly password: string } | undefined): GatewayStorage {
  if (embedded) return { target: { path: embedded.path, password: embedded.password }, embedded, close: async () => {} };
  if (config.redis.mode === "embedded") throw new Error("a worker without REDIS_URL or REDIS_SENTINELS needs the supervisor's embedded Redis (PORTCULLIS_WORKER_REDIS_SOCKET)");
  return { target: externalTarget(config), close: async () => {} };
}

/** REDIS_URL, or the sentinels that name the master (no embedded server is started for either). */
function externalTarget(config: Config): RedisTarget {
  const redis = config.redis;
  if (redis.mode === "sentinel") {
    const { sentinels, name, sentinelPassword, username, password, db } = redis;
    return { sentinels, name, sentinelPassword, username, password, db };
  }
  if (redis.mode === "external") return { url: redis.url, password: redis.password };
  throw new Error("the embedded Redis is opened by openGatewayStorage");
}
