/**
 * The series beyond the edge's request counts, read from a running gateway's
 * GET /metrics after known actions: open WebSockets (relayed through the
 * edge, then closed), requests in flight per listener, certificate expiry
 * per served certificate (the self-signed fallback, one made through the API,
 * gone once deleted), the Redis PING histogram, event-loop lag after a known
 * block, and the zero-valued series a quiet gateway already exports.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { parsePrometheusText, sample, samples, type Families } from "../helpers/prometheus-text";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { streamBackend } from "../helpers/stream-backend";

const DAY = 86_400;
let redis: TestRedis;
let gw: TestGateway;
// Event streams only on /events: the readiness probe (GET /) gets a plain answer, not a stream left open.
const streams = streamBackend({ eventsOnlyOn: "/events" });

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { SELF_SIGNED_DAYS: "30" });
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  streams.stop(true);
});

async function scrape(): Promise<Families> {
  const res = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`);
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

/** Scrapes until `check` holds (the gateway learns of changes through Redis events and socket callbacks); returns that scrape. */
async function scrapeUntil(check: (families: Families) => boolean, what: string): Promise<Families> {
  let families = await scrape();
  for (let i = 0; i < 200 && !check(families); i++) {
    await Bun.sleep(10);
    families = await scrape();
  }
  if (!check(families)) throw new Error(`gave up waiting for ${what}`);
  return families;
}

const value = (families: Families, name: string, labels: Record<string, string> = {}) => sample(families, name, labels).value!;

async function createProxy(hostname: string, target: string) {
  expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: target })).status).toBe(201);
  for (let i = 0; i < 200 && (await gw.get(hostname)).status === 404; i++) await Bun.sleep(10);
}

function openWebSocket(host: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${gw.gateway.httpPort}/`, { headers: { host } } as Bun.WebSocketOptions);
  return new Promise((resolve, reject) => ((ws.onopen = () => resolve(ws)), (ws.onerror = reject)));
}

describe("portcullis_open_websockets", () => {
  test("counts WebSockets relayed through the edge while they are open", async () => {
    await createProxy("ws.metrics.test", `http://127.0.0.1:${streams.port}`);
    expect(value(await scrape(), "portcullis_open_websockets")).toBe(0);
    const first = await openWebSocket("ws.metrics.test");
    const second = await openWebSocket("ws.metrics.test");
    await scrapeUntil((f) => value(f, "portcullis_open_websockets") === 2, "two open WebSockets");

    first.close();
    await scrapeUntil((f) => value(f, "portcullis_open_websockets") === 1, "one WebSocket left");
    // The backend ending the connection counts as well as the client doing it.
    second.close(1000);
    const families = await scrapeUntil((f) => value(f, "portcullis_open_websockets") === 0, "no WebSocket left");
    expect(value(families, "portcullis_open_event_streams")).toBe(0);
  });
});

describe("portcullis_open_event_streams", () => {
  test("counts event streams relayed to clients while they are open", async () => {
    await createProxy("sse.metrics.test", `http://127.0.0.1:${streams.port}`);
    const readers = await Promise.all(
      [0, 1].map(async () => {
        const controller = new AbortController();
        const response = await gw.get("sse.metrics.test", "/events", { signal: controller.signal });
        expect(response.headers.get("content-type")).toBe("text/event-stream");
        const reader = response.body!.getReader();
        await reader.read();
        return controller;
      }),
    );
    await scrapeUntil((f) => value(f, "portcullis_open_event_streams") === 2, "two open event streams");
    readers[0]!.abort();
    await scrapeUntil((f) => value(f, "portcullis_open_event_streams") === 1, "one event stream left");
    readers[1]!.abort();
    await scrapeUntil((f) => value(f, "portcullis_open_event_streams") === 0, "no event stream left");
  });
});

