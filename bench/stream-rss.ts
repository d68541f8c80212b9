/**
 * Streams 1 GiB up and 1 GiB down through the forwarding engine and checks that
 * the gateway's memory stays flat: bodies must flow with backpressure, never be
 * buffered whole.
 *
 *   bun bench/stream-rss.ts          → prints RSS growth per direction; exits 1 if ≥ 64 MiB
 *
 * The gateway (a Bun.serve calling engine.forward, as the dispatcher does) runs
 * in a child process of its own, so the RSS sampled from /proc/<pid>/status is
 * the engine's alone; the backend and the client run here. All on 127.0.0.1.
 */
import { createForwardingEngine, forwardTarget } from "../src/proxies";

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
const LIMIT_BYTES = 64 * MiB;
const CHUNK = 256 * 1024;
const TOTAL = Number(process.env.STREAM_RSS_BYTES ?? GiB);
const DEADLINE_MS = 5 * 60_000;

if (process.argv[2] === "--gateway") runGateway();
else await main();

/** Child mode: the gateway under test. */
function runGateway(): void {
  const engine = createForwardingEngine({ connectTimeoutMs: 30_000, requestTimeoutMs: 120_000 });
  const target = forwardTarget(`http://127.0.0.1:${process.env.BACKEND_PORT}`);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 120,
    // Bun.serve refuses bodies over 128 MiB by default (413); a gateway listener must lift that too.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch: (request) => engine.forward(request, target, { clientIp: "127.0.0.1", proto: "http", trustedPeer: false }),
  });
  console.log(`listening ${server.port}`);
  process.on("SIGTERM", () => process.exit(0));
}

/** A generated body of `total` bytes, produced only as fast as it is read. */
function generated(total: number): ReadableStream<Uint8Array> {
  const block = new Uint8Array(CHUNK).map((_, i) => (i * 31 + 7) & 0xff);
  let sent = 0;
  return new ReadableStream(
    {
      pull(controller) {
        if (sent >= total) return controller.close();
        const size = Math.min(CHUNK, total - sent);
        sent += size;
        controller.enqueue(size === CHUNK ? block.slice() : block.slice(0, size));
      },
    },
    { highWaterMark: 0 },
  );
}

async function count(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
}

function rssBytes(pid: number): number {
  const status = require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8") as string;
  const kib = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kib * 1024;
}

async function main(): Promise<void> {
  const backend = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 120,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    async fetch(request) {
      if (request.method === "PUT") return Response.json({ received: await count(request.body!) });
      return new Response(generated(TOTAL), { headers: { "content-type": "application/octet-stream", "content-length": String(TOTAL) } });
    },
  });
  const child = Bun.spawn([process.execPath, import.meta.path, "--gateway"], {
    env: { ...process.env, BACKEND_PORT: String(backend.port) },
    stdout: "pipe",
    stderr: "inherit",
  });
  const killer = setTimeout(() => {
    console.error(`stream-rss: no result within ${DEADLINE_MS / 1000} s`);
    child.kill("SIGKILL");
    process.exit(1);
  }, DEADLINE_MS);

  let failed = false;
  try {
    const port = await gatewayPort(child.stdout);
    const url = `http://127.0.0.1:${port}`;
    // Warm up (JIT, pools) before the baseline, so it is the engine at rest rather than a cold process.
    for (let i = 0; i < 20; i++) await (await fetch(url, { method: "PUT", body: "warm-up" })).arrayBuffer();
    await Bun.sleep(200);
    const baseline = rssBytes(child.pid);
    console.log(`gateway pid ${child.pid}, RSS at rest ${(baseline / MiB).toFixed(1)} MiB; moving ${(TOTAL / MiB).toFixed(0)} MiB each way`);

    for (const direction of ["upload", "download"] as const) {
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(child.pid))), 50);
      const started = performance.now();
      let moved: number;
      if (direction === "upload") {
        const response = await fetch(url + "/upload", { method: "PUT", body: generated(TOTAL), duplex: "half" } as RequestInit);
        const text = await response.text();
        if (response.status !== 200) throw new Error(`upload answered ${response.status}: ${text}`);
        moved = (JSON.parse(text) as { received: number }).received;
      } else {
        moved = await count((await fetch(url + "/download")).body!);
      }
      clearInterval(sampler);
      peak = Math.max(peak, rssBytes(child.pid));
      const seconds = (performance.now() - started) / 1000;
      const growth = peak - baseline;
      const ok = moved === TOTAL && growth < LIMIT_BYTES;
      failed ||= !ok;
      console.log(
        `${direction.padEnd(8)} ${(moved / MiB).toFixed(0)} MiB in ${seconds.toFixed(1)} s (${(moved / MiB / seconds).toFixed(0)} MiB/s), ` +
          `peak RSS ${(peak / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB (limit ${LIMIT_BYTES / MiB}) ${ok ? "ok" : "FAIL"}` +
          (moved === TOTAL ? "" : ` — expected ${TOTAL} bytes`),
      );
    }
  } catch (error) {
    failed = true;
    console.error(`stream-rss: ${(error as Error).message}`);
  } finally {
    clearTimeout(killer);
    child.kill("SIGTERM");
    await child.exited;
    await backend.stop(true);
  }
  process.exit(failed ? 1 : 0);
}

async function gatewayPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stdout.getReader();
  let text = "";
  for (let i = 0; i < 100; i++) {
    const match = /listening (\d+)/.exec(text);
    if (match) {
      reader.releaseLock();
      return Number(match[1]);
    }
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  throw new Error(`the gateway did not start: ${text}`);
}
