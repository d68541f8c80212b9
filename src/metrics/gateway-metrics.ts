/**
 * The gateway's Prometheus registry: the edge's request series, build info,
 * Redis reachability and prom-client's process metrics (memory, CPU, event
 * loop lag). One registry per gateway, so several gateways in one process
 * (tests) keep their own figures.
 */
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Redis } from "ioredis";
import { VERSION } from "../core/version";
import { EdgeMetrics } from "./edge-metrics";

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly edge = new EdgeMetrics(this.registry);

  constructor(redis: Redis) {
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
  }

  /** The text exposition format, for GET /metrics. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
