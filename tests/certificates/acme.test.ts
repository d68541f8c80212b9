/**
 * Certificates from a real ACME server: the compiled gateway against pebble,
 * HTTP-01 validated on the gateway's own HTTP port. Issuance (one and three
 * names, RSA and ECDSA), HTTPS served with the issued chain, an ACME error
 * reported verbatim, the worker limit, renewal of a certificate near expiry,
 * and a new proxy upgrading itself to HTTPS.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { ensureBinary, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { startPebble, REFUSED_DOMAIN, type Pebble, pebbleGatewayEnv } from "../helpers/pebble";
import { closedPort, preChosenPort } from "../helpers/ports";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { peerCertificate } from "../helpers/test-ca";

const ADMIN = "acm_acme_test_admin_token_0000000000";
const MAX_WORKERS = 2;
let pebble: Pebble;
let redis: TestRedis;
let gateway: RunningGateway;
let root: string;
let unreachablePort: number;
const backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("from the backend") });

beforeAll(async () => {
  await ensureBinary();
  // pebble's config names the gateway's HTTP port before the gateway starts.
  const httpPort = preChosenPort();
  unreachablePort = closedPort();
  [pebble, redis] = await Promise.all([startPebble({ httpPort }), startTestRedis()]);
  root = await pebble.issuingRootPem();
  gateway = await startGatewayProcess({
    dataDir: tempDataDir(),
    env: pebbleGatewayEnv(pebble, { httpPort, redisUrl: redis.url, adminToken: ADMIN }, {
      // A CA that cannot be reached: nothing listens there.
      ACME_STAGING_URL: `https://127.0.0.1:${unreachablePort}/dir`,
      // Each issuance lasts long enough for the worker-limit test to see them overlap.
      ACME_POLL_INITIAL_WAIT: "0.3",
      CERT_GEN_MAX_WORKERS: String(MAX_WORKERS),
      RENEWAL_CHECK_INTERVAL: "1",
      AUTO_CERTIFICATES: "true",
    }),
  });
  await gateway.waitForHealthy();
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  await pebble?.stop();
  await redis?.stop();
  backend.stop(true);
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

/** Polls the status until it is final (with `retrying`: or failed and waiting for its retry); returns it. */
async function settled(name: string, timeoutMs = 20_000, retrying = false): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await api("GET", `/api/v1/certificates/${name}/status`);
    if (json?.status === "ready" || (json?.status === "failed" && (retrying || json.retry_at === null))) return json;
    if (Date.now() > deadline) throw new Error(`${name} still ${JSON.stringify(json)} after ${timeoutMs} ms:\n${gateway.output().slice(-3000)}`);
    await Bun.sleep(50);
  }
}

/** The served chain verifies up to pebble's root: leaf ← intermediate ← root. */
function expectChainFromPebble(fullchain: string) {
  const [leaf, intermediate] = fullchain.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((p) => p.includes("BEGIN")).map((p) => new X509Certificate(p));
  const rootCert = new X509Certificate(root);
  expect(leaf!.verify(intermediate!.publicKey)).toBe(true);
  expect(intermediate!.verify(rootCert.publicKey)).toBe(true);
  return leaf!;
}

/** Until new connections get `fingerprint`, and past the half second a previous TLS server may still accept for. */
async function waitUntilServed(serverName: string, fingerprint: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await peerCertificate(gateway.httpsPort, serverName)).fingerprint256 !== fingerprint) {
    if (Date.now() > deadline) throw new Error(`${serverName} not served with ${fingerprint}`);
    await Bun.sleep(50);
  }
  await Bun.sleep(600);
  expect((await peerCertificate(gateway.httpsPort, serverName)).fingerprint256).toBe(fingerprint);
}

