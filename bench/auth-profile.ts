/**
 * `bun bench/auth-profile.ts [--rounds N] [--duration S] [--warmup S] [--connections N] [--jwt-algorithm RS256|ES256]`:
 * where the time of authenticated proxying goes. One gateway, one backend,
 * these variants measured in rotating order, round after round:
 *
 *   no auth                 scenario (a): PLAIN_HOST, no Authorization header
 *   no auth + bearer header (a) with the same `Authorization: Bearer <token>`
 *                           header: a bigger request, no check (the header
 *                           goes on to the backend)
 *   auth                    scenario (e): checks, X-Auth-* headers to the backend
 *   auth, no identity hdrs  (e) with auth_pass_headers off
 *
 * Besides req/s, it reads the CPU time the gateway and the backend processes
 * spent during each measurement (/proc/PID/stat, all threads) and divides it
 * by the requests served: CPU µs per request is what auth adds, and unlike
 * req/s it hardly moves when other work on the 2 shared cores slows a run.
 * Ratios are per round (each variant against "no auth" of the same round),
 * then the median over rounds. Prints a table; writes nothing.
 */
import { AUTH_ENV, AUTH_VARIANT, authTarget, checkAuthEnforced, configureAuthProxy, type AuthVariant } from "./auth";
import { parseRoundArgs } from "./args";
import { configurePlainProxy, PLAIN_HOST, startPortcullis } from "./portcullis";
import { cleanup } from "./processes";
import { checkHttp, type HttpTarget } from "./scenarios";
import { pidsListeningOn } from "./process-cpu";
import { measureWithCpu, median, runRounds, startRoundBench } from "./rounds";

interface Sample {
  readonly rps: number;
  readonly requests: number;
  readonly gatewayUsPerRequest: number;
  readonly backendUsPerRequest: number;
  readonly errors: number;
}

const { rounds: ROUNDS, wrk: options, extra } = parseRoundArgs(process.argv.slice(2), 5, { "jwt-algorithm": "RS256" });

async function measure(target: HttpTarget, pids: { gateway: number; backend: number }): Promise<Sample> {
  const sample = await measureWithCpu(target, options, [[pids.gateway], [pids.backend]]);
  return {
    rps: sample.result.requestsPerSecond,
    requests: sample.result.requests,
    gatewayUsPerRequest: sample.cpuPerRequest[0]!,
    backendUsPerRequest: sample.cpuPerRequest[1]!,
    errors: sample.errors,
  };
}

async function main(): Promise<void> {
  const { machine, backend } = await startRoundBench();
  const backendUrl = `http://127.0.0.1:${backend.port}`;
  const gateway = await startPortcullis({ ...AUTH_ENV, OAUTH_JWT_ALGORITHM: extra["jwt-algorithm"]! });
  await configurePlainProxy(gateway, backendUrl);
  const bare: AuthVariant = { host: "bench-auth-bare.local", passHeaders: false };
  const tokens = await configureAuthProxy(gateway, backendUrl, AUTH_VARIANT);
  const bareTokens = await configureAuthProxy(gateway, backendUrl, bare);
  console.log(await checkAuthEnforced(gateway.httpPort, tokens, AUTH_VARIANT));
  console.log(await checkAuthEnforced(gateway.httpPort, bareTokens, bare));
  const pids = { gateway: (await pidsListeningOn(gateway.httpPort))[0]!, backend: (await pidsListeningOn(backend.port))[0]! };

  const plain: HttpTarget = { name: "no auth", description: "", port: gateway.httpPort, host: PLAIN_HOST, path: "/" };
  const variants: HttpTarget[] = [
    plain,
    { ...plain, name: "no auth + bearer header", headers: [`Authorization: Bearer ${tokens.valid}`] },
    authTarget(gateway.httpPort, tokens.valid, AUTH_VARIANT, "auth"),
    authTarget(gateway.httpPort, bareTokens.valid, bare, "auth, no identity hdrs"),
  ];
  for (const v of variants) await checkHttp(v);

  const samples = await runRounds(variants, ROUNDS, (v) => measure(v, pids), (s) => `${Math.round(s.rps)} (${s.gatewayUsPerRequest.toFixed(1)} µs)`);

  const base = samples.get(plain.name)!;
  console.log(`\n${machine.cpuModel}, ${machine.nproc} CPUs; Bun ${machine.bun}; source ${machine.revision}; load at start ${machine.loadAverage}; tokens ${extra["jwt-algorithm"]}`);
  console.log(`${ROUNDS} rounds; each: ${options.warmup} s warm-up, ${options.duration} s of wrk -t1 -c${options.connections}\n`);
  console.log("| variant | req/s median (min–max) | ÷ no auth, per round: median (min–max) | gateway CPU µs/req: median (min–max) | ÷ no auth, per round: median | backend CPU µs/req | errors |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const v of variants) {
    const runs = samples.get(v.name)!;
    const ratios = runs.map((s, i) => s.rps / base[i]!.rps);
    const cpuRatios = runs.map((s, i) => s.gatewayUsPerRequest / base[i]!.gatewayUsPerRequest);
    const g = median(runs.map((s) => s.gatewayUsPerRequest));
    const rpsText = `${Math.round(median(runs.map((s) => s.rps)))} (${Math.round(Math.min(...runs.map((s) => s.rps)))}–${Math.round(Math.max(...runs.map((s) => s.rps)))})`;
    const ratioText = `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
    const gText = `${g.toFixed(2)} (${Math.min(...runs.map((s) => s.gatewayUsPerRequest)).toFixed(2)}–${Math.max(...runs.map((s) => s.gatewayUsPerRequest)).toFixed(2)})`;
    console.log(
      `| ${v.name} | ${rpsText} | ${ratioText} | ${gText} | ${median(cpuRatios).toFixed(2)}× | ${median(runs.map((s) => s.backendUsPerRequest)).toFixed(2)} | ${runs.reduce((n, s) => n + s.errors, 0)} |`,
    );
  }
  await Promise.all([gateway.stop(), backend.stop()]);
}

try {
  await main();
} finally {
  await cleanup();
}
