/**
 * `just bench`: direct vs nginx vs Portcullis on loopback, in one run, so every
 * number can be read against nginx's from the same minute on the same cores.
 * Prints a table and rewrites the generated section of docs/benchmarks.md.
 */
import { join } from "node:path";
import { parseBenchArgs, USAGE, type BenchOptions } from "./args";
import { AUTH_ENV, AUTH_NAME, authDescription, benchAuth, PLAIN_DESCRIPTION, PLAIN_NAME } from "./auth";
import { startBackend, type RunningBackend } from "./backend-process";
import { writeDocsSection } from "./docs-writer";
import { machineInfo } from "./machine";
import { startNginx } from "./nginx";
import {
  configurePlainProxy,
  configureRoutedProxy,
  ensureBinary,
  PLAIN_HOST,
  ROOT,
  ROUTES_HOST,
  ROUTES_PATH,
  startPortcullis,
} from "./portcullis";
import { cleanup, installExitHandlers } from "./processes";
import { markdownSection, terminalReport, type HttpScenario, type WsScenario } from "./report";
import { benchProxyProtocol } from "./proxy-protocol";
import { runStreamRss } from "./run-stream-rss";
import { benchRequestLog, requestLogTable } from "./request-log";
import { measureHttp, measureWs, shellJoin, WS_WARMUP_MESSAGES, type HttpTarget } from "./scenarios";
import { benchWorkers, workersTable } from "./workers";

const DOCS = join(ROOT, "docs/benchmarks.md");
/**
 * Alternating rounds of the request-log comparison (each: both gateways once),
 * shorter than the main scenarios': the difference it reports is about 1 µs of
 * CPU per request while single rounds scatter by ±3 µs on a shared machine, so
 * more rounds say more than longer ones (9 rounds of 1 + 5 s per gateway take
 * about 110 s, against about 70 s for 3 of the main scenarios' 2 + 10 s).
 */
const REQUEST_LOG_ROUNDS = 9;
const REQUEST_LOG_ROUND = { duration: 5, warmup: 1 } as const;
/** Alternating rounds of the workers comparison (each: every worker count once). */
const WORKERS_ROUNDS = 3;

interface Collected {
  readonly http: HttpScenario[];
  readonly ws: WsScenario[];
  readonly notes: string[];
}

function requireTools(): void {
  const missing = ["wrk", "nginx", "redis-server"].filter((tool) => !Bun.which(tool));
  if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}: apt-get install -y ${missing.join(" ")}`);
}

async function benchDirect(backend: RunningBackend, options: BenchOptions, out: Collected): Promise<void> {
  console.log("direct to the backend");
  const target: HttpTarget = { name: "direct", description: "wrk → backend, no proxy.", port: backend.port, host: PLAIN_HOST, path: "/" };
  out.http.push(await measureHttp(target, options));
  out.ws.push(...(await measureWs("direct", `ws://127.0.0.1:${backend.port}/ws`, PLAIN_HOST, options)));
}

async function benchNginx(backend: RunningBackend, options: BenchOptions, out: Collected): Promise<void> {
  console.log("nginx");
  const description = "nginx, 1 worker, upstream keepalive 64, access_log off, HTTP/1.1 upstream.";
  let nginx;
  try {
    nginx = await startNginx(backend.port);
  } catch (err) {
    const error = (err as Error).message;
    console.error(error);
    out.http.push({ name: "nginx", description, command: "", error: error.split("\n")[0] });
    out.ws.push({ name: "nginx", connections: 1, error: "nginx did not start" }, { name: "nginx", connections: options.wsConnections, error: "nginx did not start" });
    return;
  }
  try {
    out.http.push(await measureHttp({ name: "nginx", description, port: nginx.port, host: PLAIN_HOST, path: "/" }, options));
    out.http.push(await measureHttp({ name: NGINX_FORWARDING, description: NGINX_FORWARDING_DESCRIPTION, port: nginx.forwardingPort, host: PLAIN_HOST, path: "/" }, options));
    out.ws.push(...(await measureWs("nginx", `ws://127.0.0.1:${nginx.port}/ws`, PLAIN_HOST, options)));
  } finally {
    await nginx.stop();
  }
}

const NGINX_FORWARDING = "nginx + forwarding headers";
const NGINX_FORWARDING_DESCRIPTION =
  "the same nginx, also setting Host, X-Forwarded-For, X-Real-IP, X-Forwarded-Proto and X-Forwarded-Host, as Portcullis always does: the like-for-like reference.";

