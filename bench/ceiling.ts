/**
 * `bun bench/ceiling.ts [--rounds N] [--duration S] [--warmup S] [--connections N]`:
 * how close to nginx a Bun proxy can get on this machine at all, next to
 * Portcullis, in one run. Variants, measured in rotating order round after
 * round against the same backend:
 *
 *   nginx                       the reference of `just bench` (no forwarding headers)
 *   nginx + forwarding headers  the same, sending what Portcullis always sends
 *   … bearer token              the same with (e)'s Authorization header: what its bytes cost a proxy
 *   Bun.serve, minimal          bench/ceiling-proxy.ts MODE=serve
 *   Bun.serve + requestIP       MODE=serve-ip: the minimal proxy that tells the backend the client's address
 *   Bun.listen, minimal         MODE=raw: no Request/Response objects, the address read once per connection
 *   … bearer token              the same with (e)'s Authorization header, which it neither reads nor passes on:
 *                               what receiving the token costs a Bun proxy
 *   Bun.listen + engine (spike) MODE=raw-engine: the same plus what Portcullis does per proxied request, with
 *                               its own code (parser, ids, forwarding headers, backend client, record, metrics,
 *                               request log to a redis-server of its own)
 *   portcullis (a)              dist/portcullis, one proxy target, on its default raw edge
 *   portcullis (e)              the same gateway with edge auth and a JWT on every request
 *   … HTTP_ENGINE=serve         (a) and (e) on a second gateway serving plain HTTP with Bun.serve
 *
 * Ratios are per round (against that round's nginx), then the median over
 * rounds. Besides req/s it reads the CPU time the proxy process spent during
 * each measurement (/proc, all threads; nginx's master and worker) per request
 * served: on 2 cores shared with wrk and the backend, req/s swings by 10–20 %
 * from round to round while CPU µs per request stays put, so it is the figure
 * to compare code changes by. Prints a markdown table; writes nothing.
 */
import { join } from "node:path";
import { parseRoundArgs } from "./args";
import { AUTH_ENV, authTarget, checkAuthEnforced, configureAuthProxy } from "./auth";
import { startNginx } from "./nginx";
import { configurePlainProxy, PLAIN_HOST, startPortcullis } from "./portcullis";
import { cleanup, freePort, OutputTail, spawnChild, stopChild } from "./processes";
import { pidsListeningOn } from "./process-cpu";
import { measureWithCpu, median, runRounds, startRoundBench } from "./rounds";
import { checkHttp, type HttpTarget } from "./scenarios";

const { rounds: ROUNDS, wrk: options } = parseRoundArgs(process.argv.slice(2), 3);

async function startCeilingProxy(mode: string, backendPort: number, extraEnv: Record<string, string> = {}) {
  const child = spawnChild([process.execPath, join(import.meta.dir, "ceiling-proxy.ts")], {
    // The allocator setting Portcullis's workers run with (bench/portcullis.ts): the floors are Bun's, run the same way.
    env: { ...process.env, MODE: mode, BACKEND_PORT: String(backendPort), MIMALLOC_PURGE_DELAY: "-1", ...extraEnv },
    stdout: "pipe",
    stderr: "pipe",
  });
  const output = new OutputTail([child.stdout, child.stderr]);
  const match = await output.waitFor(/^listening (\d+)$/m, child, `ceiling-proxy ${mode}`, 10_000);
  return { port: Number(match[1]), stop: () => stopChild(child) };
}

const range = (xs: readonly number[], digits = 2) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

interface Sample {
  readonly rps: number;
  /** CPU µs the proxy process(es) spent per request served. */
  readonly cpuPerRequest: number;
}

async function measure(target: HttpTarget, pids: readonly number[]): Promise<Sample> {
  const sample = await measureWithCpu(target, options, [pids]);
  if (sample.errors > 0) throw new Error(`${target.name}: ${sample.errors} errors`);
  return { rps: sample.result.requestsPerSecond, cpuPerRequest: sample.cpuPerRequest[0]! };
}

