/**
 * The measuring step of the round-based scripts (ceiling.ts, auth-profile.ts, mcp-*.ts):
 * one wrk run after a warm-up, with the CPU time of chosen processes read
 * around the measured part only, and the median they report per variant.
 */
import type { RoundOptions } from "./args";
import { startBackend, type RunningBackend } from "./backend-process";
import { machineInfo, type MachineInfo } from "./machine";
import { ensureBinary, ROOT } from "./portcullis";
import { installExitHandlers } from "./processes";
import { totalCpuMicros } from "./process-cpu";
import type { HttpTarget } from "./scenarios";
import { runWrk, type WrkResult } from "./wrk";

export interface CpuSample {
  readonly result: WrkResult;
  /** Per group of processes, in the order given: CPU µs spent per request served. */
  readonly cpuPerRequest: number[];
  /** Socket errors and non-2xx/3xx answers together. */
  readonly errors: number;
}

/** How each round-based script starts: exit handlers, the build (a note when it is stale), the machine's description, the backend. */
export async function startRoundBench(): Promise<{ machine: MachineInfo; backend: RunningBackend }> {
  installExitHandlers();
  const stale = await ensureBinary();
  if (stale) console.log(`note: ${stale}`);
  return { machine: await machineInfo(ROOT), backend: await startBackend() };
}

export async function measureWithCpu(target: HttpTarget, options: RoundOptions["wrk"], groups: readonly (readonly number[])[]): Promise<CpuSample> {
  const wrk = {
    url: `http://127.0.0.1:${target.port}${target.path}`,
    seconds: options.duration,
    connections: options.connections,
    threads: options.threads,
    headers: [`Host: ${target.host}`, ...(target.headers ?? [])],
    script: target.script,
  };
  if (options.warmup > 0) await runWrk({ ...wrk, seconds: options.warmup });
  const before = await Promise.all(groups.map(totalCpuMicros));
  const result = await runWrk(wrk);
  const after = await Promise.all(groups.map(totalCpuMicros));
  const e = result.socketErrors;
  return {
    result,
    cpuPerRequest: groups.map((_, i) => (after[i]! - before[i]!) / result.requests),
    errors: e.connect + e.read + e.write + e.timeout + result.non2xx3xx,
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Measures every variant once per round, rotating the order so no variant
 * always follows the same one, and prints a line per round; returns each
 * variant's samples in round order.
 */
export async function runRounds<V extends { readonly name: string }, S>(
  variants: readonly V[],
  rounds: number,
  measure: (variant: V) => Promise<S>,
  summary: (sample: S) => string,
): Promise<Map<string, S[]>> {
  const samples = new Map<string, S[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
    const line: string[] = [];
    for (const v of order) {
      const sample = await measure(v);
      samples.get(v.name)!.push(sample);
      line.push(`${v.name} ${summary(sample)}`);
    }
    console.log(`round ${round + 1}/${rounds}: ${line.join("; ")}`);
  }
  return samples;
}

/** One wrk run of `target` with the gateway's CPU per request (the backend's is read too, and left out). */
export async function gatewaySample(
  target: HttpTarget,
  options: RoundOptions["wrk"],
  pids: { readonly gateway: number; readonly backend: number },
): Promise<{ rps: number; gatewayUs: number; errors: number }> {
  const s = await measureWithCpu(target, options, [[pids.gateway], [pids.backend]]);
  return { rps: s.result.requestsPerSecond, gatewayUs: s.cpuPerRequest[0]!, errors: s.errors };
}
