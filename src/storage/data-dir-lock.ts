/**
 * One gateway per data dir. The dir holds the embedded Redis (AOF, socket, pid
 * file), secrets.key and admin-token: a second gateway on it would stop the
 * first one's Redis and race on those files. An flock(2) on
 * `<dir>/portcullis.lock`, held for the life of the process, makes a second
 * start fail before it touches anything. The kernel drops the lock when its
 * holder dies, however it dies, so a lock file left behind never blocks a start.
 */
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { flockExclusiveNoWait } from "./flock";

export const LOCK_FILE = "portcullis.lock";

export class DataDirInUseError extends Error {
  override name = "DataDirInUseError";
}

/** Proof that this process holds a data dir: what may touch its files takes one. */
export interface LockedDataDir {
  readonly path: string;
  /** Drops the lock (closing the descriptor); a no-op the second time. */
  release(): void;
}

export function lockDataDir(dir: string): LockedDataDir {
  const file = join(dir, LOCK_FILE);
  // No O_TRUNC: the holder's pid in the file must survive a failed attempt.
  // Bun opens with O_CLOEXEC: a child (redis-server) drops the lock at exec, so an
  // orphaned Redis never keeps the next gateway out.
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  let outcome: ReturnType<typeof flockExclusiveNoWait>;
  try {
    outcome = flockExclusiveNoWait(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (outcome !== "locked") {
    closeSync(fd);
    if (outcome === "held") throw new DataDirInUseError(`another gateway is using ${dir} (${describeHolder(file)})`);
    throw new DataDirInUseError(`cannot lock ${file}: ${outcome}`);
  }
  // The pid is for the message a second start prints; the lock itself is the truth.
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);

  let held = true;
  return {
    path: dir,
    release() {
      if (!held) return;
      held = false;
      ftruncateSync(fd, 0);
      closeSync(fd);
    },
  };
}

function describeHolder(file: string): string {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    // Empty for an instant while the holder writes its pid.
    if (Number.isInteger(pid) && pid > 0) return `pid ${pid}`;
  } catch {}
  return "pid unknown";
}
