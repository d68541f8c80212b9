/**
 * wrk: run it (bounded in time) and read its `--latency` report. The parser is a
 * pure function of wrk's text so it can be unit-tested without wrk installed.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, spawnChild } from "./processes";

export interface WrkResult {
  readonly requests: number;
  readonly durationSeconds: number;
  readonly requestsPerSecond: number;
  /** Latencies in milliseconds, from wrk's "Thread Stats" and "Latency Distribution". */
  readonly latencyMs: { readonly avg: number; readonly max: number; readonly p50: number; readonly p75: number; readonly p90: number; readonly p99: number };
  readonly socketErrors: { readonly connect: number; readonly read: number; readonly write: number; readonly timeout: number };
  /** Responses with a status outside 2xx/3xx: a non-zero count means the scenario is misconfigured. */
  readonly non2xx3xx: number;
}

// wrk prints times with these suffixes (src/units.c) and counts with k/M/G (base 1000).
const TIME_TO_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "345.00us" → 0.345; "0.93ms" → 0.93; "1.20s" → 1200. */
export function parseWrkTime(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`wrk: unreadable time "${text}"`);
  return Number(match[1]) * TIME_TO_MS[match[2]!]!;
}

function captureNumber(output: string, pattern: RegExp, what: string): number {
  const match = pattern.exec(output);
  if (!match) throw new Error(`wrk: no ${what} in its output:\n${output}`);
  return Number(match[1]);
}

function percentile(output: string, pct: number): number {
  const match = new RegExp(`^\\s*${pct}%\\s+(\\S+)\\s*$`, "m").exec(output);
  if (!match) throw new Error(`wrk: no ${pct}% line (was --latency given?):\n${output}`);
  return parseWrkTime(match[1]!);
}

export function parseWrkOutput(output: string): WrkResult {
  const stats = /^\s*Latency\s+(\S+)\s+\S+\s+(\S+)\s+\S+\s*$/m.exec(output);
  if (!stats) throw new Error(`wrk: no "Latency" thread stats in its output:\n${output}`);
  const totals = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),/m.exec(output);
  if (!totals) throw new Error(`wrk: no "N requests in T" line in its output:\n${output}`);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requests: Number(totals[1]),
    durationSeconds: parseWrkTime(`${totals[2]}${totals[3]}`) / 1000,
    requestsPerSecond: captureNumber(output, /^Requests\/sec:\s+([\d.]+)\s*$/m, "Requests/sec"),
    latencyMs: {
      avg: parseWrkTime(stats[1]!),
      max: parseWrkTime(stats[2]!),
      p50: percentile(output, 50),
      p75: percentile(output, 75),
      p90: percentile(output, 90),
      p99: percentile(output, 99),
    },
    socketErrors: {
      connect: Number(errors?.[1] ?? 0),
      read: Number(errors?.[2] ?? 0),
      write: Number(errors?.[3] ?? 0),
      timeout: Number(errors?.[4] ?? 0),
    },
    non2xx3xx: Number(non2xx?.[1] ?? 0),
  };
}

export interface WrkOptions {
  readonly url: string;
  readonly seconds: number;
  readonly connections: number;
  readonly threads: number;
  readonly headers?: readonly string[];
  /** A wrk Lua script (postScript: a POST with a body). */
  readonly script?: string;
}

/** The argv for one run; also printed into the report so a reader can repeat it. */
export function wrkArgs(options: WrkOptions): string[] {
  const args = ["wrk", `-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`, "--latency"];
  if (options.script !== undefined) args.push("-s", options.script);
  for (const header of options.headers ?? []) args.push("-H", header);
  args.push(options.url);
  return args;
}

/** Runs wrk once and returns its parsed report (throws with wrk's output if it failed). */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  // wrk stops itself after -d; the kill deadline only guards against a hang.
  const child = spawnChild(wrkArgs(options), { stdout: "pipe", stderr: "pipe" });
  const killAfter = setTimeout(() => child.kill("SIGKILL"), (options.seconds + 30) * 1000);
  try {
    const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    if (code !== 0) throw new Error(`wrk exited with ${code}:\n${out}${err}`);
    return parseWrkOutput(out);
  } finally {
    clearTimeout(killAfter);
  }
}

/** A wrk Lua script that sends every request as a POST with this body; returns its path (removed on exit). */
export function postScript(body: string): string {
  if (body.includes("]==]")) throw new Error("postScript: the body must not contain ]==]");
  const path = join(makeTempDir("wrk"), "post.lua");
  writeFileSync(path, `wrk.method = "POST"\nwrk.body = [==[${body}]==]\n`);
  return path;
}
