/**
 * The request-log writer's queue, read at scrape time: records waiting for
 * the next flush, records dropped because the queue was full (Redis slow or
 * gone), records written to Redis. The writer keeps these numbers itself;
 * until a writer is attached the series read 0.
 */
import { Counter, Gauge, type Registry } from "prom-client";

export interface RequestLogCounts {
  readonly queued: number;
  readonly dropped: number;
  readonly written: number;
}

export function registerRequestLogMetrics(registry: Registry, source: () => RequestLogCounts | undefined): void {
  new Gauge({
    name: "portcullis_request_log_queue_depth",
    help: "Request records queued in memory, waiting for the next flush to Redis",
    registers: [registry],
    collect() {
      this.set(source()?.queued ?? 0);
    },
  });
  total(registry, "portcullis_request_log_dropped_total", "Request records dropped because the queue was full (Redis slow or unreachable)", () => source()?.dropped ?? 0);
  total(registry, "portcullis_request_log_written_total", "Request records written to Redis", () => source()?.written ?? 0);
}

/** A counter whose value is a running total kept elsewhere. */
function total(registry: Registry, name: string, help: string, value: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(value());
    },
  });
}
