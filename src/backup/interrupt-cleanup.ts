/**
 * What a backup or restore must undo if it is interrupted (Ctrl-C, SIGTERM):
 * the process exits without running `finally` blocks, and the redis-server
 * children it started would outlive it — a throwaway one holding the whole
 * dataset in a temporary directory, or a staging one in the data dir. Each
 * registers how to stop it here; the command's signal handler runs them.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";

const cleanups = new Set<() => void>();

/** Registers `cleanup` until the returned function is called (when the work ends normally). */
export function onInterrupt(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => void cleanups.delete(cleanup);
}

/** Newest first, each on its own: one failing does not keep the others from running. */
export function runInterruptCleanups(): void {
  for (const cleanup of [...cleanups].reverse()) {
    try {
      cleanup();
    } catch {}
  }
  cleanups.clear();
}

/**
 * Signals the embedded-style redis-server of `redisDir`, found through its
 * pid file: usable before EmbeddedRedis.start has returned a handle. Only a
 * redis-server whose command line names that directory is signalled, so a
 * stale pid file never hits another process.
 */
export function signalRedisOf(redisDir: string, signal: NodeJS.Signals): void {
  let pid: number;
  try {
    pid = Number(readFileSync(join(redisDir, "redis.pid"), "utf8").trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (!cmdline.includes("redis-server") || !cmdline.includes(redisDir)) return;
  } catch {
    // No /proc (macOS): the pid file was written by the server this command started moments ago.
  }
  try {
    process.kill(pid, signal);
  } catch {}
}
