/**
 * Port 0 (`any` for PROXY_PROTOCOL_PORT, where 0 means off): the compiled
 * gateway binds whatever the kernel hands out, names those ports in its
 * "portcullis is serving" record, and uses them itself (the HTTP-01
 * self-check goes to the HTTP port it got). No port is chosen ahead, so no
 * other process can take one in between.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ensureBinary, servingPorts, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { startPebble, type Pebble } from "../helpers/pebble";
import { closedPort } from "../helpers/ports";
import { proxyHeader } from "../helpers/proxy-protocol-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const ADMIN = `acm_${"b0".repeat(32)}`;

let redis: TestRedis;
beforeAll(async () => {
  await ensureBinary();
  redis = await startTestRedis();
}, 120_000);
afterAll(() => redis?.stop());

/** One request over a fresh connection (optionally after `prefix`), the whole answer as text. */
async function exchange(port: number, request: string, prefix: Uint8Array = new Uint8Array(0)): Promise<string> {
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  let text = "";
  await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      open(socket) {
        socket.write(prefix);
        socket.write(request);
      },
      data(_socket, chunk) {
        text += Buffer.from(chunk).toString("latin1");
      },
      close: () => resolve(text),
      error: (_socket, err) => reject(err),
    },
  });
  return promise;
}

const healthRequest = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
const unknownHostRequest = "GET / HTTP/1.1\r\nHost: nowhere.example.test\r\nConnection: close\r\n\r\n";

describe("HTTP_PORT=0, HTTPS_PORT=0, API_PORT=0, PROXY_PROTOCOL_PORT=any", () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    // The API on the public listeners too (for the client the PROXY header names), so every port answers /health.
    const api = { API_HOSTNAME: "localhost", API_ALLOWED_CIDRS: "127.0.0.0/8,192.0.2.0/24" };
    gateway = await startGatewayProcess({ dataDir: tempDataDir(), env: { REDIS_URL: redis.url, ADMIN_TOKEN: ADMIN, ...api } });
    await gateway.waitForHealthy();
  });
  afterAll(() => gateway?.stop());

  test("binds free ports and names each in the serving record", async () => {
    const ports = servingPorts(gateway.output())!;
    const values = [ports.apiPort, ports.httpPort, ports.httpsPort, ports.proxyProtocolPort];
    for (const port of values) expect(port).toBeGreaterThan(1023);
    expect(new Set(values).size).toBe(4);
    expect(gateway.env).toMatchObject({ HTTP_PORT: "0", HTTPS_PORT: "0", API_PORT: "0", PROXY_PROTOCOL_PORT: "any" });
  });

  test("the ports named are the ones answering", async () => {
    const { apiPort, httpPort, httpsPort, proxyProtocolPort } = servingPorts(gateway.output())!;
    expect(await exchange(apiPort, healthRequest)).toStartWith("HTTP/1.1 200");
    // The edges answer a host they do not serve with a 404 page naming it.
    expect(await exchange(httpPort, unknownHostRequest)).toMatch(/^HTTP\/1\.1 404[^]*nowhere\.example\.test/);
    const relayed = await exchange(proxyProtocolPort, unknownHostRequest, proxyHeader(1, { address: "192.0.2.5", port: 5555 }));
    expect(relayed).toMatch(/^HTTP\/1\.1 404[^]*nowhere\.example\.test/);
    const https = await fetch(`https://127.0.0.1:${httpsPort}/`, { headers: { host: "nowhere.example.test" }, tls: { rejectUnauthorized: false } });
    expect(https.status).toBe(404);
    expect(await https.text()).toContain("nowhere.example.test");
  });
});

describe("the HTTP-01 self-check with HTTP_PORT=0", () => {
  let pebble: Pebble;
  let gateway: RunningGateway;
  beforeAll(async () => {
    // pebble passes every challenge without connecting anywhere: only the gateway's own self-check reaches its HTTP port.
    pebble = await startPebble({ httpPort: closedPort(), env: { PEBBLE_VA_ALWAYS_VALID: "1" } });
    gateway = await startGatewayProcess({
      dataDir: tempDataDir(),
      env: {
        REDIS_URL: redis.url,
        ADMIN_TOKEN: ADMIN,
        NODE_EXTRA_CA_CERTS: pebble.caFile,
        ACME_DIRECTORY_URL: pebble.directoryUrl,
        ACME_STAGING_URL: pebble.directoryUrl,
        ACME_POLL_INTERVAL_SECONDS: "0.1",
        ACME_CHALLENGE_SELF_CHECK: "true",
        // A .test name that must reach pebble, not the local CA.
        ACME_INTERNAL_NAMES: "true",
      },
    });
    await gateway.waitForHealthy();
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    await pebble?.stop();
  });

  test("fetches the challenge from the port HTTP_PORT was bound to", async () => {
    const api = (method: string, path: string, body?: unknown) =>
      fetch(gateway.apiUrl + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
    expect((await api("POST", "/api/v1/certificates/", { cert_name: "self-checked", domain: "localhost" })).status).toBe(202);
    let status: any;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await Bun.sleep(50)) {
      status = (await api("GET", "/api/v1/certificates/self-checked/status")).json;
      if (status.status === "ready" || status.status === "failed") break;
    }
    // With the configured 0 instead of the bound port, the self-check fails: "nothing accepts connections there".
    expect(status).toMatchObject({ status: "ready" });
  }, 30_000);
});
