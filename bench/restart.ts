/**
 * `bun bench/restart.ts [--workers N] [--connections C] [--restarts R]`: zero-downtime restart under load.
 * C keep-alive connections (50) send requests back to back through the plain
 * proxy and never retry (bench/tls-load.ts, plain HTTP); meanwhile
 * `portcullis restart` runs R times (10), each waiting until the new workers
 * serve and the old ones have drained. Prints every failure kind; the target is 0.
 */
import { parseArgs } from "node:util";
import { startBackend } from "./backend-process";
import { BINARY, configurePlainProxy, ensureBinary, PLAIN_HOST, startPortcullis } from "./portcullis";
import { cleanup, installExitHandlers, spawnChild } from "./processes";
import { pidsListeningOn } from "./process-cpu";
import { startTlsLoad } from "./tls-load";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    workers: { type: "string", default: "2" },
    connections: { type: "string", default: "50" },
    restarts: { type: "string", default: "10" },
  },
});
const WORKERS = Number(values.workers);
const CONNECTIONS = Number(values.connections);
const RESTARTS = Number(values.restarts);

async function restartOnce(dataDir: string): Promise<number> {
  const started = performance.now();
  const child = spawnChild([BINARY, "restart"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PORTCULLIS_DATA_DIR: dataDir }, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`portcullis restart exited ${code}: ${out}${err}`);
  return performance.now() - started;
}

installExitHandlers();
try {
  const stale = await ensureBinary();
  if (stale) console.log(`note: ${stale}`);
  const backend = await startBackend();
  const gateway = await startPortcullis({ PORTCULLIS_WORKERS: String(WORKERS) });
  try {
    for (const deadline = Date.now() + 60_000; (await pidsListeningOn(gateway.httpPort).catch(() => [])).length < WORKERS; await Bun.sleep(100)) {
      if (Date.now() > deadline) throw new Error("the workers did not all start");
    }
    await configurePlainProxy(gateway, `http://127.0.0.1:${backend.port}`);
    for (let ok = 0; ok < 20; ) ok = (await fetch(`http://127.0.0.1:${gateway.httpPort}/`, { headers: { host: PLAIN_HOST, connection: "close" } })).status === 200 ? ok + 1 : 0;

    const load = startTlsLoad({ port: gateway.httpPort, host: PLAIN_HOST, connections: CONNECTIONS });
    await Bun.sleep(1_000);
    const took: number[] = [];
    for (let i = 1; i <= RESTARTS; i++) {
      took.push(await restartOnce(gateway.dataDir));
      console.log(`restart ${i}/${RESTARTS}: ${Math.round(took.at(-1)!)} ms; ${load.counts.ok} requests so far, ${load.counts.failedRequests} failed`);
      await Bun.sleep(500);
    }
    const counts = await load.stop();
    const failures = counts.failedRequests + counts.resets + counts.serverCloses + counts.connectErrors + counts.badStatus;
    console.log(
      `\nPORTCULLIS_WORKERS=${WORKERS}, ${CONNECTIONS} busy keep-alive connections (no retries), ${RESTARTS} restarts (median ${Math.round(took.sort((a, b) => a - b)[took.length >> 1]!)} ms each):\n` +
        `  ${counts.ok} requests answered 200 on ${counts.opened} connections (${counts.politeCloses} ended by Connection: close, then reopened)\n` +
        `  failed requests ${counts.failedRequests}, resets ${counts.resets}, server closes ${counts.serverCloses}, connect errors ${counts.connectErrors}, other statuses ${counts.badStatus}` +
        (counts.errors.length > 0 ? `\n  errors: ${counts.errors.join("; ")}` : ""),
    );
    process.exitCode = failures === 0 ? 0 : 1;
  } finally {
    await gateway.stop();
    await backend.stop();
  }
} finally {
  await cleanup();
}