describe("issuance against pebble", () => {
  test("one domain: 202, status to ready, the chain verifies to pebble's root and HTTPS serves it", async () => {
    const created = await api("POST", "/api/v1/certificates/", { cert_name: "single", domain: "single.example.test" });
    expect(created.status).toBe(202);
    expect(created.json).toMatchObject({ cert_name: "single", status: "pending", status_url: "/api/v1/certificates/single/status" });
    expect((await settled("single")).status).toBe("ready");

    const shown = await api("GET", "/api/v1/certificates/single");
    expect(shown.json).toMatchObject({ cert_name: "single", domains: ["single.example.test"], email: "admin@example.test", acme_directory_url: pebble.directoryUrl, status: "active" });
    expect(shown.json.private_key_pem).toBeUndefined();
    const leaf = expectChainFromPebble(shown.json.fullchain_pem);
    expect(leaf.subjectAltName).toBe("DNS:single.example.test");
    expect(Date.parse(shown.json.expires_at)).toBe(Date.parse(leaf.validTo));
    expect(createPrivateKey((await api("GET", "/api/v1/certificates/single?pem=true")).json.private_key_pem).asymmetricKeyType).toBe("rsa");

    await waitUntilServed("single.example.test", leaf.fingerprint256);
    // A client that trusts only pebble's root completes the handshake.
    const res = await fetch(`https://127.0.0.1:${gateway.httpsPort}/`, { headers: { host: "single.example.test" }, tls: { ca: root, serverName: "single.example.test" } });
    expect(res.status).toBe(404); // no proxy for the name: the gateway's own page, over verified TLS
  }, 30_000);

  test("three domains on one ECDSA certificate", async () => {
    const domains = ["a.multi.test", "b.multi.test", "c.multi.test"];
    const created = await api("POST", "/api/v1/certificates/multi-domain", { cert_name: "multi", domains, key_type: "ecdsa", email: "ops@example.test" });
    expect(created.status).toBe(202);
    expect((await settled("multi")).status).toBe("ready");
    const shown = (await api("GET", "/api/v1/certificates/multi?pem=true")).json;
    const leaf = expectChainFromPebble(shown.fullchain_pem);
    expect(leaf.subjectAltName!.split(", ").sort()).toEqual(domains.map((d) => `DNS:${d}`));
    expect(createPrivateKey(shown.private_key_pem).asymmetricKeyType).toBe("ec");
    for (const name of domains) await waitUntilServed(name, leaf.fingerprint256);
    // One ACME account per (email, directory), reused: admin@ and ops@ so far.
    expect((await redis.client.keys("acme:account:*")).length).toBe(2);
  }, 30_000);

  test("a name the CA refuses fails with its problem document, and the gateway keeps working", async () => {
    expect((await api("POST", "/api/v1/certificates/", { cert_name: "refused", domain: REFUSED_DOMAIN })).status).toBe(202);
    const status = await settled("refused");
    expect(status).toMatchObject({
      status: "failed",
      retry_at: null,
      error: { type: "urn:ietf:params:acme:error:rejectedIdentifier", status: 400 },
    });
    expect(status.error.detail).toContain(REFUSED_DOMAIN);
    expect((await api("GET", "/api/v1/certificates/refused")).status).toBe(404);
    expect((await fetch(`${gateway.apiUrl}/health`)).status).toBe(200);
    // The failed request left nothing behind: the name can be asked for again.
    expect((await api("POST", "/api/v1/certificates/", { cert_name: "refused", domain: "fine.example.test" })).status).toBe(202);
    expect((await settled("refused")).status).toBe("ready");
  }, 30_000);

  test("a CA that cannot be reached fails within seconds, with a message that names it, and is tried again later", async () => {
    const started = Date.now();
    expect((await api("POST", "/api/v1/certificates/", { cert_name: "no-ca", domain: "no-ca.example.test", staging: true })).status).toBe(202);
    const status = await settled("no-ca", 20_000, true);
    expect(status).toMatchObject({ status: "failed", attempts: 1 });
    // Unreachable now may be reachable later: a retry is due (CERT_RETRY_BASE_SECONDS, 60 by default).
    expect(Date.parse(status.retry_at) - Date.parse(status.updated_at)).toBeGreaterThan(59_000);
    expect(status.error.detail).toStartWith(`the ACME server cannot be reached at https://127.0.0.1:${unreachablePort}/dir (`);
    // acme-client alone would retry for over a minute and then report a TypeError.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await fetch(`${gateway.apiUrl}/health`)).status).toBe(200);
  }, 30_000);

  test(`at most CERT_GEN_MAX_WORKERS (${MAX_WORKERS}) issuances run at once; the rest wait and then finish`, async () => {
    const names = ["w1", "w2", "w3", "w4", "w5"];
    const created = await Promise.all(names.map((n) => api("POST", "/api/v1/certificates/", { cert_name: n, domain: `${n}.workers.test` })));
    expect(created.map((c) => c.status)).toEqual(names.map(() => 202));
    let most = 0;
    let sawWaiting = false;
    for (;;) {
      const states = await Promise.all(names.map(async (n) => (await api("GET", `/api/v1/certificates/${n}/status`)).json.status as string));
      most = Math.max(most, states.filter((s) => s === "issuing").length);
      if (states.includes("pending") && states.includes("issuing")) sawWaiting = true;
      if (states.every((s) => s === "ready" || s === "failed")) {
        expect(states).toEqual(names.map(() => "ready"));
        break;
      }
      await Bun.sleep(20);
    }
    expect(most).toBe(MAX_WORKERS);
    expect(sawWaiting).toBe(true);
  }, 60_000);
});

