/**
 * `acme_directory_url` in a certificate request: a directory the operator
 * allowed is used for the issuance (pebble, listed only in
 * ACME_ALLOWED_DIRECTORY_URLS) and recorded on the certificate; any other
 * address is refused with a 422 (invalid_request, like every other bad field) that lists the allowed ones, and is never
 * contacted — a token holder cannot point the gateway at an address of their
 * choosing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { ensureBinary, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { startPebble, type Pebble, pebbleGatewayEnv } from "../helpers/pebble";
import { closedPort, preChosenPort } from "../helpers/ports";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const ADMIN = "acm_acme_directories_admin_0000000000";
let pebble: Pebble;
let redis: TestRedis;
let gateway: RunningGateway;
let productionUrl: string;
let stagingUrl: string;
/** A local listener a request tries to make the gateway call: it counts every connection. */
let bait: TCPSocketListener<undefined>;
let baitConnections = 0;

beforeAll(async () => {
  await ensureBinary();
  const httpPort = preChosenPort();
  // Production and staging point nowhere: only the allowed extra directory (pebble) can issue.
  productionUrl = `https://127.0.0.1:${closedPort()}/directory`;
  stagingUrl = `https://127.0.0.1:${closedPort()}/staging`;
  bait = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket: Socket<undefined>) {
        baitConnections++;
        socket.end();
      },
      data() {},
    },
  });
  [pebble, redis] = await Promise.all([startPebble({ httpPort }), startTestRedis()]);
  gateway = await startGatewayProcess({
    dataDir: tempDataDir(),
    env: pebbleGatewayEnv(pebble, { httpPort, redisUrl: redis.url, adminToken: ADMIN }, {
      ACME_DIRECTORY_URL: productionUrl,
      ACME_STAGING_URL: stagingUrl,
      ACME_ALLOWED_DIRECTORY_URLS: `https://ca.example.test/dir,${pebble.directoryUrl}`,
      AUTO_CERTIFICATES: "false",
    }),
  });
  await gateway.waitForHealthy();
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  await pebble?.stop();
  await redis?.stop();
  bait?.stop(true);
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

async function settled(name: string, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await api("GET", `/api/v1/certificates/${name}/status`);
    // A failed first issuance is retried with backoff (retry_at set): failed is where it has settled for now.
    if (json?.status === "ready" || json?.status === "failed") return json;
    if (Date.now() > deadline) throw new Error(`${name} still ${JSON.stringify(json)} after ${timeoutMs} ms:\n${gateway.output().slice(-3000)}`);
    await Bun.sleep(50);
  }
}

describe("acme_directory_url", () => {
  test("an allowed directory issues the certificate, and the record names it", async () => {
    const created = await api("POST", "/api/v1/certificates/", { cert_name: "chosen", domain: "chosen.example.test", acme_directory_url: pebble.directoryUrl });
    expect(created.status).toBe(202);
    expect(created.json).toMatchObject({ cert_name: "chosen", status: "pending", acme_directory_url: pebble.directoryUrl });
    expect((await settled("chosen")).status).toBe("ready");
    const shown = await api("GET", "/api/v1/certificates/chosen");
    expect(shown.json).toMatchObject({ cert_name: "chosen", domains: ["chosen.example.test"], acme_directory_url: pebble.directoryUrl, status: "active" });
    expect(shown.json.fullchain_pem).toContain("BEGIN CERTIFICATE");
    const listed = (await api("GET", "/api/v1/certificates/")).json.find((c: any) => c.cert_name === "chosen");
    expect(listed.acme_directory_url).toBe(pebble.directoryUrl);
  });

  test("the same directory spelled with an upper-case scheme is the allowed one", async () => {
    const spelled = pebble.directoryUrl.replace("https://", "HTTPS://");
    const created = await api("POST", "/api/v1/certificates/multi-domain", { cert_name: "spelled", domains: ["spelled.example.test"], acme_directory_url: spelled });
    expect(created.status).toBe(202);
    // The job carries the operator's spelling, never the request's.
    expect(created.json.acme_directory_url).toBe(pebble.directoryUrl);
    expect((await settled("spelled")).status).toBe("ready");
  });

  test("without the field, ACME_DIRECTORY_URL is used; staging picks ACME_STAGING_URL", async () => {
    const plain = await api("POST", "/api/v1/certificates/", { cert_name: "default-dir", domain: "default-dir.example.test" });
    expect(plain.json.acme_directory_url).toBe(productionUrl);
    const staging = await api("POST", "/api/v1/certificates/", { cert_name: "staging-dir", domain: "staging-dir.example.test", staging: true });
    expect(staging.json.acme_directory_url).toBe(stagingUrl);
    // Both directories point at closed ports: the failure names nothing else.
    expect((await settled("default-dir")).status).toBe("failed");
    expect((await settled("staging-dir")).status).toBe("failed");
  });

  test("an unlisted URL on a local listener: 422 naming the field and the allowed directories, and the listener is never contacted", async () => {
    const before = baitConnections;
    const port = bait.port;
    for (const url of [`https://127.0.0.1:${port}/dir`, `http://127.0.0.1:${port}/dir`, `https://localhost:${port}/`, `${pebble.directoryUrl}/../../x`, "not a url"]) {
      const refused = await api("POST", "/api/v1/certificates/", { cert_name: "sneaky", domain: "sneaky.example.test", acme_directory_url: url });
      expect(refused.status).toBe(422);
      expect(refused.json.detail).toContain("acme_directory_url");
      for (const allowed of [productionUrl, stagingUrl, "https://ca.example.test/dir", pebble.directoryUrl]) expect(refused.json.detail).toContain(allowed);
    }
    const multi = await api("POST", "/api/v1/certificates/multi-domain", { cert_name: "sneaky", domains: ["sneaky.example.test"], acme_directory_url: `https://127.0.0.1:${port}/dir` });
    expect(multi.status).toBe(422);
    // Nothing was queued under the name, so nothing can contact the listener later either.
    expect((await api("GET", "/api/v1/certificates/sneaky/status")).status).toBe(404);
    await Bun.sleep(1_500);
    expect(baitConnections).toBe(before);
  });

  test("acme_directory_url with acme: false or with staging is a 422 naming the field", async () => {
    const selfSigned = await api("POST", "/api/v1/certificates/", { cert_name: "mixed", domain: "mixed.example.test", acme: false, acme_directory_url: pebble.directoryUrl });
    expect(selfSigned.status).toBe(422);
    expect(selfSigned.json.detail).toContain("acme_directory_url");
    const both = await api("POST", "/api/v1/certificates/", { cert_name: "mixed", domain: "mixed.example.test", staging: true, acme_directory_url: pebble.directoryUrl });
    expect(both.status).toBe(422);
    expect(both.json.detail).toContain("acme_directory_url");
  });
});
