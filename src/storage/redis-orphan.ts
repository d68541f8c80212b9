/**
 * A redis-server left behind by a killed gateway still holds the data dir's
 * socket and AOF, so the next start stops it. A pid alone proves nothing: a
 * pid file restored from a backup or copied from another data dir, or one
 * left from before a reboot, can name any process, including another live
 * gateway's Redis. So a process is stopped only when it is provably this data
 * dir's orphan: the caller holds the data dir lock (no live gateway owns the
 * dir), and its command line names this dir's socket or config file.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Logger } from "../core/logger";
import type { LockedDataDir } from "./data-dir-lock";

const STOP_TIMEOUT_MS = 10_000;

export interface EmbeddedRedisPaths {
  readonly pidFile: string;
  readonly socketPath: string;
  readonly configPath: string;
}

export async function stopOrphanedRedis(_lock: LockedDataDir, paths: EmbeddedRedisPaths, log: Logger): Promise<void> {
  if (!existsSync(paths.pidFile)) return;
  const pid = Number(readFileSync(paths.pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  if (!isOrphanOf(pid, paths)) {
    if (existsSync(`/proc/${pid}`)) log.warn({ pid, pid_file: paths.pidFile }, "redis.pid names a process that is not this data dir's redis-server: left alone");
    return;
  }
  log.warn({ pid }, "stopping a redis-server left running by an earlier gateway");
  signal(pid, "SIGTERM");
  for (let waited = 0; waited < STOP_TIMEOUT_MS && isOrphanOf(pid, paths); waited += 50) await Bun.sleep(50);
  if (isOrphanOf(pid, paths)) signal(pid, "SIGKILL");
}

/** It may exit on its own between the check and the signal. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {}
}

/**
 * redis-server replaces its argv with a title, "<binary> unixsocket:<socket>"
 * when it has no TCP port (as configured here); with `set-proc-title no` the
 * argv stays, and its config file argument names the data dir.
 */
export function isOrphanOf(pid: number, paths: Pick<EmbeddedRedisPaths, "socketPath" | "configPath">): boolean {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((arg) => arg !== "");
  } catch {
    return false; // gone, or not ours to read
  }
  if (args.length === 0 || !args[0]!.includes("redis-server")) return false;
  if (args.slice(1).includes(paths.configPath)) return true;
  const title = args.join(" ");
  const marker = `unixsocket:${paths.socketPath}`;
  const at = title.indexOf(marker);
  if (at < 0) return false;
  // The path must end there: /data/redis/redis.sock is not /data/redis/redis.sock2.
  const next = title[at + marker.length];
  return next === undefined || next === " ";
}
