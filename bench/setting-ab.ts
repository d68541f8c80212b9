/**
 * `bun bench/setting-ab.ts --base NAME=VALUE --candidate NAME=VALUE [--base-binary PATH] [--scenario a|e] [--rounds N] [--duration S] [--warmup S] [--connections N] [--pin]`
 * (or `just bench-setting …`): what one environment setting, or one change
 * of the code, does to the gateway's cost per request. Two gateways, one
 * started with each value, serve the same scenario in alternating rounds.
 * Prints each round, then per gateway the median CPU µs and minor page faults
 * per request, and the median of the per-round ratios candidate ÷ base (the
 * rounds drift together on a shared machine; their ratio moves less than either).
 *
 * --base-binary runs the base gateway from another build (e.g. the previous
 * commit's, `bun scripts/build.ts --outfile /tmp/base`) and the candidate from
 * dist/portcullis; --base and --candidate may then be left out.
 * --scenario e measures scenario (e) of bench/ceiling.ts (edge auth and a
 * bearer token on every request) instead of (a).
 *
 * --pin puts both gateways on CPU 1 and everything else (this script, wrk,
 * the backend) on CPU 0 (taskset), so the gateway measured does not share
 * its core with the load; rounds still vary by several per cent, so take
 * 10 rounds or more before trusting a few per cent.
 */
import { parseArgs } from "node:util";
import { startBackend } from "./backend-process";
import { machineInfo } from "./machine";
import { AUTH_ENV, authTarget, configureAuthProxy } from "./auth";
import { BINARY, configurePlainProxy, ensureBinary, PLAIN_HOST, ROOT, startPortcullis } from "./portcullis";
import { cleanup, installExitHandlers } from "./processes";
import { minorFaults, pidsListeningOn, residentMemory } from "./process-cpu";
import { measureWithCpu, median, runRounds } from "./rounds";
import type { HttpTarget } from "./scenarios";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    base: { type: "string" },
    candidate: { type: "string" },
    "base-binary": { type: "string" },
    scenario: { type: "string", default: "a" },
    rounds: { type: "string", default: "10" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    connections: { type: "string", default: "50" },
    pin: { type: "boolean", default: false },
  },
});

/** The variable to set and its value; none when the two gateways differ by build alone (--base-binary). */
function setting(flag: "base" | "candidate"): [string, string] | undefined {
  const given = values[flag];
  if (given === undefined && values["base-binary"] !== undefined) return undefined;
  const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(given ?? "");
  if (!match) throw new Error(`--${flag} NAME=VALUE is required without --base-binary (e.g. --base MIMALLOC_PURGE_DELAY=10 --candidate MIMALLOC_PURGE_DELAY=-1)`);
  return [match[1]!, match[2]!];
}

interface Sample {
  readonly cpuUs: number;
  readonly faults: number;
}

const taskset = (cpu: number, pid: number) => Bun.spawnSync(["taskset", "-a", "-p", "-c", String(cpu), String(pid)], { stdout: "ignore" });

async function main(): Promise<void> {
  installExitHandlers();
  const base = setting("base");
  const candidate = setting("candidate");
  const rounds = Number(values.rounds);
  const wrk = { duration: Number(values.duration), warmup: Number(values.warmup), connections: Number(values.connections), threads: 1 };
  const stale = await ensureBinary();
  if (stale) console.log(`note: ${stale}`);
  const machine = await machineInfo(ROOT);
  // Children inherit the affinity they are started with: the backend and every wrk run stay on CPU 0.
  if (values.pin) taskset(0, process.pid);
  const backend = await startBackend();
  const scenario = values.scenario;
  if (scenario !== "a" && scenario !== "e") throw new Error(`--scenario is a or e, not ${scenario}`);
  const baseBinary = values["base-binary"];
  const variants: (HttpTarget & { readonly pid: number })[] = [];
  for (const [label, given, binary] of [["base", base, baseBinary ?? BINARY], ["candidate", candidate, BINARY]] as const) {
    const gateway = await startPortcullis({ ...(scenario === "e" ? AUTH_ENV : {}), ...(given ? { [given[0]]: given[1] } : {}) }, binary);
    const backendUrl = `http://127.0.0.1:${backend.port}`;
    await configurePlainProxy(gateway, backendUrl);
    const target = scenario === "e" ? authTarget(gateway.httpPort, (await configureAuthProxy(gateway, backendUrl)).valid) : { port: gateway.httpPort, host: PLAIN_HOST, path: "/" };
    const pid = (await pidsListeningOn(gateway.httpPort))[0]!;
    if (values.pin) taskset(1, pid);
    const name = `${label}${given ? ` ${given[0]}=${given[1]}` : ""}${binary === baseBinary ? ` (${binary})` : ""}`;
    variants.push({ ...target, name, description: "", pid });
  }

  const samples = await runRounds(
    variants,
    rounds,
    async (variant): Promise<Sample> => {
      const faultsBefore = await minorFaults(variant.pid);
      const sample = await measureWithCpu(variant, wrk, [[variant.pid]]);
      if (sample.errors > 0) throw new Error(`${variant.name}: ${sample.errors} errors`);
      // The warm-up's faults are counted too: per request of the measured run, it only adds a constant to both.
      return { cpuUs: sample.cpuPerRequest[0]!, faults: ((await minorFaults(variant.pid)) - faultsBefore) / sample.result.requests };
    },
    (s) => `${s.cpuUs.toFixed(2)} µs`,
  );

  console.log(`\n${machine.cpuModel}, ${machine.nproc} CPUs; Bun ${machine.bun}; source ${machine.revision}; ${rounds} rounds of ${wrk.duration} s (wrk -t1 -c${wrk.connections}), scenario (${scenario})${values.pin ? ", gateways pinned to CPU 1" : ""}\n`);
  console.log("| gateway | CPU µs/request, median (min–max) | minor page faults per 1,000 requests, median | resident memory after the rounds (peak) |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const variant of variants) {
    const runs = samples.get(variant.name)!;
    const cpu = runs.map((s) => s.cpuUs);
    const memory = await residentMemory(variant.pid);
    console.log(
      `| ${variant.name} | ${median(cpu).toFixed(2)} (${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)}) | ${(median(runs.map((s) => s.faults)) * 1000).toFixed(0)} | ${memory.now} MB (${memory.peak} MB) |`,
    );
  }
  const [b, c] = variants.map((v) => samples.get(v.name)!);
  const ratios = c!.map((s, i) => s.cpuUs / b![i]!.cpuUs);
  console.log(`\ncandidate ÷ base, CPU per request, per round: median ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`);
}

try {
  await main();
} finally {
  await cleanup();
}
