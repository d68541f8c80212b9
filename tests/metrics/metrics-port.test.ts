/**
 * METRICS_PORT: a second listener that serves GET /metrics and nothing else
 * (the API and the edge are not behind it), bound on METRICS_BIND, started
 * and stopped with the gateway; off unless set.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { parsePrometheusText, sample } from "../helpers/prometheus-text";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { VERSION } from "../../src/core/version";

let redis: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { METRICS_PORT: "any" });
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

const metricsUrl = (path: string) => `http://127.0.0.1:${gw.gateway.metricsPort}${path}`;

describe("METRICS_PORT", () => {
  test("serves the same registry as API_PORT's /metrics, without a token", async () => {
    expect(gw.gateway.metricsPort).toBeGreaterThan(0);
    expect(gw.gateway.metricsPort).not.toBe(gw.gateway.apiPort);
    const res = await fetch(metricsUrl("/metrics"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain");
    const families = await parsePrometheusText(await res.text());
    expect(sample(families, "portcullis_build_info", { version: VERSION }).value).toBe(1);
    expect(sample(families, "portcullis_pending_requests", { listener: "api" })).toBeDefined();
    // This very request is in flight on the metrics listener while it is rendered.
    expect(sample(families, "portcullis_pending_requests", { listener: "metrics" }).value).toBe(1);

    // Requests counted by the edge show on both ports.
    expect((await gw.get("nobody.metrics-port.test")).status).toBe(404);
    const viaMetricsPort = await parsePrometheusText(await (await fetch(metricsUrl("/metrics"))).text());
    const viaApiPort = await parsePrometheusText(await (await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`)).text());
    const unknown = { host: "unknown", method_class: "GET", status_class: "4xx" };
    expect(sample(viaMetricsPort, "portcullis_http_requests_total", unknown).value).toBe(sample(viaApiPort, "portcullis_http_requests_total", unknown).value!);
    expect(sample(viaMetricsPort, "portcullis_http_requests_total", unknown).value).toBeGreaterThanOrEqual(1);
  });

  test("anything but GET /metrics is a JSON 404 or 405: the API is not reachable here, even with the admin token", async () => {
    for (const path of ["/", "/api/v1/tokens/", "/health", "/metrics/x"]) {
      const res = await fetch(metricsUrl(path), { headers: { authorization: `Bearer ${GATEWAY_ADMIN}` } });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: "not_found", detail: "this port serves only GET /metrics" });
    }
    const posted = await fetch(metricsUrl("/metrics"), { method: "POST", body: "x" });
    expect(posted.status).toBe(405);
    expect(posted.headers.get("allow")).toBe("GET, HEAD");
    expect(((await posted.json()) as { error: string }).error).toBe("method_not_allowed");
    const head = await fetch(metricsUrl("/metrics"), { method: "HEAD" });
    expect(head.status).toBe(200);
  });

  test("off by default; stops with the gateway", async () => {
    const plain = await startTestGateway(redis);
    expect(plain.gateway.metricsPort).toBe(0);
    await plain.stop();

    const own = await startTestGateway(redis, { METRICS_PORT: "any" });
    const port = own.gateway.metricsPort;
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    await own.stop();
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  }, 20_000);
});
