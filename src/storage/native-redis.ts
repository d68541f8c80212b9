/**
 * A second Redis connection through Bun's built-in client, for the request
 * log writer alone: it encodes commands natively, which costs about a third
 * of ioredis's CPU per record written (bench/request-log.ts) — and the writer
 * runs for every request. Commands fail at once while it is disconnected (no
 * offline queue: the writer keeps its own, bounded), and it comes back by
 * itself after an outage. Everything else keeps ioredis (redis-connection.ts).
 */
import { RedisClient } from "bun";
import type { Redis } from "ioredis";
import type { Logger } from "../core/logger";
import type { ServerTarget } from "./redis-connection";

export interface CommandConnection {
  /** Connected and authenticated: commands sent now are expected to go through. */
  readonly ready: boolean;
  send(command: string, args: string[]): Promise<unknown>;
  close(): void;
}

/** The URL Bun's client takes for a target: the password goes into it (REDIS_PASSWORD, or the embedded server's). */
export function nativeRedisUrl(target: ServerTarget): string {
  if ("path" in target) return `redis+unix://default:${encodeURIComponent(target.password)}@localhost${target.path}`;
  const url = new URL(target.url);
  if (target.password && !url.password) {
    url.username ||= "default";
    url.password = encodeURIComponent(target.password);
  }
  return url.toString();
}

/** Between two fresh clients while Redis is away. */
const RECONNECT_EVERY_MS = 1_000;

/**
 * Bun's client reconnects by itself after a dropped connection, but once a
 * reconnect is refused (Redis down, or at maxclients) it stays failed; then
 * a fresh client is made, at most once a second, whenever the writer asks.
 */
export function connectNativeRedis(target: ServerTarget): CommandConnection {
  const url = nativeRedisUrl(target);
  const open = () => {
    const client = new RedisClient(url, { enableOfflineQueue: false, autoReconnect: true, connectionTimeout: 5_000 });
    // Connected in the background; until then `ready` is false and the writer keeps its queue.
    client.connect().catch(() => {});
    return client;
  };
  let client = open();
  let openedAt = Date.now();
  let closed = false;
  return {
    get ready() {
      if (client.connected) return true;
      if (!closed && Date.now() - openedAt >= RECONNECT_EVERY_MS) {
        client.close();
        client = open();
        openedAt = Date.now();
      }
      return false;
    },
    send: (command, args) => client.send(command, args),
    close: () => {
      closed = true;
      client.close();
    },
  };
}

/**
 * The same interface over an ioredis connection of its own, for a Sentinel
 * group: Bun's client cannot ask sentinels for the master, and after a
 * failover it would reconnect to the old address for good. Costs the CPU per
 * record the native client saves.
 */
export function ioredisCommandConnection(client: Redis, log: Logger): CommandConnection {
  // The writer reports an outage itself (queued records); connection errors are only worth a debug line.
  client.on("error", (err) => log.debug({ err: err.message }, "request log: redis connection error"));
  return {
    get ready() {
      return client.status === "ready";
    },
    send: (command, args) => client.call(command, ...args),
    close: () => client.disconnect(),
  };
}
