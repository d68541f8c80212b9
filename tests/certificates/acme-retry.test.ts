/**
 * A failed ACME issuance is retried with backoff against a real CA: pebble
 * first cannot validate the name (its DNS points the name at 127.0.0.2, where
 * the gateway does not listen), then can (the record removed: 127.0.0.1).
 * The status shows each failure with `retry_at` and `attempts`, the delay
 * doubles from CERT_RETRY_BASE_SECONDS up to CERT_RETRY_MAX_SECONDS, the last
 * error stays visible while the next attempt runs, and the success replaces
 * it: the certificate exists, the proxy names it, HTTPS serves it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import https from "node:https";
import { X509Certificate } from "node:crypto";
import * as acme from "acme-client";
import { servedEverywhere, startTestGateway, namedBackend, type TestGateway } from "../helpers/gateway-in-process";
import { startPebble, type Pebble } from "../helpers/pebble";
import { preChosenPort } from "../helpers/ports";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const HOST = "retry.example.com";
const CERT = "proxy-retry-example-com";
let pebble: Pebble;
let redis: TestRedis;
let gw: TestGateway;
const backend = namedBackend("retried");

async function challtestsrv(path: string, body: unknown): Promise<void> {
  const res = await fetch(pebble.challtestsrvUrl + path, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`challtestsrv ${path}: ${res.status} ${await res.text()}`);
}

beforeAll(async () => {
  const httpPort = preChosenPort();
  [pebble, redis] = await Promise.all([startPebble({ httpPort }), startTestRedis()]);
  // This process started before pebble made its CA: acme-client's HTTP client is given it directly.
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: pebble.caPem });
  // Validation of HOST connects to 127.0.0.2:httpPort, where nothing listens (the gateway binds 127.0.0.1).
  await challtestsrv("/add-a", { host: `${HOST}.`, addresses: ["127.0.0.2"] });
  gw = await startTestGateway(redis, {
    HTTP_PORT: String(httpPort),
    ADMIN_EMAIL: "admin@example.com",
    ACME_DIRECTORY_URL: pebble.directoryUrl,
    ACME_CHALLENGE_SELF_CHECK: "false",
    ACME_POLL_INTERVAL_SECONDS: "0.1",
    AUTO_CERTIFICATES: "true",
    CERT_RETRY_BASE_SECONDS: "1",
    CERT_RETRY_MAX_SECONDS: "2",
  });
}, 60_000);
afterAll(async () => {
  await gw?.stop();
  await pebble?.stop();
  await redis?.stop();
  backend.stop(true);
});

const status = async () => (await gw.api("GET", `/api/v1/certificates/${CERT}/status`)).json;

describe("ACME retry with backoff", () => {
  test("pebble refusing, then accepting: failures with retry_at and attempts, doubling delays capped, the last error kept, then ready", async () => {
    const created = await gw.api("POST", "/api/v1/proxy/targets/", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.status).toBe(201);
    expect(created.json.cert_name).toBe(CERT);

    // Every status seen, and each failure once (by attempt).
    const seen: any[] = [];
    const failures = new Map<number, any>();
    const watch = async (until: (s: any) => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await status();
        seen.push(s);
        if (s.status === "failed" && !failures.has(s.attempts)) failures.set(s.attempts, s);
        if (until(s)) return s;
        if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(s)}\n${pebble.output().slice(-2000)}`);
        await Bun.sleep(20);
      }
    };

    const first = await watch((s) => s.status === "failed" && s.attempts === 1, 20_000);
    expect(first).toMatchObject({ cert_name: CERT, operation: "issue", attempts: 1 });
    expect(first.error.type).toBe("urn:ietf:params:acme:error:connection");
    expect(first.error.detail).toContain("127.0.0.2");
    expect(first.message).toBe(`issuance failed at validation of ${HOST}; trying again at ${first.retry_at}`);
    // The proxy's certificate column says it failed, and why; no certificate exists yet.
    const shown = (await gw.api("GET", `/api/v1/proxy/targets/${HOST}`)).json.certificate;
    expect(shown).toStartWith("failed: ");
    expect(shown).toContain("127.0.0.2");
    expect((await gw.api("GET", `/api/v1/certificates/${CERT}`)).status).toBe(404);

    await watch((s) => s.status === "failed" && s.attempts === 3, 20_000);
    const delay = (attempt: number) => Date.parse(failures.get(attempt).retry_at) - Date.parse(failures.get(attempt).updated_at);
    // 1 s, then doubled to 2 s, then capped at CERT_RETRY_MAX_SECONDS (2 s, not 4).
    expect(delay(1)).toBeGreaterThan(900);
    expect(delay(1)).toBeLessThanOrEqual(1_000);
    expect(delay(2)).toBeGreaterThan(1_900);
    expect(delay(2)).toBeLessThanOrEqual(2_000);
    expect(delay(3)).toBeGreaterThan(1_900);
    expect(delay(3)).toBeLessThanOrEqual(2_000);

    // pebble can reach the gateway now: the next attempt succeeds.
    await challtestsrv("/clear-a", { host: `${HOST}.` });
    const ready = await watch((s) => s.status === "ready", 20_000);
    expect(ready).toMatchObject({ status: "ready", error: null, retry_at: null });
    expect(ready.attempts).toBeGreaterThanOrEqual(4);

    // While a retry was pending or running, the last failure stayed in `error`.
    const retrying = seen.filter((s) => s.attempts > 1 && s.status !== "failed" && s.status !== "ready");
    expect(retrying.length).toBeGreaterThan(0);
    for (const s of retrying) expect(s.error?.type).toBe("urn:ietf:params:acme:error:connection");

    const cert = (await gw.api("GET", `/api/v1/certificates/${CERT}`)).json;
    expect(cert).toMatchObject({ cert_name: CERT, domains: [HOST], acme_directory_url: pebble.directoryUrl });
    expect(new X509Certificate(cert.fullchain_pem).subjectAltName).toBe(`DNS:${HOST}`);
    expect((await gw.api("GET", `/api/v1/proxy/targets/${HOST}`)).json).toMatchObject({ cert_name: CERT, certificate: CERT });
    await servedEverywhere([gw], HOST, new X509Certificate(cert.fullchain_pem).fingerprint256, 5_000);
  }, 60_000);
});