describe("portcullis_pending_requests", () => {
  test("a request held by a slow backend shows on the http listener until it is answered", async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async (req) => (req.url.endsWith("/wait") && (await held), new Response("done")) });
    try {
      await createProxy("slow.metrics.test", `http://127.0.0.1:${slow.port}`);
      const before = await scrape();
      expect(samples(before, "portcullis_pending_requests").map((s) => s.labels.listener).sort()).toEqual(["api", "http", "https", "proxy_protocol"]);
      const baseline = value(before, "portcullis_pending_requests", { listener: "http" });

      const inFlight = gw.get("slow.metrics.test", "/wait");
      await scrapeUntil((f) => value(f, "portcullis_pending_requests", { listener: "http" }) === baseline + 1, "the held request");
      release();
      expect((await inFlight).status).toBe(200);
      await scrapeUntil((f) => value(f, "portcullis_pending_requests", { listener: "http" }) === baseline, "the answered request");
    } finally {
      release();
      slow.stop(true);
    }
  });
});

describe("portcullis_certificate_expiry_seconds", () => {
  test("the self-signed fallback, a certificate made through the API, and none once it is deleted", async () => {
    const families = await scrape();
    // SELF_SIGNED_DAYS=30: the fallback expires in 30 days (give or take the test's own time).
    const fallback = value(families, "portcullis_certificate_expiry_seconds", { certificate: "self-signed" });
    expect(fallback).toBeGreaterThan(30 * DAY - 3_600);
    expect(fallback).toBeLessThanOrEqual(30 * DAY + 60);

    const created = await gw.api("POST", "/api/v1/certificates/", { cert_name: "metrics-cert", domain: "cert.metrics.test", acme: false });
    expect(created).toMatchObject({ status: 201 });
    const withCert = await scrapeUntil(
      (f) => samples(f, "portcullis_certificate_expiry_seconds").some((s) => s.labels.certificate === "metrics-cert"),
      "the new certificate's expiry",
    );
    const expiresAt = Date.parse(created.json.expires_at);
    const seconds = value(withCert, "portcullis_certificate_expiry_seconds", { certificate: "metrics-cert" });
    expect(Math.abs(seconds - (expiresAt - Date.now()) / 1000)).toBeLessThan(60);
    expect(Object.keys(samples(withCert, "portcullis_certificate_expiry_seconds")[0]!.labels)).toEqual(["certificate"]);

    expect((await gw.api("DELETE", "/api/v1/certificates/metrics-cert")).status).toBe(200);
    await scrapeUntil(
      (f) => !samples(f, "portcullis_certificate_expiry_seconds").some((s) => s.labels.certificate === "metrics-cert"),
      "the deleted certificate to leave",
    );
  });
});

describe("Redis latency, event loop, quiet series", () => {
  test("the PING histogram has its first sample from start-up, with no failures", async () => {
    const families = await scrapeUntil((f) => (sample(f, "portcullis_redis_command_duration_seconds", {}).count ?? 0) >= 1, "the first PING");
    expect(sample(families, "portcullis_redis_command_duration_seconds", {}).sum).toBeGreaterThan(0);
    expect(value(families, "portcullis_redis_ping_failures_total")).toBe(0);
  });

  test("a 150 ms block of the event loop shows in the lag maximum", async () => {
    await scrape();
    const until = performance.now() + 150;
    while (performance.now() < until) {
      // The gateway runs in this process: blocking here blocks its event loop.
    }
    await Bun.sleep(20);
    const families = await scrape();
    expect(value(families, "nodejs_eventloop_lag_max_seconds")).toBeGreaterThanOrEqual(0.14);
    expect(value(families, "process_resident_memory_bytes")).toBeGreaterThan(0);
  });

  test("auth outcomes, ACME, OAuth and request-log series exist before anything happened", async () => {
    const families = await scrape();
    expect(families["portcullis_auth_outcomes_total"]!.type).toBe("counter");
    for (const operation of ["issue", "renew"]) {
      for (const result of ["success", "failure"]) expect(value(families, "portcullis_acme_issuances_total", { operation, result })).toBe(0);
    }
    for (const event of ["issued", "refreshed", "revoked"]) expect(value(families, "portcullis_oauth_tokens_total", { event })).toBe(0);
    expect(value(families, "portcullis_request_log_queue_depth")).toBeGreaterThanOrEqual(0);
    expect(value(families, "portcullis_request_log_dropped_total")).toBe(0);
    expect(families["portcullis_request_log_written_total"]!.type).toBe("counter");
  });
});
