/**
 * `portcullis restart`: a zero-downtime restart of the gateway running on this
 * machine. A local command, not an API client: it finds the supervisor through
 * `<PORTCULLIS_DATA_DIR>/workers.json` (written by the supervisor), sends it
 * SIGHUP, and waits until the new workers serve and the old ones have drained.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { LOCK_FILE } from "../../storage/data-dir-lock";
import { readStatus, STATUS_FILE, type WorkersStatus } from "../../workers/status-file";
import { CliError } from "../cli-error";
import type { CommandOutput } from "../context";
import { renderItem } from "../output";
import { globalFlagsOf } from "../global-flags";
import { resolveSettings } from "../settings";

type Env = Readonly<Record<string, string | undefined>>;

const POLL_MS = 100;

export function registerRestartCommand(program: Command, env: Env, output: CommandOutput): void {
  program
    .command("restart")
    .description("Restart the gateway on this machine without dropping a request: new workers start (from the binary on disk now), then the old ones drain")
    .option("--timeout <seconds>", "how long to wait for the new workers", "90")
    .action(async (options: { timeout: string }, command: Command) => {
      const format = resolveSettings(globalFlagsOf(program, command), env).format;
      const timeoutSeconds = Number(options.timeout);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new CliError(`--timeout: expected a number of seconds, got ${JSON.stringify(options.timeout)}`, 2);
      const dataDir = resolve(env.PORTCULLIS_DATA_DIR || "data");
      const done = await restartSupervisor(dataDir, timeoutSeconds * 1000, output.note);
      const workers = done.workers.map((w) => ({ index: w.index, pid: w.pid, node_id: w.node_id }));
      if (format !== "table") return output.print(renderItem({ supervisor_pid: done.supervisor_pid, generation: done.generation, workers }, format));
      output.print(`restarted (supervisor pid ${done.supervisor_pid}, generation ${done.generation}): workers ${workers.map((w) => `${w.node_id} pid ${w.pid}`).join(", ")}`);
    });
}

/** Sends SIGHUP and resolves with the status once the restart is complete; a CliError says why not. */
export async function restartSupervisor(dataDir: string, timeoutMs: number, note: (text: string) => void = () => {}): Promise<WorkersStatus> {
  const before = readStatus(dataDir);
  if (!before) {
    throw new CliError(
      `no running supervisor found for ${dataDir} (no ${STATUS_FILE}): the gateway is stopped, or runs as one process (PORTCULLIS_WORKERS=0), which cannot restart without downtime`,
    );
  }
  const pid = before.supervisor_pid;
  // A workers.json left by a supervisor that was killed: its pid may belong to another process by now.
  if (!alive(pid) || lockHolder(dataDir) !== pid) throw new CliError(`the supervisor in ${join(dataDir, STATUS_FILE)} (pid ${pid}) is not running`);
  if (before.restarting) throw new CliError(`a restart is already under way (supervisor pid ${pid}); wait for it, then try again`);
  note(`restarting the gateway (supervisor pid ${pid}, generation ${before.generation})…`);
  process.kill(pid, "SIGHUP");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await Bun.sleep(POLL_MS);
    if (!alive(pid)) throw new CliError(`the supervisor (pid ${pid}) exited during the restart; see the gateway's log`);
    const now = readStatus(dataDir);
    const last = now?.last_restart;
    // Only the outcome of this attempt counts, not a failure recorded before it.
    if (!now || !last || last.attempt <= before.restart_attempts) continue;
    if (last.ok) return now;
    throw new CliError(`restart failed: ${last.error ?? "see the gateway's log"}`);
  }
  throw new CliError(`the restart did not complete within ${timeoutMs / 1000} s; see the gateway's log`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function lockHolder(dataDir: string): number | null {
  try {
    return Number(readFileSync(join(dataDir, LOCK_FILE), "utf8").trim()) || null;
  } catch {
    return null;
  }
}