async function benchPortcullis(backend: RunningBackend, options: BenchOptions, out: Collected): Promise<void> {
  console.log("portcullis");
  const backendUrl = `http://127.0.0.1:${backend.port}`;
  const routed = "portcullis (b) routes+headers";
  const routedDescription = `proxy ${ROUTES_HOST} with a custom request and response header and 3 proxy-scoped routes (/api/, /static/, /admin/); wrk requests ${ROUTES_PATH}, which matches /api/.`;
  let gateway;
  try {
    const stale = await ensureBinary();
    if (stale) out.notes.push(stale);
    gateway = await startPortcullis({ ...AUTH_ENV });
    await configurePlainProxy(gateway, backendUrl);
    await configureRoutedProxy(gateway, backendUrl);
  } catch (err) {
    // No numbers rather than made-up ones: the rows say why.
    const error = (err as Error).message;
    out.http.push({ name: PLAIN_NAME, description: PLAIN_DESCRIPTION, command: "", error: error.split("\n")[0] });
    out.http.push({ name: routed, description: routedDescription, command: "", error: error.split("\n")[0] });
    out.http.push({ name: AUTH_NAME, description: authDescription(), command: "", error: error.split("\n")[0] });
    out.ws.push({ name: "portcullis", connections: 1, error: "Portcullis not set up" }, { name: "portcullis", connections: options.wsConnections, error: "Portcullis not set up" });
    console.error(`  could not set up Portcullis: ${error}`);
    await gateway?.stop();
    return;
  }
  try {
    out.notes.push(await describeRoutedHeaders(gateway.httpPort));
    // (a) and (e), the same gateway without and with auth, in alternating rounds.
    const nginxRps = out.http.find((s) => s.name === "nginx")?.result?.requestsPerSecond;
    const nginxForwardingRps = out.http.find((s) => s.name === NGINX_FORWARDING)?.result?.requestsPerSecond;
    const auth = await benchAuth(gateway, backendUrl, options, nginxRps, nginxForwardingRps);
    out.http.push(auth.plain);
    out.http.push(await measureHttp({ name: routed, description: routedDescription, port: gateway.httpPort, host: ROUTES_HOST, path: ROUTES_PATH }, options));
    out.ws.push(...(await measureWs("portcullis", `ws://127.0.0.1:${gateway.httpPort}/ws`, PLAIN_HOST, options)));
    const proxyProtocol = await benchProxyProtocol(gateway, options);
    out.http.push(...proxyProtocol.http);
    out.notes.push(...proxyProtocol.notes);
    out.http.push(auth.auth);
    out.notes.push(...auth.notes);
    const warnings = gateway.output().trim();
    if (warnings) out.notes.push(`Portcullis printed (LOG_LEVEL=WARNING): ${warnings.split("\n").slice(-5).join(" / ")}`);
  } finally {
    await gateway.stop();
  }
}

/** Whether scenario (b) really does header work: the backend reports what it received. */
async function describeRoutedHeaders(httpPort: number): Promise<string> {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/api/__headers`, { headers: { Host: ROUTES_HOST }, signal: AbortSignal.timeout(5_000) });
    const seen = (await response.json()) as Record<string, string>;
    const requestHeader = seen["x-bench"] === "1" ? "arrived at the backend" : "did NOT arrive at the backend";
    const responseHeader = response.headers.get("x-bench-response") === "1" ? "was on the response" : "was NOT on the response";
    return `Scenario (b) check: X-Bench ${requestHeader}; X-Bench-Response ${responseHeader}.`;
  } catch (err) {
    return `Scenario (b) check failed: ${(err as Error).message}`;
  }
}

function describeSettings(o: BenchOptions): string {
  const warmup = o.warmup > 0 ? `${o.warmup} s warm-up, then ` : "no warm-up, ";
  return (
    `${warmup}${o.duration} s of \`wrk -t${o.threads} -c${o.connections}\`; WebSocket: ${o.wsMessages} round trips of ${o.wsBytes} bytes on 1 connection, ` +
    `${o.wsConcurrentMessages} on each of ${o.wsConnections} connections, each run after up to ${WS_WARMUP_MESSAGES} unrecorded ones per connection`
  );
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseBenchArgs(argv);
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  requireTools();
  const commandLine = shellJoin(["bun", "bench/run.ts", ...argv]);
  const date = new Date();
  const machine = await machineInfo(ROOT);
  const out: Collected = { http: [], ws: [], notes: [] };
  let requestLog = "not run";
  let workers = "not run (`--workers N` measures PORTCULLIS_WORKERS=1..N)";
  const backend = await startBackend();
  try {
    // One system at a time, each stopped before the next: an idle proxy still takes CPU on 2 cores.
    await benchDirect(backend, options, out);
    await benchNginx(backend, options, out);
    await benchPortcullis(backend, options, out);
    console.log("portcullis with and without the request log");
    try {
      requestLog = requestLogTable(await benchRequestLog(backend, REQUEST_LOG_ROUNDS, { ...options, ...REQUEST_LOG_ROUND }));
    } catch (err) {
      requestLog = `failed: ${(err as Error).message.split("\n")[0]}`;
      out.notes.push(`Request log comparison ${requestLog}`);
    }
    if (options.workers > 0) {
      console.log(`portcullis with 1..${options.workers} workers`);
      try {
        const wrk = { duration: options.duration, warmup: options.warmup, connections: options.connections, threads: options.threads };
        workers = workersTable(await benchWorkers(`http://127.0.0.1:${backend.port}`, options.workers, WORKERS_ROUNDS, wrk), machine.nproc);
      } catch (err) {
        workers = `failed: ${(err as Error).message.split("\n")[0]}`;
        out.notes.push(`Workers comparison ${workers}`);
      }
    }
  } finally {
    await backend.stop();
  }
  let streamRss = { text: "skipped (--no-stream-rss)", ok: true };
  if (options.streamRss) {
    console.log("bench/stream-rss.ts");
    streamRss = await runStreamRss(ROOT);
  }

  const report = { commandLine, date, machine, ...out, streamRss: streamRss.text, requestLog, workers, settings: describeSettings(options) };
  console.log(`\n${terminalReport(report)}`);
  if (options.writeDocs) {
    await writeDocsSection(DOCS, markdownSection(report));
    console.log(`\nwrote ${DOCS}`);
  }
  const failed = out.http.some((s) => !s.result) || out.ws.some((s) => !s.result) || !streamRss.ok;
  return failed ? 1 : 0;
}

installExitHandlers();
let code = 1;
try {
  code = await main(process.argv.slice(2));
} catch (err) {
  console.error(`bench: ${(err as Error).message}`);
} finally {
  await cleanup();
}
process.exit(code);
