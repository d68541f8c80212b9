/**
 * `bun bench/request-log-cost.ts [--records N] [--batch N] [--rounds N] [--mode off|hot|on]`
 * (or `just bench-request-log-cost`): the request log's own cost per record
 * inside one process, without HTTP, so the gateway's share splits into the
 * request path and the flush. Records are made the way the edge makes them
 * (RecordDraft for a proxied GET /) and go to a real redis-server:
 *
 *   off   drafts finished with no request log (what REQUEST_LOG=false does)
 *   hot   also handed to the writer (the request path: a queue push); never written
 *   on    also written to Redis every --batch records (the writer's flush)
 *
 * Prints, best of --rounds, CPU µs per record of the drafting loop and of the
 * flushes, and redis-server's CPU µs per record. One --mode at a time also
 * runs under `valgrind --tool=callgrind` (instructions do not move with other
 * work on a shared machine), but JavaScript runs in lower JIT tiers there: it
 * compares native work (JSON.stringify, Bun's Redis client) fairly, not
 * JavaScript against native.
 */
import { parseArgs } from "node:util";
import { RequestLogWriter } from "../src/consumers/request-log/writer";
import { RecordDraft, type RecordSinks } from "../src/dispatcher/recording";
import { newRequestId } from "../src/proxies/request-id";
import { connectNativeRedis } from "../src/storage/native-redis";
import { totalCpuMicros } from "./process-cpu";
import { cleanup, freePort, installExitHandlers, spawnChild, stopChild } from "./processes";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    records: { type: "string", default: "200000" },
    batch: { type: "string", default: "1024" },
    /** Default: all three, in alternating rounds. */
    mode: { type: "string", default: "all" },
    rounds: { type: "string", default: "3" },
  },
});
const total = Number(values.records);
const batchSize = Number(values.batch);
const modes = values.mode === "all" ? ["off", "hot", "on"] : [values.mode!];
if (!modes.every((m) => ["off", "hot", "on"].includes(m)) || !(total >= 0) || !(batchSize >= 1) || !(Number(values.rounds) >= 1)) {
  console.error("usage: bun bench/request-log-cost.ts [--records N ≥ 0] [--batch N ≥ 1] [--rounds N ≥ 1] [--mode off|hot|on]");
  process.exit(2);
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

interface Cost {
  readonly draftUs: number;
  readonly flushUs: number;
  /** redis-server's CPU over the run. */
  readonly redisUs: number;
}

async function run(mode: string, redisUrl: string, redisPid: number): Promise<Cost> {
  const connection = connectNativeRedis({ url: redisUrl });
  for (let i = 0; i < 500 && !connection.ready; i++) await Bun.sleep(10);
  const writer = new RequestLogWriter(connection, { retentionHours: 24, queueMax: 1_000_000, intervalMs: 3_600_000, flushAt: 0 });
  const sinks: RecordSinks = mode === "off" ? { node: "bench-node" } : { node: "bench-node", log: writer };
  let draftUs = 0;
  let flushUs = 0;
  const redisBefore = await totalCpuMicros([redisPid]);
  for (let done = 0; done < total; done += batchSize) {
    const n = Math.min(batchSize, total - done);
    const a = cpuMicros();
    for (let i = 0; i < n; i++) {
      const draft = new RecordDraft(sinks, "127.0.0.1", "GET", "bench.local", "/", newRequestId(), "0af7651916cd43dd8448eb211c80319c");
      draft.kind = "proxy";
      draft.proxy = "bench.local";
      draft.route = "default";
      draft.backend = "http://127.0.0.1:8080";
      draft.upstreamStartNs = Bun.nanoseconds();
      draft.upstreamAnswered();
      draft.finish(200, 13);
    }
    const b = cpuMicros();
    draftUs += b - a;
    if (mode === "on") {
      await writer.flush();
      flushUs += cpuMicros() - b;
    } else if (mode === "hot") {
      // Emptied without writing, so the queue stays as short as a flushing one.
      (writer as unknown as { queue: unknown[] }).queue = [];
    }
  }
  // A flush that wrote nothing would measure nothing.
  if (mode === "on" && (writer.written !== total || writer.dropped !== 0)) throw new Error(`${writer.written} of ${total} records written, ${writer.dropped} dropped`);
  const redisUs = (await totalCpuMicros([redisPid])) - redisBefore;
  connection.close();
  return { draftUs, flushUs, redisUs };
}

installExitHandlers();
const port = freePort();
const redis = spawnChild(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "ignore", stderr: "ignore" });
try {
  const url = `redis://127.0.0.1:${port}/0`;
  for (let i = 0; i < 100; i++) {
    const ping = connectNativeRedis({ url });
    await Bun.sleep(50);
    const up = ping.ready;
    ping.close();
    if (up) break;
  }
  const rounds = values.mode === "all" ? Number(values.rounds) : 1;
  const results = new Map<string, Cost[]>();
  for (let r = 0; r < rounds; r++) {
    for (const mode of modes) {
      const res = await run(mode, url, redis.pid);
      results.set(mode, [...(results.get(mode) ?? []), res]);
    }
  }
  const per = (us: number) => (total > 0 ? us / total : 0);
  const best = (mode: string, pick: (x: Cost) => number) => Math.min(...results.get(mode)!.map(pick));
  for (const mode of modes) {
    console.log(
      `${mode.padEnd(4)} records ${total}, batch ${batchSize}: drafting ${per(best(mode, (x) => x.draftUs)).toFixed(2)} µs/record, ` +
        `flush ${per(best(mode, (x) => x.flushUs)).toFixed(2)} µs/record, Redis ${per(best(mode, (x) => x.redisUs)).toFixed(2)} µs/record (best of ${rounds})`,
    );
  }
} finally {
  await stopChild(redis);
  await cleanup();
}