describe("renewal", () => {
  test("a certificate near expiry is renewed by the sweep and the new one is served", async () => {
    const before = (await api("GET", "/api/v1/certificates/single")).json;
    const stored = JSON.parse((await redis.client.get("cert:single"))!);
    // Pretend it expires tomorrow (inside RENEWAL_THRESHOLD_DAYS, 30 by default).
    await redis.client.set("cert:single", JSON.stringify({ ...stored, expires_at: new Date(Date.now() + 86_400_000).toISOString() }));
    const deadline = Date.now() + 20_000;
    let after = before;
    while (after.fullchain_pem === before.fullchain_pem) {
      if (Date.now() > deadline) throw new Error(`not renewed:\n${gateway.output().slice(-3000)}`);
      await Bun.sleep(100);
      after = (await api("GET", "/api/v1/certificates/single")).json;
    }
    expect(await settled("single")).toMatchObject({ status: "ready", operation: "renew" });
    const leaf = expectChainFromPebble(after.fullchain_pem);
    expect(Date.parse(after.expires_at)).toBeGreaterThan(Date.now() + 300 * 86_400_000);
    await waitUntilServed("single.example.test", leaf.fingerprint256);
    expect(gateway.output()).toContain("renewals queued");
  }, 30_000);

  test("POST /renew renews at once", async () => {
    const before = (await api("GET", "/api/v1/certificates/multi")).json.fullchain_pem;
    const renew = await api("POST", "/api/v1/certificates/multi/renew");
    expect(renew.status).toBe(202);
    expect(await settled("multi")).toMatchObject({ status: "ready", operation: "renew" });
    const after = (await api("GET", "/api/v1/certificates/multi?pem=true")).json;
    expect(after.fullchain_pem).not.toBe(before);
    // The key type stays what it was.
    expect(createPrivateKey(after.private_key_pem).asymmetricKeyType).toBe("ec");
  }, 30_000);
});

describe("a new proxy", () => {
  test("serves HTTP at once and upgrades itself to HTTPS when its certificate is ready", async () => {
    const created = await api("POST", "/api/v1/proxy/targets/", { hostname: "auto.example.test", target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.status).toBe(201);
    expect(created.json.cert_name).toBe("proxy-auto-example-test");
    const http = await fetch(`http://127.0.0.1:${gateway.httpPort}/`, { headers: { host: "auto.example.test" } });
    expect(await http.text()).toBe("from the backend");

    expect((await settled("proxy-auto-example-test")).status).toBe("ready");
    const leaf = expectChainFromPebble((await api("GET", "/api/v1/certificates/proxy-auto-example-test")).json.fullchain_pem);
    await waitUntilServed("auto.example.test", leaf.fingerprint256);
    const https = await fetch(`https://127.0.0.1:${gateway.httpsPort}/`, { headers: { host: "auto.example.test" }, tls: { ca: root, serverName: "auto.example.test" } });
    expect(await https.text()).toBe("from the backend");
  }, 30_000);

  test("reuses a certificate that already covers its hostname", async () => {
    const created = await api("POST", "/api/v1/proxy/targets/", { hostname: "b.multi.test", target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.json.cert_name).toBe("multi");
    expect((await api("GET", "/api/v1/certificates/proxy-b-multi-test/status")).status).toBe(404);
  });
});
