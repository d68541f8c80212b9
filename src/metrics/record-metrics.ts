/**
 * The request series of /metrics, fed from the edge's request records
 * (dispatcher/recording.ts): one record per answered request, counted by
 * configured proxy host — an in-process app's configured hostname, or
 * "unknown" — never by the Host header a client sent.
 */
import type { RequestRecord } from "../consumers/request-log/record";
import { isUpstreamFailure } from "../proxies/errors";
import type { AuthMetrics } from "./auth-metrics";
import { UNKNOWN_HOST, type EdgeMetrics } from "./edge-metrics";

export function recordMetrics(edge: EdgeMetrics, auth: AuthMetrics) {
  return {
    observe(record: RequestRecord): void {
      const host = record.proxy ?? (record.kind === "api" || record.kind === "oauth" ? record.host : UNKNOWN_HOST);
      const series = edge.forHost(host);
      series.record(record.method, record.status, record.duration_ms / 1000);
      const error = record.error;
      if (error !== undefined && isUpstreamFailure(error)) series.upstreamError(error);
      const outcome = record.auth;
      if (outcome === "none") return;
      if (outcome === "ok") auth.ok(host);
      else auth.refused(host, outcome.startsWith("401") ? 401 : 403);
    },
  };
}
