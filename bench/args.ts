/** Command-line flags of bench/run.ts, parsed once into a typed, frozen object. */
import { parseArgs } from "node:util";

export interface BenchOptions {
  /** Seconds per wrk measurement. */
  readonly duration: number;
  /** Seconds of unrecorded load before each measurement (JIT, connection pools, CPU clocks). */
  readonly warmup: number;
  readonly connections: number;
  readonly threads: number;
  /** Round trips on the single-connection WebSocket run. */
  readonly wsMessages: number;
  readonly wsConnections: number;
  /** Round trips per connection in the concurrent WebSocket run. */
  readonly wsConcurrentMessages: number;
  readonly wsBytes: number;
  readonly streamRss: boolean;
  readonly writeDocs: boolean;
  /** --workers N: also measure the plain proxy with 1..N worker processes (bench/workers.ts); 0 skips it. */
  readonly workers: number;
}

export const USAGE = `usage: bun bench/run.ts [options]   (or: just bench [options])
  --duration S              seconds per wrk measurement (10)
  --warmup S                seconds of warm-up before each measurement (2)
  --connections N           wrk -c (50)
  --threads N               wrk -t (1)
  --ws-messages N           round trips on one WebSocket (20000)
  --ws-connections N        concurrent WebSockets in the second WS run (50)
  --ws-concurrent-messages N  round trips per connection in that run (4000)
  --ws-bytes N              WebSocket message size (32)
  --no-stream-rss           skip bench/stream-rss.ts
  --no-docs                 print only; leave docs/benchmarks.md alone
  --workers N               also measure PORTCULLIS_WORKERS=1..N on the plain proxy (bench/workers.ts)
  --help`;

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} expects a positive integer, got "${raw}"`);
  return value;
}

function nonNegativeInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} expects an integer ≥ 0, got "${raw}"`);
  return value;
}

/** Returns undefined when --help was asked for. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      duration: { type: "string", default: "10" },
      warmup: { type: "string", default: "2" },
      connections: { type: "string", default: "50" },
      threads: { type: "string", default: "1" },
      "ws-messages": { type: "string", default: "20000" },
      "ws-connections": { type: "string", default: "50" },
      "ws-concurrent-messages": { type: "string", default: "4000" },
      "ws-bytes": { type: "string", default: "32" },
      "no-stream-rss": { type: "boolean", default: false },
      "no-docs": { type: "boolean", default: false },
      workers: { type: "string", default: "0" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return undefined;
  const threads = positiveInt("threads", values.threads);
  const connections = positiveInt("connections", values.connections);
  // wrk refuses fewer connections than threads.
  if (connections < threads) throw new Error(`--connections (${connections}) must be ≥ --threads (${threads})`);
  return Object.freeze({
    duration: positiveInt("duration", values.duration),
    warmup: nonNegativeInt("warmup", values.warmup),
    connections,
    threads,
    wsMessages: positiveInt("ws-messages", values["ws-messages"]),
    wsConnections: positiveInt("ws-connections", values["ws-connections"]),
    wsConcurrentMessages: positiveInt("ws-concurrent-messages", values["ws-concurrent-messages"]),
    wsBytes: positiveInt("ws-bytes", values["ws-bytes"]),
    streamRss: !values["no-stream-rss"],
    writeDocs: !values["no-docs"],
    workers: nonNegativeInt("workers", values.workers),
  });
}

/** What the round-based scripts (ceiling.ts, auth-profile.ts) measure with. */
export interface RoundOptions {
  readonly rounds: number;
  readonly wrk: Pick<BenchOptions, "duration" | "warmup" | "connections" | "threads">;
  /** The script's own string flags, by name, with their defaults filled in. */
  readonly extra: Readonly<Record<string, string>>;
}

/** `--rounds N --duration S --warmup S --connections N` and the script's `extra` flags (name → default); wrk always runs one thread. */
export function parseRoundArgs(argv: readonly string[], defaultRounds: number, extra: Readonly<Record<string, string>> = {}): RoundOptions {
  const extraOptions = Object.fromEntries(Object.entries(extra).map(([name, fallback]) => [name, { type: "string" as const, default: fallback }]));
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rounds: { type: "string", default: String(defaultRounds) },
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      connections: { type: "string", default: "50" },
      ...extraOptions,
    },
  });
  const strings = values as Record<string, string>;
  return {
    rounds: Number(values.rounds),
    wrk: { duration: Number(values.duration), warmup: Number(values.warmup), connections: Number(values.connections), threads: 1 },
    extra: Object.fromEntries(Object.keys(extra).map((name) => [name, strings[name]!])),
  };
}
