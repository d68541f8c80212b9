/**
 * Connections to Redis. A lost connection is retried forever with capped
 * exponential backoff, and every failed attempt is logged, so an outage is loud
 * but never fatal: the gateway keeps serving from memory and catches up.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../core/logger";
import type { SentinelAddress } from "../core/redis-config";

/** The master of a Sentinel group: the sentinels are asked for its address on every (re)connect. */
export interface SentinelTarget {
  sentinels: readonly SentinelAddress[];
  name: string;
  sentinelPassword?: string;
  username?: string;
  password?: string;
  db: number;
}

/** One server: a URL (REDIS_URL) or the embedded server's unix socket. */
export type ServerTarget = { url: string; password?: string } | { path: string; password: string };

export type RedisTarget = ServerTarget | SentinelTarget;

const MAX_BACKOFF_MS = 10_000;

export function backoffDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt, 10), MAX_BACKOFF_MS);
}

/**
 * With Sentinel, a promoted replica can be named any moment after the master
 * is lost, and each attempt first asks a sentinel (cheap): retried at least
 * every second, so writes resume about a second after the promotion.
 */
const SENTINEL_MAX_BACKOFF_MS = 1_000;

export function connectRedis(target: RedisTarget, log: Logger, name = "main"): Redis {
  const options: RedisOptions = {
    connectionName: `portcullis-${name}`,
    lazyConnect: false,
    // Commands fail fast during an outage (the API answers 503) instead of piling up.
    maxRetriesPerRequest: 1,
    commandTimeout: 5_000,
    connectTimeout: 5_000,
    retryStrategy(attempt) {
      const delay = "sentinels" in target ? Math.min(backoffDelay(attempt), SENTINEL_MAX_BACKOFF_MS) : backoffDelay(attempt);
      log.warn({ redis: describe(target), attempt, retry_in_ms: delay }, "redis unreachable, retrying");
      return delay;
    },
  };
  if (target.password) options.password = target.password;
  const client = "sentinels" in target ? new Redis({ ...options, ...sentinelOptions(target, log) }) : "path" in target ? new Redis({ ...options, path: target.path }) : new Redis(target.url, options);
  client.on("error", (err) => log.debug({ redis: describe(target), err: err.message }, "redis connection error"));
  client.on("ready", () => log.info({ redis: describe(target), name }, "redis connected"));
  return client;
}

/**
 * ioredis asks the sentinels for the master on each connect, checks the
 * server it reaches says role:master, and (failoverDetector) drops the
 * connection when a sentinel announces +switch-master — also when the old
 * master is still reachable from here but not from the sentinels. Duplicates
 * of the client (followers, blocking readers, transactions) inherit it all.
 */
function sentinelOptions(target: SentinelTarget, log: Logger): RedisOptions {
  return {
    sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.name,
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    ...(target.username ? { username: target.username } : {}),
    db: target.db,
    failoverDetector: true,
    // Every sentinel asked in turn without reaching a master: retried like a lost server, and as loudly.
    sentinelRetryStrategy(attempt) {
      const delay = Math.min(backoffDelay(attempt), SENTINEL_MAX_BACKOFF_MS);
      log.warn({ redis: describe(target), attempt, retry_in_ms: delay }, "no redis sentinel named a reachable master, retrying");
      return delay;
    },
    // A demoted master still accepting the connection answers writes with READONLY: reconnect, and the sentinels name the new one.
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
  };
}

/** Resolves once the client is ready; retries (and their logs) come from the retry strategy. */
export function waitUntilReady(client: Redis): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      client.off("end", onEnd);
      resolve();
    };
    const onEnd = () => {
      client.off("ready", onReady);
      reject(new Error("redis connection closed before it was ready"));
    };
    client.once("ready", onReady);
    client.once("end", onEnd);
  });
}

/** Where Redis is, without its password: safe for logs. */
export function describe(target: RedisTarget): string {
  if ("sentinels" in target) return `sentinel:${target.name}@${target.sentinels.map(sentinelAddress).join(",")}/${target.db}`;
  if ("path" in target) return `unix:${target.path}`;
  const url = new URL(target.url);
  url.password = "";
  url.username = "";
  return url.toString();
}

const sentinelAddress = ({ host, port }: SentinelAddress) => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);
