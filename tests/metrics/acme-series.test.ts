/**
 * portcullis_acme_issuances_total and portcullis_certificate_expiry_seconds
 * against a real ACME server (pebble, HTTP-01 validated on the gateway's own
 * HTTP port): an issuance that succeeds, one pebble refuses, a renewal; the
 * issued certificate's expiry as the served leaf says.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import https from "node:https";
import { X509Certificate } from "node:crypto";
import * as acme from "acme-client";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startPebble, REFUSED_DOMAIN, type Pebble } from "../helpers/pebble";
import { preChosenPort } from "../helpers/ports";
import { parsePrometheusText, sample, type Families } from "../helpers/prometheus-text";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let pebble: Pebble;
let redis: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  // pebble's config names the gateway's HTTP port before the gateway starts.
  const httpPort = preChosenPort();
  [pebble, redis] = await Promise.all([startPebble({ httpPort }), startTestRedis()]);
  // This process started before pebble made its CA: acme-client's HTTP client is given it directly.
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: pebble.caPem });
  gw = await startTestGateway(redis, {
    HTTP_PORT: String(httpPort),
    ADMIN_EMAIL: "admin@example.test",
    ACME_DIRECTORY_URL: pebble.directoryUrl,
    ACME_CHALLENGE_SELF_CHECK: "false",
    // pebble issues for these .test names; without this they would go to the local CA.
    ACME_INTERNAL_NAMES: "true",
    ACME_POLL_INTERVAL_SECONDS: "0.1",
  });
}, 60_000);
afterAll(async () => {
  await gw?.stop();
  await pebble?.stop();
  await redis?.stop();
});

async function scrape(): Promise<Families> {
  return parsePrometheusText(await (await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`)).text());
}

const issuances = (families: Families, operation: string, result: string) => sample(families, "portcullis_acme_issuances_total", { operation, result }).value!;

/** Polls the certificate's status until it is final. */
async function settled(name: string): Promise<any> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { json } = await gw.api("GET", `/api/v1/certificates/${name}/status`);
    if (json?.status === "ready" || (json?.status === "failed" && json.retry_at === null)) return json;
    if (Date.now() > deadline) throw new Error(`${name} still ${JSON.stringify(json)}\n${pebble.output().slice(-2000)}`);
    await Bun.sleep(50);
  }
}

describe("ACME series", () => {
  test("success, failure and renewal are counted; the issued certificate's expiry is its leaf's notAfter", async () => {
    const before = await scrape();
    expect(issuances(before, "issue", "success")).toBe(0);

    expect((await gw.api("POST", "/api/v1/certificates/", { cert_name: "acme-ok", domain: "ok.acme-metrics.test" })).status).toBe(202);
    expect((await settled("acme-ok")).status).toBe("ready");
    expect((await gw.api("POST", "/api/v1/certificates/", { cert_name: "acme-refused", domain: REFUSED_DOMAIN })).status).toBe(202);
    expect((await settled("acme-refused")).status).toBe("failed");

    let families = await scrape();
    expect(issuances(families, "issue", "success")).toBe(1);
    expect(issuances(families, "issue", "failure")).toBe(1);
    expect(issuances(families, "renew", "success")).toBe(0);

    // The issued certificate reaches this node's memory through its certificate_ready event.
    const { json: record } = await gw.api("GET", "/api/v1/certificates/acme-ok");
    const notAfter = Date.parse(new X509Certificate(record.fullchain_pem).validTo);
    for (let i = 0; i < 200 && !families["portcullis_certificate_expiry_seconds"]?.data.some((s: any) => s.labels.certificate === "acme-ok"); i++) {
      await Bun.sleep(10);
      families = await scrape();
    }
    const seconds = sample(families, "portcullis_certificate_expiry_seconds", { certificate: "acme-ok" }).value!;
    expect(Math.abs(seconds - (notAfter - Date.now()) / 1000)).toBeLessThan(30);

    expect((await gw.api("POST", "/api/v1/certificates/acme-ok/renew")).status).toBe(202);
    // The renewal's order ends with the counter moving (the status may still read "ready" from before).
    for (let i = 0; i < 200 && issuances(families, "renew", "success") < 1; i++) {
      await Bun.sleep(10);
      families = await scrape();
    }
    expect(issuances(families, "renew", "success")).toBe(1);
    expect(issuances(families, "issue", "success")).toBe(1);
  }, 60_000);
});
