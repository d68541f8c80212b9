/**
 * SIGTERM while clients are busy: the compiled gateway drains every listener
 * (HTTP, HTTPS, the PROXY protocol port, the API) before it stops, so a
 * keep-alive client that has just sent its next request gets an answer, with
 * `Connection: close`, instead of a reset, and every request answered is in
 * the request log.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ensureBinary, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { keepAliveClient, type KeepAliveTarget } from "../helpers/keep-alive-clients";
import { proxyHeader } from "../helpers/proxy-protocol-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { storedRequestRecords } from "../helpers/stored-request-records";

const ADMIN = `acm_${"5d".repeat(32)}`;
const HOST = "busy.example.test";
const CONNECTIONS_PER_LISTENER = 5;
const BUSY_PATH = "/busy";

let redis: TestRedis;
const backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello from the backend") });

beforeAll(async () => {
  await ensureBinary();
  redis = await startTestRedis();
}, 120_000);
afterAll(async () => {
  await redis?.stop();
  backend.stop(true);
});

async function startServingGateway(): Promise<RunningGateway> {
  const gateway = await startGatewayProcess({ dataDir: tempDataDir(), env: { REDIS_URL: redis.url, ADMIN_TOKEN: ADMIN, LOG_LEVEL: "INFO" } });
  await gateway.waitForHealthy();
  const created = await fetch(`${gateway.apiUrl}/api/v1/proxy/targets/`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ hostname: HOST, target_url: backend.url.href }),
  });
  expect(created.status).toBe(201);
  for (const deadline = Date.now() + 5_000; ; await Bun.sleep(20)) {
    const res = await fetch(`http://127.0.0.1:${gateway.httpPort}/`, { headers: { host: HOST } });
    if (res.status === 200) break;
    if (Date.now() > deadline) throw new Error(`the proxy never answered: ${res.status}`);
  }
  return gateway;
}

test("SIGTERM: 20 busy keep-alive connections on every listener lose no request", async () => {
  const gateway = await startServingGateway();
  const targets: KeepAliveTarget[] = [
    { port: gateway.httpPort, host: HOST, path: BUSY_PATH },
    { port: gateway.httpsPort, host: HOST, tls: true, path: BUSY_PATH },
    { port: gateway.proxyProtocolPort, host: HOST, prefix: proxyHeader(1, { address: "192.0.2.10", port: 1010 }), path: BUSY_PATH },
    { port: servingApiPort(gateway), host: "localhost", path: "/healthz" },
  ];
  const clients = targets.flatMap((target) => Array.from({ length: CONNECTIONS_PER_LISTENER }, () => keepAliveClient(target)));
  try {
    // Every connection is busy (a few round trips in) before the signal.
    for (const deadline = Date.now() + 10_000; clients.some((c) => c.responses < 5); await Bun.sleep(5)) {
      if (Date.now() > deadline) throw new Error(`clients never got going: ${clients.map((c) => c.responses)}`);
    }
    gateway.child.kill("SIGTERM");
    const results = await Promise.all(clients.map((c) => c.done));
    const lost = results.filter((r) => r.failedRequest);
    const impolite = results.filter((r) => !r.closedPolitely);
    console.log(`requests answered: ${results.reduce((n, r) => n + r.responses, 0)}, lost: ${lost.length}`);
    expect({ lost: lost.length, impolite }).toEqual({ lost: 0, impolite: [] });
    expect(await gateway.child.exited).toBe(0);
    // Every request the edge answered is in the request log: the queue was written before the gateway let go of Redis.
    const answeredAtEdge = results.filter((r) => r.target !== `http:${servingApiPort(gateway)}`).reduce((n, r) => n + r.responses, 0);
    expect(await recordedRequests(BUSY_PATH)).toBe(answeredAtEdge);
  } finally {
    await gateway.stop();
  }
}, 30_000);

/** Request-log records of `path`, read from every group hash. */
async function recordedRequests(path: string): Promise<number> {
  let count = 0;
  for (const { record } of (await storedRequestRecords(redis.client)).values()) if (record.path === path) count++;
  return count;
}

/** The API port: from the serving record's URL. */
function servingApiPort(gateway: RunningGateway): number {
  return Number(new URL(gateway.apiUrl).port);
}
