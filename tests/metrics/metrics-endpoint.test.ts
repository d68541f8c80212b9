/**
 * GET /metrics on a running gateway after known traffic, read with an
 * independent Prometheus text parser: request counts and durations per
 * configured host, upstream failures by kind, build info, Redis state, process
 * metrics; raw Host headers never become labels; the public listeners serve
 * it only to API_ALLOWED_CIDRS clients.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { closedPort } from "../helpers/ports";
import { parsePrometheusText, sample, samples } from "../helpers/prometheus-text";
import { httpRequest, proxyHeader, rawExchange } from "../helpers/proxy-protocol-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { VERSION } from "../../src/core/version";

let redis: TestRedis;
let gw: TestGateway;
const backend = namedBackend("metrics");

beforeAll(async () => {
  redis = await startTestRedis();
  // The API hostname on the public listeners answers only 203.0.113.0/24 (loopback is outside it).
  gw = await startTestGateway(redis, { API_HOSTNAME: "admin.metrics.test", API_ALLOWED_CIDRS: "203.0.113.0/24" });
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});

async function createProxy(hostname: string, target: string) {
  expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: target })).status).toBe(201);
  // Live config reaches the host table through Redis events: wait until the edge knows the host.
  for (let i = 0; i < 200 && (await gw.get(hostname)).status === 404; i++) await Bun.sleep(10);
}

async function scrape() {
  const res = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain");
  return await parsePrometheusText(await res.text());
}

const count = (families: Awaited<ReturnType<typeof scrape>>, labels: Record<string, string>) =>
  sample(families, "portcullis_http_requests_total", labels).value!;

describe("GET /metrics", () => {
  test("counts known traffic per configured host, method and status class, with durations and upstream failures", async () => {
    await createProxy("ok.metrics.test", `http://127.0.0.1:${backend.port}`);
    await createProxy("down.metrics.test", `http://127.0.0.1:${closedPort()}`);
    const before = await scrape();
    const okBefore = count(before, { host: "ok.metrics.test", method_class: "GET", status_class: "2xx" });
    const downBefore = count(before, { host: "down.metrics.test", method_class: "GET", status_class: "5xx" });

    for (let i = 0; i < 3; i++) expect((await gw.get("ok.metrics.test", "/x?secret=1")).status).toBe(200);
    const posted = await gw.get("ok.metrics.test", "/form", { method: "POST", body: "a=1" });
    expect(posted.status).toBe(200);
    for (const host of ["nobody-1.metrics.test", "nobody-2.metrics.test"]) expect((await gw.get(host)).status).toBe(404);
    expect((await gw.get("down.metrics.test")).status).toBe(502);

    const after = await scrape();
    expect(count(after, { host: "ok.metrics.test", method_class: "GET", status_class: "2xx" }) - okBefore).toBe(3);
    expect(count(after, { host: "ok.metrics.test", method_class: "POST", status_class: "2xx" })).toBe(1);
    expect(count(after, { host: "down.metrics.test", method_class: "GET", status_class: "5xx" }) - downBefore).toBe(1);
    expect(count(after, { host: "unknown", method_class: "GET", status_class: "4xx" })).toBeGreaterThanOrEqual(2);
    expect(sample(after, "portcullis_upstream_errors_total", { host: "down.metrics.test", kind: "refused" }).value).toBeGreaterThanOrEqual(1);

    const durations = sample(after, "portcullis_http_request_duration_seconds", { host: "ok.metrics.test", status_class: "2xx" });
    expect(after["portcullis_http_request_duration_seconds"]!.type).toBe("histogram");
    expect(durations.count).toBe(count(after, { host: "ok.metrics.test", status_class: "2xx", method_class: "GET" }) + 1);
    expect(durations.sum).toBeGreaterThan(0);
    expect(durations.buckets!["+Inf"]).toBe(durations.count!);

    // Paths and queries are never labels.
    for (const name of Object.keys(after)) for (const m of samples(after, name)) expect(Object.keys(m.labels)).not.toContain("path");
    expect(JSON.stringify(after)).not.toContain("secret");
  });

  test("build info, Redis reachability and process metrics", async () => {
    const families = await scrape();
    expect(sample(families, "portcullis_build_info", { version: VERSION }).value).toBe(1);
    expect(sample(families, "portcullis_redis_up", {}).value).toBe(1);
    expect(sample(families, "process_resident_memory_bytes", {}).value).toBeGreaterThan(0);
    expect(families["nodejs_eventloop_lag_seconds"]).toBeDefined();
  });

  test("portcullis_redis_up follows the connection: 0 once Redis is gone, while /metrics keeps answering", async () => {
    const lost = await startTestRedis();
    const gateway = await startTestGateway(lost);
    try {
      const redisUp = async () => {
        const res = await fetch(`http://127.0.0.1:${gateway.gateway.apiPort}/metrics`);
        expect(res.status).toBe(200);
        return sample(await parsePrometheusText(await res.text()), "portcullis_redis_up", {}).value;
      };
      expect(await redisUp()).toBe(1);
      await lost.stop();
      let up = await redisUp();
      for (let i = 0; i < 100 && up !== 0; i++) {
        await Bun.sleep(20);
        up = await redisUp();
      }
      expect(up).toBe(0);
    } finally {
      await gateway.stop();
    }
  }, 15_000);

  test("an unknown Host never becomes a label: 50 random hosts all count as \"unknown\"", async () => {
    const before = await scrape();
    const unknownBefore = count(before, { host: "unknown", method_class: "GET", status_class: "4xx" });
    for (let i = 0; i < 50; i++) expect((await gw.get(`${crypto.randomUUID()}.random.test`)).status).toBe(404);
    const after = await scrape();
    const hosts = new Set(samples(after, "portcullis_http_requests_total").map((m) => m.labels.host));
    for (const host of hosts) expect(["unknown", "ok.metrics.test", "down.metrics.test", "admin.metrics.test"]).toContain(host!);
    expect(count(after, { host: "unknown", method_class: "GET", status_class: "4xx" }) - unknownBefore).toBe(50);
  });

  test("needs no token on API_PORT; the API hostname on a public listener refuses clients outside API_ALLOWED_CIDRS", async () => {
    const direct = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`);
    expect(direct.status).toBe(200);
    expect(await direct.text()).toContain("portcullis_http_requests_total");

    const refused = await gw.get("admin.metrics.test", "/metrics");
    expect(refused.status).toBe(403);
    const body = await refused.text();
    expect(JSON.parse(body).error).toBe("forbidden");
    expect(body).not.toContain("portcullis_");

    // A client API_ALLOWED_CIDRS names (its address carried by a PROXY protocol header) gets the metrics.
    const allowed = await rawExchange(gw.gateway.proxyProtocolPort, [
      proxyHeader(1, { address: "203.0.113.9", port: 4000 }),
      httpRequest("admin.metrics.test", "/metrics"),
    ]);
    expect(allowed.received).toStartWith("HTTP/1.1 200");
    expect(allowed.received).toContain("portcullis_build_info");
  });
});
