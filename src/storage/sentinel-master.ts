/**
 * The current master of a Sentinel group as a plain server address, for the
 * one-shot commands (backup, restore) that talk to one server with a URL.
 * The gateway itself connects through ioredis's Sentinel support instead
 * (redis-connection.ts), which follows failovers.
 */
import { Redis } from "ioredis";
import type { RedisSettings } from "../core/redis-config";

type External = Exclude<RedisSettings, { mode: "embedded" }>;

export class SentinelLookupError extends Error {}

const LOOKUP_TIMEOUT_MS = 3_000;

/** REDIS_URL as it is, or the URL of the master the sentinels name now (the password apart, never in the URL). */
export async function externalServer(settings: External): Promise<{ url: string; password?: string }> {
  if (settings.mode === "external") return { url: settings.url, password: settings.password };
  const { host, port } = await askSentinels(settings);
  const url = new URL(`redis://${host.includes(":") ? `[${host}]` : host}:${port}/${settings.db}`);
  if (settings.username) url.username = encodeURIComponent(settings.username);
  return { url: url.toString(), password: settings.password };
}

/** Each sentinel in turn until one names the master. */
async function askSentinels(settings: Extract<RedisSettings, { mode: "sentinel" }>): Promise<{ host: string; port: number }> {
  const failures: string[] = [];
  for (const sentinel of settings.sentinels) {
    const client = new Redis({
      host: sentinel.host,
      port: sentinel.port,
      ...(settings.sentinelPassword ? { password: settings.sentinelPassword } : {}),
      lazyConnect: true,
      enableReadyCheck: false,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      connectTimeout: LOOKUP_TIMEOUT_MS,
      commandTimeout: LOOKUP_TIMEOUT_MS,
    });
    client.on("error", () => {});
    try {
      await client.connect();
      const reply = (await client.call("SENTINEL", "get-master-addr-by-name", settings.name)) as [string, string] | null;
      if (Array.isArray(reply) && reply.length === 2) return { host: reply[0], port: Number(reply[1]) };
      failures.push(`${sentinel.host}:${sentinel.port} does not know master ${JSON.stringify(settings.name)}`);
    } catch (err) {
      failures.push(`${sentinel.host}:${sentinel.port}: ${(err as Error).message}`);
    } finally {
      client.disconnect();
    }
  }
  throw new SentinelLookupError(`no sentinel named the master of ${JSON.stringify(settings.name)} (${failures.join("; ")})`);
}
