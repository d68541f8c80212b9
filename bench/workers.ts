/**
 * Scaling with PORTCULLIS_WORKERS: the plain proxy, scenario (a), with 1, 2, …
 * N worker processes sharing the port, in alternating rounds of one run; req/s
 * and the CPU µs per request of all the workers together (every process
 * listening on the port). `just bench --workers N` adds this table to the
 * report; `bun bench/workers.ts --workers N [--rounds R --duration S]` prints it alone.
 *
 * wrk runs on the same cores: on a 2-core machine two workers compete with wrk
 * and with each other, so req/s here understates what N workers do on N free
 * cores (docs/benchmarks.md "Workers"). CPU per request is the stable figure.
 */
import { parseRoundArgs, type RoundOptions } from "./args";
import { startBackend } from "./backend-process";
import { machineInfo } from "./machine";
import { configurePlainProxy, ensureBinary, PLAIN_HOST, ROOT, startPortcullis, type RunningPortcullis } from "./portcullis";
import { cleanup, installExitHandlers } from "./processes";
import { pidsListeningOn } from "./process-cpu";
import { measureWithCpu, median, runRounds } from "./rounds";
import { checkHttp, type HttpTarget } from "./scenarios";

export interface WorkersRow {
  readonly workers: number;
  readonly rps: number;
  readonly cpuPerRequest: number;
}

async function startWithWorkers(workers: number, backendUrl: string): Promise<{ gateway: RunningPortcullis; pids: number[] }> {
  const gateway = await startPortcullis({ PORTCULLIS_WORKERS: String(workers) });
  // /health answers as soon as one worker serves: wait for every worker's listener.
  const deadline = Date.now() + 60_000;
  let pids: number[] = [];
  while ((pids = await pidsListeningOn(gateway.httpPort).catch(() => [])).length < workers) {
    if (Date.now() > deadline) throw new Error(`only ${pids.length} of ${workers} workers listen on ${gateway.httpPort}`);
    await Bun.sleep(100);
  }
  await configurePlainProxy(gateway, backendUrl);
  return { gateway, pids };
}

/** Each count of workers 1..maxWorkers measured once per round; the medians. */
export async function benchWorkers(backendUrl: string, maxWorkers: number, rounds: number, wrk: RoundOptions["wrk"]): Promise<WorkersRow[]> {
  const started: { name: string; workers: number; target: HttpTarget; pids: number[]; gateway: RunningPortcullis }[] = [];
  try {
    for (let workers = 1; workers <= maxWorkers; workers++) {
      const { gateway, pids } = await startWithWorkers(workers, backendUrl);
      const name = `portcullis (a), ${workers} worker${workers === 1 ? "" : "s"}`;
      const target: HttpTarget = { name, description: "", port: gateway.httpPort, host: PLAIN_HOST, path: "/" };
      started.push({ name, workers, target, pids, gateway });
    }
    // Each settles its proxy before any is measured; the idle ones cost next to nothing.
    for (const s of started) await checkHttp(s.target);
    const samples = await runRounds(
      started,
      rounds,
      async (s) => {
        const sample = await measureWithCpu(s.target, wrk, [s.pids]);
        if (sample.errors > 0) throw new Error(`${s.name}: ${sample.errors} errors`);
        return { rps: sample.result.requestsPerSecond, cpu: sample.cpuPerRequest[0]! };
      },
      (s) => `${Math.round(s.rps)} req/s (${s.cpu.toFixed(1)} µs)`,
    );
    return started.map((s) => ({
      workers: s.workers,
      rps: median(samples.get(s.name)!.map((x) => x.rps)),
      cpuPerRequest: median(samples.get(s.name)!.map((x) => x.cpu)),
    }));
  } finally {
    await Promise.all(started.map((s) => s.gateway.stop()));
  }
}

export function workersTable(rows: readonly WorkersRow[], nproc: number | string): string {
  const one = rows[0]?.rps ?? 0;
  return [
    "| PORTCULLIS_WORKERS | req/s, median | ÷ 1 worker | CPU µs/request (all workers), median |",
    "| ---: | ---: | ---: | ---: |",
    ...rows.map((r) => `| ${r.workers} | ${Math.round(r.rps).toLocaleString("en")} | ${(r.rps / one).toFixed(2)}× | ${r.cpuPerRequest.toFixed(1)} |`),
    "",
    `${nproc} CPUs shared by wrk, the backend and the workers: req/s beyond one worker is capped by the cores left over, not by Portcullis.`,
  ].join("\n");
}

if (import.meta.main) {
  installExitHandlers();
  const { rounds, wrk, extra } = parseRoundArgs(process.argv.slice(2), 3, { workers: "2" });
  const maxWorkers = Number(extra.workers);
  try {
    const stale = await ensureBinary();
    if (stale) console.log(`note: ${stale}`);
    const machine = await machineInfo(ROOT);
    const backend = await startBackend();
    try {
      const rows = await benchWorkers(`http://127.0.0.1:${backend.port}`, maxWorkers, rounds, wrk);
      console.log(`\n${machine.cpuModel}, ${machine.nproc} CPUs; Bun ${machine.bun}; source ${machine.revision}; load at start ${machine.loadAverage}`);
      console.log(`${rounds} rounds; each: ${wrk.warmup} s warm-up, ${wrk.duration} s of wrk -t${wrk.threads} -c${wrk.connections}\n`);
      console.log(workersTable(rows, machine.nproc));
    } finally {
      await backend.stop();
    }
  } finally {
    await cleanup();
  }
}
