/**
 * PORTCULLIS_WORKERS: how many worker processes `portcullis serve` runs.
 * Pure: a reader in, the count out, problems appended.
 */
import { availableParallelism } from "node:os";

/** More than this is a typo, not a machine (each worker holds its own tables and Redis connections). */
export const MAX_WORKERS = 256;

/**
 * `auto` (the default): one worker per available core; N ≥ 1: N workers under a
 * supervisor; 0: no supervisor, this process serves (no zero-downtime restart).
 */
export function parseWorkers(raw: string | undefined, problems: string[], cores: () => number = availableParallelism): number {
  const value = (raw ?? "auto").toLowerCase();
  if (value === "auto") return Math.max(1, Math.min(MAX_WORKERS, cores()));
  if (!/^\d+$/.test(value) || Number(value) > MAX_WORKERS) {
    problems.push(`PORTCULLIS_WORKERS=${JSON.stringify(raw)}: expected auto, 0 (no supervisor) or a number of worker processes up to ${MAX_WORKERS}`);
    return 0;
  }
  return Number(value);
}
