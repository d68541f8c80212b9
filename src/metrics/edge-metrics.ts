/**
 * The edge's per-request series. Labels come only from configured hostnames
 * (or "unknown"), fixed method and status classes and the UpstreamFailure
 * kinds, so their number is bounded whatever clients send. Each host's
 * children are bound once and reused: a request costs two array reads, a
 * counter increment and a histogram observation.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { UpstreamFailure } from "../proxies/errors";

/** The label for hosts no proxy is configured for: raw Host headers never become labels. */
export const UNKNOWN_HOST = "unknown";

const METHOD_CLASSES = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"] as const;
const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;
const METHOD_INDEX = new Map<string, number>(METHOD_CLASSES.map((method, index) => [method, index]));
const OTHER_METHOD = METHOD_CLASSES.length - 1;

/** Seconds; spans a cached answer (sub-millisecond) to the default upstream timeouts. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type CounterChild = ReturnType<Counter<string>["labels"]>;
type HistogramChild = ReturnType<Histogram<string>["labels"]>;

/** One host's bound children, created on first use. */
export class HostSeries {
  private readonly requests: (CounterChild | undefined)[] = [];
  private readonly durations: (HistogramChild | undefined)[] = [];

  constructor(
    private readonly metrics: EdgeMetrics,
    readonly host: string,
  ) {}

  /** Called when the edge has its response (or the WebSocket upgrade), with the seconds it took. */
  record(method: string, status: number, seconds: number): void {
    const methodIndex = METHOD_INDEX.get(method) ?? OTHER_METHOD;
    const statusIndex = status >= 100 && status < 600 ? ((status / 100) | 0) - 1 : 4;
    const key = methodIndex * STATUS_CLASSES.length + statusIndex;
    const counter = (this.requests[key] ??= this.metrics.requests.labels(this.host, METHOD_CLASSES[methodIndex]!, STATUS_CLASSES[statusIndex]!));
    counter.inc();
    const histogram = (this.durations[statusIndex] ??= this.metrics.durations.labels(this.host, STATUS_CLASSES[statusIndex]!));
    histogram.observe(seconds);
  }

  upstreamError(kind: UpstreamFailure): void {
    this.metrics.upstreamErrors.labels(this.host, kind).inc();
  }
}

export class EdgeMetrics {
  readonly requests: Counter<"host" | "method_class" | "status_class">;
  readonly durations: Histogram<"host" | "status_class">;
  readonly upstreamErrors: Counter<"host" | "kind">;
  private readonly byHost = new Map<string, HostSeries>();

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: "portcullis_http_requests_total",
      help: "Requests the edge answered, by configured proxy host, method class and status class",
      labelNames: ["host", "method_class", "status_class"],
      registers: [registry],
    });
    this.durations = new Histogram({
      name: "portcullis_http_request_duration_seconds",
      help: "Time from the request's arrival to the edge's response headers, by configured proxy host and status class",
      labelNames: ["host", "status_class"],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
    this.upstreamErrors = new Counter({
      name: "portcullis_upstream_errors_total",
      help: "Backends that failed to answer, by configured proxy host and failure kind",
      labelNames: ["host", "kind"],
      registers: [registry],
    });
  }

  /** `host` must be a configured hostname (or UNKNOWN_HOST): the caller decides, never the client. */
  forHost(host: string): HostSeries {
    let series = this.byHost.get(host);
    if (!series) this.byHost.set(host, (series = new HostSeries(this, host)));
    return series;
  }
}
