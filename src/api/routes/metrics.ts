/**
 * GET /metrics: Prometheus text format, without a token like /healthz.
 * API_PORT binds to loopback by default; through an API hostname on the
 * public listeners only API_ALLOWED_CIDRS clients reach the API at all.
 */
import { Elysia } from "elysia";
import type { GatewayMetrics } from "../../metrics/gateway-metrics";

export function metricsRoutes(metrics: GatewayMetrics) {
  return new Elysia({ tags: ["health"] }).get(
    "/metrics",
    async () => new Response(await metrics.render(), { headers: { "content-type": metrics.contentType, "cache-control": "no-store" } }),
    {
      detail: {
        summary: "Prometheus metrics: requests per proxy host, upstream errors, auth outcomes, open streams, certificate expiry, ACME and OAuth counts, Redis, request-log queue, process",
      },
    },
  );
}
