/**
 * /health shows what an operator checks first — certificates served (count,
 * soonest expiry with its name), the HTTPS listener, this node's renewal timer
 * (last and next run) and its event-stream lag — on a real gateway; the lag
 * is also measured against a real Redis stream with entries not yet applied.
 * /healthz stays the bare liveness answer.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { certificateHealth, eventStreamLag, healthDetails, httpsHealth, LAG_COUNT_LIMIT, renewalHealth } from "../../src/api/health-details";
import { keys } from "../../src/storage/keys";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

const DAY_MS = 86_400_000;
let redis: TestRedis;
let node: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  node = await startTestGateway(redis, { RENEWAL_CHECK_INTERVAL: "1" });
});
afterAll(async () => {
  await node?.stop();
  await redis?.stop();
});

const health = async () => {
  const res = await fetch(`http://127.0.0.1:${node.gateway.apiPort}/health`);
  return { status: res.status, json: (await res.json()) as any };
};

describe("GET /health on a running gateway", () => {
  test("the basics stay; the HTTPS listener, renewal timer and event stream are reported", async () => {
    const { status, json } = await health();
    expect(status).toBe(200);
    expect(json).toMatchObject({ status: "healthy", redis: "ok" });
    expect(typeof json.version).toBe("string");
    expect(json.https).toEqual({ state: "listening", port: node.gateway.httpsPort, draining: false, certificate_problem: null });
    expect(json.renewal).toMatchObject({ state: "scheduled", interval_seconds: 1 });
    const next = Date.parse(json.renewal.next_run_at);
    expect(next).toBeGreaterThan(Date.now() - 50);
    expect(next).toBeLessThanOrEqual(Date.now() + 1_000 + 50);
    expect(json.event_stream).toMatchObject({ stream: "events:workflow" });
    // Start-up's own events (the internal API service) are applied within moments.
    expect(await within(2_000, async () => (await health()).json.event_stream.behind_events === 0)).toBe(true);
    expect((await health()).json.event_stream.lag_seconds).toBe(0);
    expect(json.certificates).toMatchObject({ loaded: 0, expired: 0, soonest_expiry: null });
    // The self-signed fallback is served too, but reported apart.
    expect(Date.parse(json.certificates.fallback_expires_at)).toBeGreaterThan(Date.now());
  });

  test("after a sweep the timer shows its last run and what came of it", async () => {
    expect(await within(3_000, async () => (await health()).json.renewal.last_run_at !== null)).toBe(true);
    const { renewal } = (await health()).json;
    expect(renewal.last_outcome).toMatch(/^checked; 0 renewals queued$|^skipped: another node swept this interval$/);
    expect(Date.parse(renewal.next_run_at)).toBeGreaterThan(Date.parse(renewal.last_run_at));
  });

  test("certificates: the count and the soonest expiry with its name, once this node serves them", async () => {
    for (const [name, domain] of [["first", "first.example.test"], ["second", "second.example.test"]]) {
      const res = await node.api("POST", "/api/v1/certificates/", { cert_name: name, domain, acme: false });
      expect(res.status).toBe(201);
    }
    expect(await within(3_000, async () => (await health()).json.certificates.loaded === 2)).toBe(true);
    const { certificates, event_stream } = (await health()).json;
    const shown = await Promise.all(["first", "second"].map(async (n) => (await node.api("GET", `/api/v1/certificates/${n}`)).json));
    const soonest = shown.reduce((a, b) => (Date.parse(a.expires_at) <= Date.parse(b.expires_at) ? a : b));
    expect(certificates.soonest_expiry.cert_name).toBe(soonest.cert_name);
    expect(Date.parse(certificates.soonest_expiry.expires_at)).toBe(Date.parse(soonest.expires_at));
    expect(certificates.soonest_expiry.days_left).toBeGreaterThan(25);
    // The node applied the certificate events: nothing left behind.
    expect(event_stream.stream).toBe("events:workflow");
    expect(await within(2_000, async () => (await health()).json.event_stream.behind_events === 0)).toBe(true);
    const caughtUp = (await health()).json.event_stream;
    expect(caughtUp.applied_id).toBe(caughtUp.latest_id);
  });

  test("/healthz stays minimal: plain ok", async () => {
    const res = await fetch(`http://127.0.0.1:${node.gateway.apiPort}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
  });
});

describe("the parts, from their sources", () => {
  test("certificates: expired counted, soonest by notAfter, the fallback apart", () => {
    const now = Date.UTC(2030, 0, 1);
    const report = certificateHealth(
      [
        { certificate: "self-signed", notAfterMs: now + 1_000 },
        { certificate: "later", notAfterMs: now + 60 * DAY_MS },
        { certificate: "gone", notAfterMs: now - DAY_MS },
        { certificate: "soon", notAfterMs: now + 2.55 * DAY_MS },
      ],
      "self-signed",
      now,
    );
    expect(report).toEqual({
      loaded: 3,
      expired: 1,
      soonest_expiry: { cert_name: "gone", expires_at: new Date(now - DAY_MS).toISOString(), days_left: -1 },
      fallback_expires_at: new Date(now + 1_000).toISOString(),
    });
    expect(certificateHealth([], "self-signed", now)).toEqual({ loaded: 0, expired: 0, soonest_expiry: null, fallback_expires_at: null });
  });

  test("HTTPS: starting before it is bound; stale certificates when a change was refused", () => {
    expect(httpsHealth(null)).toEqual({ state: "starting", port: null, draining: false, certificate_problem: null });
    expect(httpsHealth({ port: 443, draining: true, certificateProblem: "bad set" })).toEqual({ state: "stale_certificates", port: 443, draining: true, certificate_problem: "bad set" });
  });

  test("renewal: stopped, or scheduled with its times", () => {
    expect(renewalHealth({ running: false, intervalMs: 86_400_000, lastRunAt: null, lastOutcome: null, nextRunAt: null })).toEqual({
      state: "stopped",
      interval_seconds: 86_400,
      last_run_at: null,
      last_outcome: null,
      next_run_at: null,
    });
    expect(renewalHealth({ running: true, intervalMs: 1_000, lastRunAt: 0, lastOutcome: "checked; 1 renewal queued", nextRunAt: 1_000 })).toMatchObject({
      state: "scheduled",
      last_run_at: "1970-01-01T00:00:00.000Z",
      next_run_at: "1970-01-01T00:00:01.000Z",
    });
  });

  test("event-stream lag: entries after the applied one, and the age of the oldest", async () => {
    const stream = keys.workflowStream;
    await redis.client.del(stream);
    expect(await eventStreamLag(redis.client, "0-0", Date.now())).toEqual({ stream, applied_id: "0-0", latest_id: "0-0", behind_events: 0, lag_seconds: 0 });
    const base = Date.now() - 10_000;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await redis.client.xadd(stream, `${base + i * 1_000}-0`, "event_type", "test"))!);
    const now = base + 10_000;
    expect(await eventStreamLag(redis.client, ids[0]!, now)).toEqual({ stream, applied_id: ids[0], latest_id: ids[2], behind_events: 2, lag_seconds: 9 });
    expect(await eventStreamLag(redis.client, ids[2]!, now)).toMatchObject({ behind_events: 0, lag_seconds: 0 });
    expect(await eventStreamLag(redis.client, "0-0", now)).toMatchObject({ behind_events: 3, lag_seconds: 10 });
    expect(LAG_COUNT_LIMIT).toBe(1000);
  });

  test("without Redis the memory-held parts still answer; the lag is null", async () => {
    const details = await healthDetails(
      {
        certificateExpiries: () => [{ certificate: "a", notAfterMs: Date.now() + DAY_MS }],
        fallbackName: "self-signed",
        https: () => ({ port: 8443, draining: false, certificateProblem: null }),
        renewal: () => ({ running: true, intervalMs: 1_000, lastRunAt: null, lastOutcome: null, nextRunAt: Date.now() + 1_000 }),
        appliedEventId: () => "5-0",
      },
      null,
    );
    expect(details).toMatchObject({ certificates: { loaded: 1 }, https: { state: "listening", port: 8443 }, renewal: { state: "scheduled" }, event_stream: null });
  });
});
