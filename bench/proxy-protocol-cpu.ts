/**
 * `bun bench/proxy-protocol-cpu.ts [--rounds N] [--duration S] [--warmup S] [--connections N]`
 * (or `just bench-proxy-protocol`): the PROXY protocol path's cost in the
 * gateway's CPU per request. The scenarios of bench/proxy-protocol.ts — nginx's
 * stream module passing wrk's connections to HTTP_PORT as they are (c), and
 * to PROXY_PROTOCOL_PORT with a header (d) — measured in alternating rounds
 * on one gateway, reading the gateway's CPU time (/proc) around each run:
 * nginx is on both paths and its CPU is not counted, so (d) ÷ (c) is what the
 * header costs the gateway. Prints each round, the medians and the median of
 * the per-round ratios.
 */
import { parseRoundArgs } from "./args";
import { startNginxStream } from "./nginx-stream";
import { configurePlainProxy, PLAIN_HOST, startPortcullis } from "./portcullis";
import { cleanup } from "./processes";
import { pidsListeningOn } from "./process-cpu";
import { measureWithCpu, median, runRounds, startRoundBench } from "./rounds";
import type { HttpTarget } from "./scenarios";

const { rounds: ROUNDS, wrk: options } = parseRoundArgs(process.argv.slice(2), 10);

const PLAIN = "(c) HTTP_PORT via nginx stream";
const WITH_HEADER = "(d) PROXY_PROTOCOL_PORT via nginx stream";

async function main(): Promise<void> {
  const { machine, backend } = await startRoundBench();
  const gateway = await startPortcullis();
  await configurePlainProxy(gateway, `http://127.0.0.1:${backend.port}`);
  const pid = (await pidsListeningOn(gateway.httpPort))[0]!;
  const stream = await startNginxStream(
    [
      { upstreamPort: gateway.httpPort, proxyProtocol: false },
      { upstreamPort: gateway.proxyProtocolPort, proxyProtocol: true },
    ],
    { host: PLAIN_HOST, path: "/" },
  );
  const [plainPort, headerPort] = stream.ports as [number, number];
  const variants: HttpTarget[] = [
    { name: PLAIN, description: "", port: plainPort, host: PLAIN_HOST, path: "/" },
    { name: WITH_HEADER, description: "", port: headerPort, host: PLAIN_HOST, path: "/" },
  ];
  const samples = await runRounds(
    variants,
    ROUNDS,
    async (variant) => {
      const sample = await measureWithCpu(variant, options, [[pid]]);
      if (sample.errors > 0) throw new Error(`${variant.name}: ${sample.errors} errors`);
      return { rps: sample.result.requestsPerSecond, cpuUs: sample.cpuPerRequest[0]! };
    },
    (s) => `${Math.round(s.rps)} (${s.cpuUs.toFixed(1)} µs)`,
  );

  console.log(`\n${machine.cpuModel}, ${machine.nproc} CPUs; Bun ${machine.bun}; source ${machine.revision}; ${ROUNDS} rounds of ${options.duration} s (wrk -t1 -c${options.connections})\n`);
  console.log("| path | req/s, median | gateway CPU µs/request, median (min–max) |");
  console.log("| --- | ---: | ---: |");
  for (const variant of variants) {
    const runs = samples.get(variant.name)!;
    const cpu = runs.map((s) => s.cpuUs);
    console.log(`| ${variant.name} | ${Math.round(median(runs.map((s) => s.rps))).toLocaleString("en-US")} | ${median(cpu).toFixed(2)} (${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)}) |`);
  }
  const plain = samples.get(PLAIN)!;
  const ratios = samples.get(WITH_HEADER)!.map((s, i) => s.cpuUs / plain[i]!.cpuUs);
  console.log(`\n(d) ÷ (c), gateway CPU per request, per round: median ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`);
  await Promise.all([stream.stop(), gateway.stop(), backend.stop()]);
}

try {
  await main();
} finally {
  await cleanup();
}
