/**
 * `bun bench/request-log.ts [--rounds N] [--duration S] [--warmup S] [--connections N]`
 * (or `just bench-request-log`): what recording every request costs. Two
 * gateways from the same build share one Redis and one backend:
 *
 *   request log off   REQUEST_LOG=false (records still feed /metrics)
 *   request log on    the defaults: every request written to Redis
 *
 * measured in alternating rounds. Reports req/s (and on ÷ off per round),
 * the gateway's CPU µs per request, Redis's CPU µs per request, and Redis
 * memory per million requests recorded (used_memory growth over the "on"
 * runs ÷ records written). `just bench` runs the same comparison
 * (benchRequestLog) beside its other scenarios.
 */
import { parseRoundArgs, type RoundOptions } from "./args";
import { startBackend, type RunningBackend } from "./backend-process";
import { machineInfo } from "./machine";
import { configurePlainProxy, ensureBinary, PLAIN_HOST, ROOT, startPortcullis, type RunningPortcullis } from "./portcullis";
import { cleanup, freePort, installExitHandlers, spawnChild, stopChild } from "./processes";
import { pidsListeningOn } from "./process-cpu";
import { measureWithCpu, median, runRounds } from "./rounds";
import type { HttpTarget } from "./scenarios";

export const LOG_OFF = "request log off";
export const LOG_ON = "request log on";

interface Sample {
  readonly rps: number;
  readonly gatewayUs: number;
  readonly redisUs: number;
  readonly requests: number;
  /** used_memory growth during the run, bytes. */
  readonly redisBytes: number;
}

export interface RequestLogComparison {
  readonly rows: { name: string; rps: number; gatewayUs: number; gatewayRange: [number, number]; redisUs: number }[];
  /** on ÷ off req/s, median over rounds. */
  readonly rpsRatio: number;
  /** on − off gateway CPU µs per request, median over rounds. */
  readonly extraGatewayUs: number;
  /** The smallest and largest per-round on − off difference: how far single rounds wander. */
  readonly extraGatewayRange: [number, number];
  readonly rounds: number;
  /** Seconds of wrk per gateway and round (after the warm-up). */
  readonly roundSeconds: number;
  readonly redisMbPerMillion: number;
}

async function redisCommand(port: number, ...args: string[]): Promise<string> {
  const child = Bun.spawn(["redis-cli", "-p", String(port), ...args], { stdout: "pipe" });
  const text = await new Response(child.stdout).text();
  await child.exited;
  return text;
}

async function usedMemory(port: number): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redisCommand(port, "INFO", "memory"))?.[1] ?? 0);
}

