/**
 * Cancelling issuance against a real CA (pebble, compiled gateway): a request
 * deleted while its order runs is finished by the CA but never stored or
 * served, and the name is free at once; a request deleted while it waits for
 * a worker is never issued.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ensureBinary, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { startPebble, type Pebble, pebbleGatewayEnv } from "../helpers/pebble";
import { preChosenPort } from "../helpers/ports";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const ADMIN = "acm_cancel_issuance_admin_00000000000";
/** ACME_POLL_INITIAL_WAIT: each order takes at least this long, time enough to cancel it mid-way. */
const ORDER_PAUSE_S = 1.5;
let pebble: Pebble;
let redis: TestRedis;
let gateway: RunningGateway;

beforeAll(async () => {
  await ensureBinary();
  const httpPort = preChosenPort();
  [pebble, redis] = await Promise.all([startPebble({ httpPort }), startTestRedis()]);
  gateway = await startGatewayProcess({
    dataDir: tempDataDir(),
    env: pebbleGatewayEnv(pebble, { httpPort, redisUrl: redis.url, adminToken: ADMIN }, {
      ACME_POLL_INITIAL_WAIT: String(ORDER_PAUSE_S),
      CERT_GEN_MAX_WORKERS: "1",
      AUTO_CERTIFICATES: "false",
    }),
  });
  await gateway.waitForHealthy();
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  await pebble?.stop();
  await redis?.stop();
});

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(gateway.apiUrl + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function until<T>(what: string, check: () => Promise<T | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms\n${gateway.output().slice(-3000)}`);
    await Bun.sleep(50);
  }
}

const statusOf = async (name: string) => (await api("GET", `/api/v1/certificates/${name}/status`)).json?.status;

describe("cancelling against pebble", () => {
  test("deleted while issuing: 200, the CA's certificate is discarded, and a new request for the name gets its own certificate", async () => {
    expect((await api("POST", "/api/v1/certificates/", { cert_name: "site", domain: "first.example.test" })).status).toBe(202);
    await until("issuing", async () => (await statusOf("site")) === "issuing");

    expect(await api("DELETE", "/api/v1/certificates/site")).toMatchObject({ status: 200, json: { deleted: "site", cancelled: true } });
    expect((await api("GET", "/api/v1/certificates/site/status")).status).toBe(404);
    // The name is free at once, while the cancelled order is still with the CA.
    expect((await api("POST", "/api/v1/certificates/", { cert_name: "site", domain: "second.example.test" })).status).toBe(202);

    // Until the new request is ready, the certificate never appears with the cancelled request's name on it.
    const seen = new Set<string>();
    await until("the new request ready", async () => {
      const shown = await api("GET", "/api/v1/certificates/site");
      if (shown.status === 200) for (const d of shown.json.domains) seen.add(d);
      return (await statusOf("site")) === "ready";
    });
    await until("the cancelled order discarded", async () => gateway.output().includes("the certificate is discarded"));
    expect([...seen]).not.toContain("first.example.test");
    expect((await api("GET", "/api/v1/certificates/site")).json.domains).toEqual(["second.example.test"]);
  }, 30_000);

  test("deleted while waiting for the only worker: 200, and it is never issued", async () => {
    expect((await api("POST", "/api/v1/certificates/", { cert_name: "running", domain: "running.example.test" })).status).toBe(202);
    await until("running issuing", async () => (await statusOf("running")) === "issuing");
    expect((await api("POST", "/api/v1/certificates/", { cert_name: "waiting", domain: "waiting.example.test" })).status).toBe(202);
    expect(await statusOf("waiting")).toBe("pending");

    expect(await api("DELETE", "/api/v1/certificates/waiting")).toMatchObject({ status: 200, json: { deleted: "waiting", cancelled: true } });
    expect(await redis.client.lrange("cert:jobs", 0, -1)).toEqual([]);
    await until("running ready", async () => (await statusOf("running")) === "ready");
    await Bun.sleep(ORDER_PAUSE_S * 1000 + 500);
    expect((await api("GET", "/api/v1/certificates/waiting")).status).toBe(404);
    expect((await api("GET", "/api/v1/certificates/waiting/status")).status).toBe(404);
    expect((await api("GET", "/api/v1/certificates/")).json.map((c: any) => c.cert_name)).toEqual(["running", "site"]);
  }, 30_000);
});
