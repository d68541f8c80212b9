/**
 * `<data dir>/workers.json`: the supervisor's pid, its workers and how the last
 * restart went. Written by the supervisor (whole file, renamed into place),
 * read by `portcullis restart` to find the supervisor and follow a restart.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const STATUS_FILE = "workers.json";

export interface WorkersStatus {
  readonly supervisor_pid: number;
  /** 1 at start; each completed restart adds one. */
  readonly generation: number;
  readonly restarting: boolean;
  /** Restarts asked for (SIGHUP) so far; last_restart.attempt says which one it reports. */
  readonly restart_attempts: number;
  readonly workers: readonly { readonly index: number; readonly pid: number; readonly node_id: string }[];
  readonly last_restart: { readonly attempt: number; readonly generation: number; readonly ok: boolean; readonly error?: string; readonly at: string } | null;
}

export function statusPath(dataDir: string): string {
  return join(dataDir, STATUS_FILE);
}

export function writeStatus(dataDir: string, status: WorkersStatus): void {
  const file = statusPath(dataDir);
  const pending = `${file}.${process.pid}.tmp`;
  writeFileSync(pending, JSON.stringify(status, null, 2) + "\n", { mode: 0o600 });
  renameSync(pending, file);
}

/** Null when there is none (no supervisor has run here) or it cannot be read. */
export function readStatus(dataDir: string): WorkersStatus | null {
  try {
    const parsed = JSON.parse(readFileSync(statusPath(dataDir), "utf8"));
    return typeof parsed?.supervisor_pid === "number" && typeof parsed?.generation === "number" && typeof parsed?.restart_attempts === "number" ? (parsed as WorkersStatus) : null;
  } catch {
    return null;
  }
}

export function removeStatus(dataDir: string): void {
  rmSync(statusPath(dataDir), { force: true });
}
