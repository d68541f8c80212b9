/**
 * ACCESS_LOG: the compiled gateway prints one line per answered request on
 * stdout, as JSON or in Common Log Format, and nothing when it is off.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ensureBinary, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const ADMIN = `acm_${"a1".repeat(32)}`;
const HOST = "logged.example.test";
let redis: TestRedis;
const backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("twelve bytes") });

beforeAll(async () => {
  await ensureBinary();
  redis = await startTestRedis();
}, 120_000);
afterAll(async () => {
  await redis?.stop();
  backend.stop(true);
});

async function gatewayWith(accessLog: string | undefined): Promise<RunningGateway> {
  const env: Record<string, string> = { REDIS_URL: redis.url, ADMIN_TOKEN: ADMIN, LOG_LEVEL: "INFO" };
  if (accessLog) env.ACCESS_LOG = accessLog;
  const gateway = await startGatewayProcess({ dataDir: tempDataDir(), env });
  try {
    await gateway.waitForHealthy();
    await fetch(`${gateway.apiUrl}/api/v1/proxy/targets/${HOST}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN}` } });
    const created = await fetch(`${gateway.apiUrl}/api/v1/proxy/targets/`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ hostname: HOST, target_url: backend.url.href, enable_https: false }),
    });
    expect(created.status).toBe(201);
    return gateway;
  } catch (error) {
    // A gateway that never got going is not left running after the test.
    await gateway.stop();
    throw error;
  }
}

/** Requests /hello?secret=1 until the proxy answers 200; returns that answer's request id. */
async function requestThrough(gateway: RunningGateway): Promise<string> {
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await Bun.sleep(20)) {
    const response = await fetch(`http://127.0.0.1:${gateway.httpPort}/hello?secret=1`, { headers: { host: HOST } });
    await response.text();
    if (response.status === 200) return response.headers.get("x-request-id")!;
  }
  throw new Error("the proxy never answered 200");
}

test("ACCESS_LOG=json: the request's record as one JSON line", async () => {
  const gateway = await gatewayWith("json");
  try {
    const id = await requestThrough(gateway);
    const line = await gateway.waitForOutput(new RegExp(`^\\{.*"request_id":"${id}".*\\}$`, "m"));
    const record = JSON.parse(line.trim().split("\n").find((l) => l.includes(id))!);
    expect(record).toMatchObject({ method: "GET", host: HOST, path: "/hello", status: 200, bytes_out: 12, proxy: HOST, kind: "proxy", request_id: id });
    expect(record.query).toBeUndefined();
  } finally {
    await gateway.stop();
  }
}, 30_000);

test("ACCESS_LOG=common: Common Log Format", async () => {
  const gateway = await gatewayWith("common");
  try {
    await requestThrough(gateway);
    const text = await gateway.waitForOutput(/^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/hello HTTP\/1\.1" 200 12$/m);
    expect(text).not.toContain("secret=1");
  } finally {
    await gateway.stop();
  }
}, 30_000);

test("off by default: no request lines", async () => {
  const gateway = await gatewayWith(undefined);
  try {
    const id = await requestThrough(gateway);
    await Bun.sleep(400);
    expect(gateway.output()).not.toContain(id);
    expect(gateway.output()).not.toContain('"GET /hello');
  } finally {
    await gateway.stop();
  }
}, 30_000);
