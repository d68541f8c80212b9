/**
 * The gateway's Prometheus registry: the edge's request series, auth
 * outcomes, open streams, certificates, ACME and OAuth token counts, Redis
 * reachability and latency, the request-log queue, build info and
 * prom-client's process metrics (memory, CPU, event loop lag). One registry
 * per gateway, so several gateways in one process (tests) keep their own
 * figures.
 *
 * Anything counted per request is a plain number or typed array the caller
 * bumps; the series are built from it only when /metrics is scraped.
 */
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Redis } from "ioredis";
import { VERSION } from "../core/version";
import { AcmeMetrics } from "./acme-metrics";
import { AuthMetrics } from "./auth-metrics";
import { registerCertificateExpiry, type CertificateExpirySource } from "./certificate-metrics";
import { EdgeMetrics } from "./edge-metrics";
import { registerPendingRequests, type ListenerName, type PendingRequestsSource } from "./listener-metrics";
import { OAuthTokenMetrics } from "./oauth-token-metrics";
import { RedisProbe, REDIS_PROBE_INTERVAL_MS } from "./redis-probe";
import { registerRequestLogMetrics, type RequestLogCounts } from "./request-log-metrics";
import { StreamMetrics } from "./stream-metrics";
import { WorkflowMetrics } from "./workflow-metrics";

export interface GatewayMetricsOptions {
  /** How often Redis is pinged for portcullis_redis_command_duration_seconds. */
  readonly redisProbeIntervalMs?: number;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly edge = new EdgeMetrics(this.registry);
  readonly auth = new AuthMetrics(this.registry);
  readonly streams = new StreamMetrics(this.registry);
  readonly oauthTokens = new OAuthTokenMetrics(this.registry);
  readonly acme = new AcmeMetrics(this.registry);
  readonly workflow = new WorkflowMetrics(this.registry);
  private readonly redisProbe: RedisProbe;
  private readonly listeners = new Map<ListenerName, PendingRequestsSource>();
  private requestLog: RequestLogCounts | undefined;
  private certificates: CertificateExpirySource | undefined;
  private logFollows: (() => number) | undefined;

  constructor(redis: Redis, options: GatewayMetricsOptions = {}) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "portcullis_build_info",
      help: "Always 1; the version label names the running build",
      labelNames: ["version"],
      registers: [this.registry],
    }).set({ version: VERSION }, 1);
    new Gauge({
      name: "portcullis_redis_up",
      help: "1 while the Redis connection is ready, 0 otherwise",
      registers: [this.registry],
      // The connection's own state: a scrape never waits on Redis.
      collect() {
        this.set(redis.status === "ready" ? 1 : 0);
      },
    });
    this.redisProbe = new RedisProbe(redis, this.registry, options.redisProbeIntervalMs ?? REDIS_PROBE_INTERVAL_MS);
    registerCertificateExpiry(this.registry, () => this.certificates);
    registerPendingRequests(this.registry, this.listeners);
    registerRequestLogMetrics(this.registry, () => this.requestLog);
    const logFollows = () => this.logFollows?.() ?? 0;
    new Gauge({
      name: "portcullis_service_log_follows",
      help: "Service log follows (GET /api/v1/services/{name}/logs?follow=true) this node serves right now; capped by SERVICE_LOG_FOLLOWS_MAX",
      registers: [this.registry],
      collect() {
        this.set(logFollows());
      },
    });
  }

  /** Starts the periodic Redis ping. */
  start(): void {
    this.redisProbe.start();
  }

  stop(): void {
    this.redisProbe.stop();
  }

  /** Reports `listener`'s in-flight requests as portcullis_pending_requests{listener=name}. */
  watchListener(name: ListenerName, listener: PendingRequestsSource): void {
    this.listeners.set(name, listener);
  }

  /** Requests in flight on every watched listener together (the cluster registry's load). */
  pendingRequests(): number {
    let total = 0;
    for (const listener of this.listeners.values()) total += listener.pendingRequests;
    return total;
  }

  /** Reports when each served certificate expires (LiveCertificates). */
  watchCertificates(certificates: CertificateExpirySource): void {
    this.certificates = certificates;
  }

  /** Reports the request-log writer's queue (queued, dropped, written). */
  /** Reports the open service log follows (LogFollowSlots) as portcullis_service_log_follows. */
  watchLogFollows(count: () => number): void {
    this.logFollows = count;
  }

  watchRequestLog(counts: RequestLogCounts): void {
    this.requestLog = counts;
  }

  /** The text exposition format, for GET /metrics. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