/** Both gateways, one Redis, alternating rounds; the Redis and gateways are stopped before it returns. */
export async function benchRequestLog(backend: RunningBackend, rounds: number, options: RoundOptions["wrk"]): Promise<RequestLogComparison> {
  const redisPort = freePort();
  const redis = spawnChild(["redis-server", "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "pipe", stderr: "pipe" });
  let off: RunningPortcullis | undefined;
  let on: RunningPortcullis | undefined;
  try {
    for (let i = 0; i < 50 && !(await redisCommand(redisPort, "PING")).includes("PONG"); i++) await Bun.sleep(100);
    const shared = { REDIS_URL: `redis://127.0.0.1:${redisPort}/0` };
    off = await startPortcullis({ ...shared, REQUEST_LOG: "false" });
    on = await startPortcullis(shared);
    const backendUrl = `http://127.0.0.1:${backend.port}`;
    // One proxy in Redis serves both gateways (they share the config); creating it twice would be a 409.
    await configurePlainProxy(on, backendUrl);
    const redisPid = redis.pid;
    const variants = [
      { name: LOG_OFF, gateway: off },
      { name: LOG_ON, gateway: on },
    ];
    for (const v of variants) {
      const deadline = Date.now() + 5_000;
      while ((await fetch(`http://127.0.0.1:${v.gateway.httpPort}/`, { headers: { host: PLAIN_HOST } })).status !== 200) {
        if (Date.now() > deadline) throw new Error(`${v.name}: the proxy does not answer 200`);
        await Bun.sleep(100);
      }
    }
    const pids = new Map<string, number>();
    for (const v of variants) pids.set(v.name, (await pidsListeningOn(v.gateway.httpPort))[0]!);
    const samples = await runRounds(
      variants,
      rounds,
      async (v): Promise<Sample> => {
        const target: HttpTarget = { name: v.name, description: "", port: v.gateway.httpPort, host: PLAIN_HOST, path: "/" };
        const memoryBefore = await usedMemory(redisPort);
        const s = await measureWithCpu(target, options, [[pids.get(v.name)!], [redisPid]]);
        // The last flush of the run lands within ~100 ms.
        await Bun.sleep(300);
        const memoryAfter = await usedMemory(redisPort);
        if (s.errors > 0) throw new Error(`${v.name}: ${s.errors} errors`);
        return { rps: s.result.requestsPerSecond, gatewayUs: s.cpuPerRequest[0]!, redisUs: s.cpuPerRequest[1]!, requests: s.result.requests, redisBytes: memoryAfter - memoryBefore };
      },
      (s) => `${Math.round(s.rps)} req/s (gateway ${s.gatewayUs.toFixed(1)} µs, redis ${s.redisUs.toFixed(1)} µs)`,
    );
    const offRuns = samples.get(LOG_OFF)!;
    const onRuns = samples.get(LOG_ON)!;
    // Warm-up requests are recorded too: count them with the measured ones.
    const warmupShare = options.warmup > 0 ? 1 + options.warmup / options.duration : 1;
    const extra = onRuns.map((s, i) => s.gatewayUs - offRuns[i]!.gatewayUs);
    const recorded = onRuns.reduce((n, s) => n + s.requests * warmupShare, 0);
    const grown = onRuns.reduce((n, s) => n + s.redisBytes, 0);
    return {
      rows: [LOG_OFF, LOG_ON].map((name) => {
        const runs = samples.get(name)!;
        const us = runs.map((s) => s.gatewayUs);
        return { name, rps: median(runs.map((s) => s.rps)), gatewayUs: median(us), gatewayRange: [Math.min(...us), Math.max(...us)], redisUs: median(runs.map((s) => s.redisUs)) };
      }),
      rpsRatio: median(onRuns.map((s, i) => s.rps / offRuns[i]!.rps)),
      extraGatewayUs: median(extra),
      extraGatewayRange: [Math.min(...extra), Math.max(...extra)],
      rounds,
      roundSeconds: options.duration,
      redisMbPerMillion: ((grown / recorded) * 1e6) / (1024 * 1024),
    };
  } finally {
    await Promise.all([off?.stop(), on?.stop()]);
    await stopChild(redis);
  }
}

const signed = (us: number) => `${us >= 0 ? "+" : "−"}${Math.abs(us).toFixed(2)}`;

export function requestLogTable(c: RequestLogComparison): string {
  const lines = ["| variant | req/s median | gateway CPU µs/req: median (min–max) | Redis CPU µs/req |", "| --- | ---: | ---: | ---: |"];
  for (const r of c.rows) lines.push(`| ${r.name} | ${Math.round(r.rps)} | ${r.gatewayUs.toFixed(2)} (${r.gatewayRange[0].toFixed(2)}–${r.gatewayRange[1].toFixed(2)}) | ${r.redisUs.toFixed(2)} |`);
  lines.push(
    "",
    `on ÷ off req/s (median per round): ${c.rpsRatio.toFixed(3)}; gateway CPU on − off: ${signed(c.extraGatewayUs)} µs/request; ` +
      `Redis memory: ${c.redisMbPerMillion.toFixed(0)} MiB per million requests recorded`,
    "",
    `${c.rounds} rounds of ${c.roundSeconds} s per gateway; single rounds' on − off ranged from ${signed(c.extraGatewayRange[0])} to ${signed(c.extraGatewayRange[1])} µs.`,
  );
  return lines.join("\n");
}

if (import.meta.main) {
  installExitHandlers();
  const { rounds, wrk } = parseRoundArgs(process.argv.slice(2), 5);
  try {
    const stale = await ensureBinary();
    if (stale) console.log(`note: ${stale}`);
    const machine = await machineInfo(ROOT);
    const backend = await startBackend();
    try {
      const comparison = await benchRequestLog(backend, rounds, wrk);
      console.log(`\n${machine.cpuModel}, ${machine.nproc} CPUs; Bun ${machine.bun}; source ${machine.revision}; load at start ${machine.loadAverage}`);
      console.log(`${rounds} rounds; each: ${wrk.warmup} s warm-up, ${wrk.duration} s of wrk -t1 -c${wrk.connections}, GET / through one proxy\n`);
      console.log(requestLogTable(comparison));
    } finally {
      await backend.stop();
    }
  } finally {
    await cleanup();
  }
}
