/**
 * The edge's per-request series. Labels come only from configured hostnames
 * (or "unknown"), fixed method and status classes and the UpstreamFailure
 * kinds, so their number is bounded whatever clients send. A request costs a
 * few typed-array writes in its host's HostSeries; prom-client turns the
 * tallies into series only when /metrics is scraped.
 */
import { Counter, type Registry } from "prom-client";
import type { UpstreamFailure } from "../proxies/errors";
import { TallyHistogram, type Tally } from "./tally-histogram";

/** The label for hosts no proxy is configured for: raw Host headers never become labels. */
export const UNKNOWN_HOST = "unknown";

const METHOD_CLASSES = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"] as const;
const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;
const METHOD_INDEX = new Map<string, number>(METHOD_CLASSES.map((method, index) => [method, index]));
const OTHER_METHOD = METHOD_CLASSES.length - 1;

/** Seconds; spans a cached answer (sub-millisecond) to the default upstream timeouts. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** One host's tallies. */
export class HostSeries {
  /** Requests by method class × status class. */
  readonly requests = new Float64Array(METHOD_CLASSES.length * STATUS_CLASSES.length);
  /** Durations by status class. */
  readonly durations: readonly Tally[];

  constructor(
    private readonly metrics: EdgeMetrics,
    readonly host: string,
  ) {
    this.durations = STATUS_CLASSES.map(() => metrics.durations.newTally());
  }

  /** Called when the edge has its response (or the WebSocket upgrade), with the seconds it took. */
  record(method: string, status: number, seconds: number): void {
    const methodIndex = METHOD_INDEX.get(method) ?? OTHER_METHOD;
    const statusIndex = status >= 100 && status < 600 ? ((status / 100) | 0) - 1 : 4;
    this.requests[methodIndex * STATUS_CLASSES.length + statusIndex]!++;
    this.durations[statusIndex]!.observe(seconds);
  }

  /** Rare (a failed backend), so prom-client's own counter is cheap enough here. */
  upstreamError(kind: UpstreamFailure): void {
    this.metrics.upstreamErrors.labels(this.host, kind).inc();
  }
}

export class EdgeMetrics {
  readonly durations: TallyHistogram;
  readonly upstreamErrors: Counter<"host" | "kind">;
  private readonly byHost = new Map<string, HostSeries>();

  constructor(registry: Registry) {
    const byHost = this.byHost;
    new Counter({
      name: "portcullis_http_requests_total",
      help: "Requests the edge answered, by configured proxy host, method class and status class",
      labelNames: ["host", "method_class", "status_class"],
      registers: [registry],
      // Filled from the tallies at each scrape.
      collect() {
        this.reset();
        for (const series of byHost.values()) {
          series.requests.forEach((count, i) => {
            if (count === 0) return;
            const method_class = METHOD_CLASSES[(i / STATUS_CLASSES.length) | 0]!;
            this.inc({ host: series.host, method_class, status_class: STATUS_CLASSES[i % STATUS_CLASSES.length]! }, count);
          });
        }
      },
    });
    this.durations = new TallyHistogram(
      "portcullis_http_request_duration_seconds",
      "Time from the request's arrival to the edge's response headers, by configured proxy host and status class",
      DURATION_BUCKETS,
      function* () {
        for (const series of byHost.values()) {
          for (let i = 0; i < STATUS_CLASSES.length; i++) yield [{ host: series.host, status_class: STATUS_CLASSES[i]! }, series.durations[i]!] as const;
        }
      },
      registry,
    );
    this.upstreamErrors = new Counter({
      name: "portcullis_upstream_errors_total",
      help: "Backends that failed to answer, by configured proxy host and failure kind",
      labelNames: ["host", "kind"],
      registers: [registry],
    });
  }

  /** Requests answered since start, every host and class together (the cluster registry's requests per second). */
  answeredRequests(): number {
    let total = 0;
    for (const series of this.byHost.values()) for (const count of series.requests) total += count;
    return total;
  }

  /** `host` must be a configured hostname (or UNKNOWN_HOST): the caller decides, never the client. */
  forHost(host: string): HostSeries {
    let series = this.byHost.get(host);
    if (!series) this.byHost.set(host, (series = new HostSeries(this, host)));
    return series;
  }
}
