/**
 * Turns one run's results into the terminal table and the Markdown section of
 * docs/benchmarks.md. Everything is shown next to nginx from the same run:
 * absolute numbers on 2 shared cores drift between runs, ratios much less.
 */
import type { MachineInfo } from "./machine";
import type { WrkResult } from "./wrk";
import type { WsEchoResult } from "./ws-echo";

export interface HttpScenario {
  readonly name: string;
  readonly description: string;
  /** The wrk command line, for a reader who wants to repeat one measurement. */
  readonly command: string;
  readonly result?: WrkResult;
  readonly error?: string;
}

export interface WsScenario {
  readonly name: string;
  readonly connections: number;
  readonly result?: WsEchoResult;
  readonly error?: string;
}

export interface BenchReport {
  readonly commandLine: string;
  readonly date: Date;
  readonly machine: MachineInfo;
  readonly http: readonly HttpScenario[];
  readonly ws: readonly WsScenario[];
  readonly streamRss: string;
  /** The request-log comparison's table and summary line (bench/request-log.ts). */
  readonly requestLog: string;
  /** The PORTCULLIS_WORKERS scaling table (bench/workers.ts), or why there is none. */
  readonly workers: string;
  readonly notes: readonly string[];
  /** How each measurement was run, e.g. "2 s warm-up, then 10 s of wrk -t1 -c50". */
  readonly settings: string;
}

export const BASELINE = "nginx";

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const formatRate = (value: number) => int.format(value);
const formatMs = (value: number) => (value < 1 ? `${value.toFixed(3)} ms` : `${value.toFixed(2)} ms`);
const formatRatio = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? "–" : `${value.toFixed(2)}×`);
const ratio = (value: number | undefined, base: number | undefined) => (value === undefined || !base ? undefined : value / base);

type Table = { readonly headers: readonly string[]; readonly rows: readonly (readonly string[])[] };

export function httpTable(scenarios: readonly HttpScenario[]): Table {
  const base = scenarios.find((s) => s.name === BASELINE)?.result;
  const headers = ["scenario", "req/s", "p50", "p99", "req/s ÷ nginx", "p99 ÷ nginx", "errors"];
  const rows = scenarios.map((s) => {
    if (!s.result) return [s.name, "failed", "", "", "", "", ""];
    const r = s.result;
    const errors = r.socketErrors.connect + r.socketErrors.read + r.socketErrors.write + r.socketErrors.timeout + r.non2xx3xx;
    return [
      s.name,
      formatRate(r.requestsPerSecond),
      formatMs(r.latencyMs.p50),
      formatMs(r.latencyMs.p99),
      formatRatio(ratio(r.requestsPerSecond, base?.requestsPerSecond)),
      formatRatio(ratio(r.latencyMs.p99, base?.latencyMs.p99)),
      String(errors),
    ];
  });
  return { headers, rows };
}

export function wsTable(scenarios: readonly WsScenario[]): Table {
  const headers = ["scenario", "connections", "messages", "msgs/s", "p50 RTT", "p99 RTT", "msgs/s ÷ nginx", "p99 ÷ nginx"];
  const rows = scenarios.map((s) => {
    if (!s.result) return [s.name, String(s.connections), "failed", "", "", "", "", ""];
    const r = s.result;
    // Compare with nginx at the same concurrency: one connection and fifty are different workloads.
    const base = scenarios.find((b) => b.name === BASELINE && b.connections === s.connections)?.result;
    return [
      s.name,
      String(s.connections),
      int.format(r.messages),
      formatRate(r.messagesPerSecond),
      formatMs(r.rttMs.p50),
      formatMs(r.rttMs.p99),
      formatRatio(ratio(r.messagesPerSecond, base?.messagesPerSecond)),
      formatRatio(ratio(r.rttMs.p99, base?.rttMs.p99)),
    ];
  });
  return { headers, rows };
}

/** Aligned columns for the terminal (numbers right-aligned). */
export function textTable({ headers, rows }: Table): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 || !/^[\d.,–×\s]|ms$/.test(c) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function markdownTable({ headers, rows }: Table): string {
  const escape = (cell: string) => cell.replaceAll("|", "\\|").replaceAll("\n", " ");
  const line = (cells: readonly string[]) => `| ${cells.map(escape).join(" | ")} |`;
  return [line(headers), `|${headers.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`, ...rows.map(line)].join("\n");
}

/** One line per failed measurement, so the tables stay narrow and the reason is still shown. */
export function failures(report: BenchReport): string[] {
  return [
    ...report.http.filter((s) => !s.result).map((s) => `${s.name} failed: ${s.error ?? "no result"}`),
    ...report.ws.filter((s) => !s.result).map((s) => `${s.name} WebSocket ×${s.connections} failed: ${s.error ?? "no result"}`),
  ];
}

export function markdownSection(report: BenchReport): string {
  const m = report.machine;
  const parts = [
    `Last run: ${report.date.toISOString().replace(/\.\d+Z$/, "Z")}, \`${report.commandLine}\``,
    "",
    `Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpuModel}; Bun ${m.bun}, nginx ${m.nginx}, ${m.wrk}; source \`${m.revision}\`; load average at start ${m.loadAverage}.`,
    "",
    `Each measurement: ${report.settings}.`,
    "",
    "### HTTP (wrk)",
    "",
    markdownTable(httpTable(report.http)),
    "",
    ...report.http.map((s) => `- **${s.name}**: ${s.description} \`${s.command}\``),
    "",
    "### WebSocket echo round trips",
    "",
    markdownTable(wsTable(report.ws)),
    "",
    "### Request log",
    "",
    `The same proxy on two gateways sharing one Redis, \`REQUEST_LOG=false\` and the default (every request written to Redis), in alternating rounds (bench/request-log.ts; \`just bench-request-log\` runs it alone):`,
    "",
    report.requestLog,
    "",
    "### Workers",
    "",
    "The plain proxy, scenario (a), with PORTCULLIS_WORKERS=1..N in alternating rounds (bench/workers.ts; `just bench --workers N`):",
    "",
    report.workers,
    "",
    "### Streaming memory (bench/stream-rss.ts)",
    "",
    "```text",
    report.streamRss.trimEnd(),
    "```",
  ];
  const notes = [...failures(report), ...report.notes];
  if (notes.length > 0) parts.push("", "### Notes from this run", "", ...notes.map((n) => `- ${n}`));
  return parts.join("\n");
}

export function terminalReport(report: BenchReport): string {
  const parts = [
    `${report.commandLine}  (${report.date.toISOString()})`,
    `${report.machine.nproc} CPUs, ${report.machine.cpuModel}; Bun ${report.machine.bun}; nginx ${report.machine.nginx}; ${report.machine.wrk}; source ${report.machine.revision}; load average at start ${report.machine.loadAverage}`,
    `Each measurement: ${report.settings}`,
    "",
    "HTTP (wrk)",
    textTable(httpTable(report.http)),
    "",
    "WebSocket echo round trips",
    textTable(wsTable(report.ws)),
    "",
    "Request log (bench/request-log.ts)",
    report.requestLog,
    "",
    "Workers (bench/workers.ts)",
    report.workers,
    "",
    "Streaming memory (bench/stream-rss.ts)",
    report.streamRss.trimEnd(),
  ];
  const notes = [...failures(report), ...report.notes];
  if (notes.length > 0) parts.push("", "Notes", ...notes.map((n) => `- ${n}`));
  return parts.join("\n");
}
