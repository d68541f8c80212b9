/**
 * METRICS_PORT: a listener that serves GET /metrics and nothing else, so a
 * Prometheus server can scrape a port that reaches neither the API nor the
 * edge (for example METRICS_BIND on a monitoring network while API_PORT stays
 * on loopback). Off unless METRICS_PORT is set.
 */
import { OWN_RESPONSE_HEADERS } from "../core/own-response";
import { listenOrExplain, SERVE_DEFAULTS } from "../dispatcher/listen";
import { drainableServer, type DrainableListener } from "../dispatcher/shutdown";

export interface MetricsRenderer {
  render(): Promise<string>;
  readonly contentType: string;
}

/** The listener's whole behaviour: /metrics for GET and HEAD, a JSON 405 or 404 for anything else. */
export function metricsOnly(metrics: MetricsRenderer): (request: Request) => Promise<Response> {
  return async (request) => {
    const path = new URL(request.url).pathname;
    if (path !== "/metrics" && path !== "/metrics/") {
      return error(404, "not_found", "this port serves only GET /metrics");
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return error(405, "method_not_allowed", `${request.method} is not allowed on /metrics; use GET`, { allow: "GET, HEAD" });
    }
    return new Response(await metrics.render(), {
      headers: { ...OWN_RESPONSE_HEADERS, "content-type": metrics.contentType, "cache-control": "no-store" },
    });
  };
}

export function startMetricsListener(metrics: MetricsRenderer, bind: { hostname: string; port: number; reusePort?: boolean }): DrainableListener {
  const handlers = { fetch: metricsOnly(metrics) };
  return drainableServer(
    listenOrExplain("METRICS_PORT", () => Bun.serve({ ...SERVE_DEFAULTS, reusePort: bind.reusePort ?? false, hostname: bind.hostname, port: bind.port, ...handlers })),
    handlers,
  );
}

function error(status: number, code: string, detail: string, headers: Record<string, string> = {}): Response {
  return Response.json({ error: code, detail }, { status, headers: { ...OWN_RESPONSE_HEADERS, ...headers } });
}
