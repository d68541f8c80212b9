/**
 * One measured system (direct, nginx, Portcullis): check it answers correctly,
 * then warm up and measure with wrk, then the WebSocket echo runs.
 */
import type { BenchOptions } from "./args";
import type { HttpScenario, WsScenario } from "./report";
import { runWrk, wrkArgs, type WrkOptions } from "./wrk";
import { runWsEcho } from "./ws-echo";

export interface HttpTarget {
  readonly name: string;
  readonly description: string;
  readonly port: number;
  readonly host: string;
  readonly path: string;
  /** More request headers ("Name: value"), e.g. a bearer token; shown redacted in the printed command. */
  readonly headers?: readonly string[];
  /** A wrk Lua script (wrk.ts postScript: a POST with a body); checkHttp's GET does not apply to such a target. */
  readonly script?: string;
}

/** Shell-quotes an argv for display, so the printed wrk command can be pasted. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(" ");
}

/** A header line as printed in a report: a credential's value is replaced by a placeholder. */
export function shownHeader(line: string): string {
  return /^authorization:\s*bearer\s/i.test(line) ? line.replace(/^(authorization:\s*bearer\s+).*$/i, "$1<token>") : line;
}

/** One request before any load: a misrouted scenario would otherwise be measured as fast 404s. */
export async function checkHttp(target: HttpTarget): Promise<void> {
  const url = `http://127.0.0.1:${target.port}${target.path}`;
  const headers = new Headers({ Host: target.host });
  for (const line of target.headers ?? []) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  const body = await response.text();
  if (response.status !== 200 || body !== "hello") {
    throw new Error(`GET ${url} (Host ${target.host}) answered ${response.status} "${body.slice(0, 200)}", expected 200 "hello"`);
  }
}

export async function measureHttp(target: HttpTarget, options: BenchOptions): Promise<HttpScenario> {
  const wrk: WrkOptions = {
    url: `http://127.0.0.1:${target.port}${target.path}`,
    seconds: options.duration,
    connections: options.connections,
    threads: options.threads,
    headers: [`Host: ${target.host}`, ...(target.headers ?? [])],
  };
  const command = shellJoin(wrkArgs({ ...wrk, headers: wrk.headers?.map(shownHeader) }));
  try {
    await checkHttp(target);
    if (options.warmup > 0) await runWrk({ ...wrk, seconds: options.warmup });
    console.log(`  ${target.name}: ${command}`);
    const result = await runWrk(wrk);
    console.log(`    ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.latencyMs.p99} ms`);
    return { name: target.name, description: target.description, command, result };
  } catch (err) {
    console.error(`  ${target.name}: failed: ${(err as Error).message}`);
    return { name: target.name, description: target.description, command, error: (err as Error).message.split("\n")[0] };
  }
}

/** Unrecorded round trips per connection before each WebSocket run (JIT, buffers). */
export const WS_WARMUP_MESSAGES = 2_000;

/** The single-connection run, then the concurrent one, each after a short unrecorded warm-up. */
export async function measureWs(name: string, url: string, host: string, options: BenchOptions): Promise<WsScenario[]> {
  const runs = [
    { connections: 1, messagesPerConnection: options.wsMessages },
    { connections: options.wsConnections, messagesPerConnection: options.wsConcurrentMessages },
  ];
  const results: WsScenario[] = [];
  for (const run of runs) {
    const base = { url, host, connections: run.connections, payloadBytes: options.wsBytes, timeoutMs: 120_000 };
    try {
      await runWsEcho({ ...base, messagesPerConnection: Math.min(run.messagesPerConnection, WS_WARMUP_MESSAGES) });
      const result = await runWsEcho({ ...base, messagesPerConnection: run.messagesPerConnection });
      console.log(`  ${name} WS ×${run.connections}: ${Math.round(result.messagesPerSecond)} msgs/s, p99 ${result.rttMs.p99.toFixed(3)} ms`);
      results.push({ name, connections: run.connections, result });
    } catch (err) {
      console.error(`  ${name} WS ×${run.connections}: failed: ${(err as Error).message}`);
      results.push({ name, connections: run.connections, error: (err as Error).message.split("\n")[0] });
    }
  }
  return results;
}
