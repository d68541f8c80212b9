/**
 * ACCESS_LOG: one line per answered request on stdout, for operators who ship
 * logs with their own agent — the request record as JSON, or Common Log
 * Format. Lines are buffered and written about every 100 ms (or at 64 KiB),
 * so a request never waits on the terminal or a pipe.
 */
import type { AccessLogFormat } from "../core/observability-config";
import type { RequestRecord } from "./request-log/record";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const FLUSH_BYTES = 64 * 1024;

/** `[07/Dec/2026:04:10:00 +0000]`, the CLF time in UTC. */
export function clfTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
  return `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`;
}

/** Common Log Format: host ident authuser [date] "request" status bytes; `-` for what is unknown. */
export function commonLogLine(record: RequestRecord, time: string): string {
  const user = record.user ? record.user.replace(/[\s"]/g, "_") : "-";
  return `${record.ip || "-"} - ${user} ${time} "${record.method} ${record.path} HTTP/1.1" ${record.status} ${record.bytes_out || "-"}`;
}

export class AccessLog {
  private lines: string[] = [];
  private bytes = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** CLF times change once a second: the string is made when they do. */
  private second = -1;
  private time = "";

  constructor(
    private readonly format: Exclude<AccessLogFormat, "off">,
    private readonly out: (text: string) => void = (text) => void process.stdout.write(text),
  ) {}

  write(record: RequestRecord): void {
    const line = this.format === "json" ? JSON.stringify(record) : commonLogLine(record, this.timeOf(record.ts));
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
  }

  start(): void {
    this.timer ??= setInterval(() => this.flush(), 100);
    this.timer.unref?.();
  }

  flush(): void {
    if (this.lines.length === 0) return;
    const text = `${this.lines.join("\n")}\n`;
    this.lines = [];
    this.bytes = 0;
    this.out(text);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.flush();
  }

  private timeOf(ts: number): string {
    const second = Math.floor(ts / 1000);
    if (second !== this.second) {
      this.second = second;
      this.time = clfTime(ts);
    }
    return this.time;
  }
}