async function main(): Promise<void> {
  const { machine, backend } = await startRoundBench();
  const backendUrl = `http://127.0.0.1:${backend.port}`;
  const nginx = await startNginx(backend.port);
  const minimal = await startCeilingProxy("serve", backend.port);
  const withIp = await startCeilingProxy("serve-ip", backend.port);
  const raw = await startCeilingProxy("raw", backend.port);
  const spikeRedisPort = freePort();
  const spikeRedis = spawnChild(["redis-server", "--port", String(spikeRedisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "ignore", stderr: "ignore" });
  await Bun.sleep(300);
  const rawEngine = await startCeilingProxy("raw-engine", backend.port, { REDIS_URL: `redis://127.0.0.1:${spikeRedisPort}/0` });
  // The same gateway build twice: the default raw edge, and HTTP_ENGINE=serve (Bun.serve for every request).
  const gateway = await startPortcullis({ ...AUTH_ENV, HTTP_ENGINE: "raw" });
  await configurePlainProxy(gateway, backendUrl);
  const tokens = await configureAuthProxy(gateway, backendUrl);
  console.log(await checkAuthEnforced(gateway.httpPort, tokens));
  const served = await startPortcullis({ ...AUTH_ENV, HTTP_ENGINE: "serve" });
  await configurePlainProxy(served, backendUrl);
  const servedTokens = await configureAuthProxy(served, backendUrl);

  const at = (name: string, port: number): HttpTarget => ({ name, description: "", port, host: PLAIN_HOST, path: "/" });
  const reference = at("nginx", nginx.port);
  const forwarding = at("nginx + forwarding headers", nginx.forwardingPort);
  const variants: HttpTarget[] = [
    reference,
    forwarding,
    // What carrying (e)'s 800-byte bearer token costs a proxy that does nothing with it.
    authTarget(nginx.forwardingPort, tokens.valid, undefined, "nginx + forwarding headers, bearer token"),
    at("Bun.serve, minimal", minimal.port),
    at("Bun.serve + requestIP", withIp.port),
    at("Bun.listen, minimal", raw.port),
    { ...at("Bun.listen, minimal, bearer token", raw.port), headers: [`Authorization: Bearer ${tokens.valid}`] },
    at("Bun.listen + engine (spike)", rawEngine.port),
    at("portcullis (a)", gateway.httpPort),
    authTarget(gateway.httpPort, tokens.valid, undefined, "portcullis (e)"),
    at("portcullis (a), HTTP_ENGINE=serve", served.httpPort),
    authTarget(served.httpPort, servedTokens.valid, undefined, "portcullis (e), HTTP_ENGINE=serve"),
  ];
  for (const v of variants) await checkHttp(v);

  const pids = new Map<string, number[]>();
  for (const v of variants) pids.set(v.name, await pidsListeningOn(v.port));
  const samples = await runRounds(variants, ROUNDS, (v) => measure(v, pids.get(v.name)!), (s) => `${Math.round(s.rps)} (${s.cpuPerRequest.toFixed(1)} µs)`);

  const rps = (name: string) => samples.get(name)!.map((s) => s.rps);
  const perRound = (name: string, against: string) => rps(name).map((value, i) => value / rps(against)[i]!);
  console.log(`\n${machine.cpuModel}, ${machine.nproc} CPUs; Bun ${machine.bun}; source ${machine.revision}; load at start ${machine.loadAverage}`);
  console.log(`${ROUNDS} rounds; each: ${options.warmup} s warm-up, ${options.duration} s of wrk -t1 -c${options.connections}\n`);
  const cpu = (name: string) => samples.get(name)!.map((s) => s.cpuPerRequest);
  const cpuPerRound = (name: string, against: string) => cpu(name).map((value, i) => value / cpu(against)[i]!);
  console.log(
    "| variant | req/s, median | ÷ nginx, per round: median (range) | ÷ nginx + forwarding headers: median (range) | proxy CPU µs/request: median (range) | CPU ÷ nginx + forwarding headers: median (range) |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const v of variants) {
    const vsNginx = perRound(v.name, reference.name);
    const vsForwarding = perRound(v.name, forwarding.name);
    const cpuVsForwarding = cpuPerRound(v.name, forwarding.name);
    console.log(
      `| ${v.name} | ${Math.round(median(rps(v.name))).toLocaleString("en")} | ${median(vsNginx).toFixed(2)}× (${range(vsNginx)}) | ` +
        `${median(vsForwarding).toFixed(2)}× (${range(vsForwarding)}) | ${median(cpu(v.name)).toFixed(1)} (${range(cpu(v.name), 1)}) | ` +
        `${median(cpuVsForwarding).toFixed(2)}× (${range(cpuVsForwarding)}) |`,
    );
  }
  // Issue targets: (a) ≤ 1.3× nginx + forwarding headers and (e) ≤ 1.1× (a), in CPU per request.
  for (const suffix of ["", ", HTTP_ENGINE=serve"]) {
    const authVsPlain = cpuPerRound(`portcullis (e)${suffix}`, `portcullis (a)${suffix}`);
    console.log(`\n(e) ÷ (a)${suffix}, CPU per request, per round: median ${median(authVsPlain).toFixed(2)}× (${range(authVsPlain)})`);
  }
  await Promise.all([gateway.stop(), nginx.stop(), minimal.stop(), withIp.stop(), raw.stop(), rawEngine.stop(), served.stop(), backend.stop()]);
  await stopChild(spikeRedis);
}

try {
  await main();
} finally {
  await cleanup();
}
