/**
 * Every request the edge answers becomes a record in Redis, written by the
 * batched writer: proxied, refused, WebSocket and event-stream requests,
 * through a real gateway over real sockets to real backends.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { closedPort } from "../helpers/ports";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { streamBackend } from "../helpers/stream-backend";
import type { RequestRecord } from "../../src/consumers/request-log/record";
import { requestLogKeys } from "../../src/consumers/request-log/keys";

let redis: TestRedis;
let gw: TestGateway;
const backend = namedBackend("records");
const streams = streamBackend();
// Answers its head only after the gateway's request timeout (0.5 s).
const slow = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Bun.sleep(1_500).then(() => new Response("late")) });

const RETENTION_HOURS = 2;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { PROXY_REQUEST_TIMEOUT: "0.5", LOG_RETENTION_HOURS: String(RETENTION_HOURS), NODE_ID: "node-a" });
  const proxies: [string, string][] = [
    ["app.records.test", `http://127.0.0.1:${backend.port}`],
    ["down.records.test", `http://127.0.0.1:${closedPort()}`],
    ["slow.records.test", `http://127.0.0.1:${slow.port}`],
    ["streams.records.test", `http://127.0.0.1:${streams.port}`],
    ["guarded.records.test", `http://127.0.0.1:${backend.port}`],
    ["query.records.test", `http://127.0.0.1:${backend.port}`],
  ];
  for (const [hostname, target_url] of proxies) {
    expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url, enable_https: false })).status).toBe(201);
  }
  expect((await gw.api("POST", "/api/v1/proxy/targets/guarded.records.test/auth", { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  expect((await gw.api("PUT", "/api/v1/proxy/targets/query.records.test", { log_query: true })).status).toBe(200);
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
  streams.stop(true);
  slow.stop(true);
});

/** Every stored record, by request id (read straight from the group hashes). */
async function storedRecords(): Promise<Map<string, RequestRecord>> {
  const records = new Map<string, RequestRecord>();
  for (const key of await redis.client.keys("req:*")) {
    for (const [id, json] of Object.entries(await redis.client.hgetall(key))) records.set(id, JSON.parse(json));
  }
  return records;
}

/** Waits for the writer's next flushes until the record of `requestId` is stored. */
async function recordOf(requestId: string | null): Promise<RequestRecord> {
  expect(requestId).toBeTruthy();
  for (let i = 0; i < 100; i++) {
    const record = (await storedRecords()).get(requestId!);
    if (record) return record;
    await Bun.sleep(20);
  }
  throw new Error(`no record for ${requestId}`);
}

async function groupKeyOf(requestId: string): Promise<string> {
  for (const key of await redis.client.keys("req:*")) if (await redis.client.hexists(key, requestId)) return key;
  throw new Error(`no group holds ${requestId}`);
}

describe("records of proxied requests", () => {
  test("a 200 from the backend: who, what, how long, which backend, the ids the backend and client saw", async () => {
    const response = await gw.get("app.records.test", "/items/7?code=secret-code&page=2", { headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } });
    const seen = (await response.json()) as { headers: Record<string, string> };
    const requestId = response.headers.get("x-request-id");
    const record = await recordOf(requestId);
    expect(record).toMatchObject({
      node: "node-a",
      ip: "127.0.0.1",
      method: "GET",
      host: "app.records.test",
      path: "/items/7",
      status: 200,
      kind: "proxy",
      auth: "none",
      proxy: "app.records.test",
      backend: `http://127.0.0.1:${backend.port}`,
      request_id: requestId,
      trace_id: "0af7651916cd43dd8448eb211c80319c",
    });
    // No query unless the proxy asks for it: the code never reaches the log.
    expect(JSON.stringify(record)).not.toContain("secret-code");
    expect(record.bytes_out).toBe(Number(response.headers.get("content-length")));
    expect(record.duration_ms).toBeGreaterThan(0);
    expect(record.upstream_ms).toBeGreaterThan(0);
    expect(record.upstream_ms!).toBeLessThanOrEqual(record.duration_ms);
    expect(Math.abs(record.ts - Date.now())).toBeLessThan(10_000);
    // The backend got the same request id and a span of the client's trace.
    expect(seen.headers["x-request-id"]).toBe(requestId!);
    expect(seen.headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
  });

  test("a proxy with log_query keeps the query, with credentials redacted", async () => {
    const response = await gw.get("query.records.test", "/callback?page=2&code=secret-code&access_token=secret-token");
    await response.arrayBuffer();
    const record = await recordOf(response.headers.get("x-request-id"));
    expect(record.query).toBe("page=2&code=[redacted]&access_token=[redacted]");
    expect(JSON.stringify(record)).not.toContain("secret-");
  });

  test("a POST's body size is recorded as bytes_in", async () => {
    const response = await gw.get("app.records.test", "/upload", { method: "POST", body: "x".repeat(1234) });
    await response.arrayBuffer();
    expect((await recordOf(response.headers.get("x-request-id"))).bytes_in).toBe(1234);
  });

  test("indexes name the record's group under ip, host, status and path", async () => {
    const response = await gw.get("app.records.test", "/indexed");
    await response.arrayBuffer();
    const id = response.headers.get("x-request-id")!;
    await recordOf(id);
    const group = await groupKeyOf(id);
    for (const index of [
      requestLogKeys.byIp("127.0.0.1"),
      requestLogKeys.byHost("app.records.test"),
      requestLogKeys.byStatus(200),
      requestLogKeys.byPath("GET", "/indexed"),
    ]) {
      expect(await redis.client.zscore(index, group)).not.toBeNull();
    }
    expect(await redis.client.zscore(requestLogKeys.errors, group)).toBeNull();
  });
});

describe("records of refused and failed requests", () => {
  test("unknown host: 404 from the gateway, indexed as an error", async () => {
    const response = await gw.get("nobody.records.test", "/x");
    await response.text();
    const id = response.headers.get("x-request-id")!;
    const record = await recordOf(id);
    expect(record).toMatchObject({ status: 404, kind: "gateway", error: "unknown_host", host: "nobody.records.test" });
    expect(record.proxy).toBeUndefined();
    expect(await redis.client.zscore(requestLogKeys.errors, await groupKeyOf(id))).not.toBeNull();
  });

  test("no token on a protected proxy: 401 with the reason", async () => {
    const response = await gw.get("guarded.records.test", "/private");
    await response.text();
    expect(response.status).toBe(401);
    const record = await recordOf(response.headers.get("x-request-id"));
    expect(record).toMatchObject({ status: 401, kind: "gateway", proxy: "guarded.records.test" });
    expect(record.auth).toMatch(/^401:/);
  });

  test("a backend that refuses connections: 502 with the failure kind", async () => {
    const response = await gw.get("down.records.test", "/");
    await response.text();
    expect(await recordOf(response.headers.get("x-request-id"))).toMatchObject({ status: 502, error: "refused", kind: "proxy", proxy: "down.records.test" });
  });

  test("a backend that does not answer in time: 504", async () => {
    const response = await gw.get("slow.records.test", "/");
    await response.text();
    expect(await recordOf(response.headers.get("x-request-id"))).toMatchObject({ status: 504, error: "request_timeout" });
  });
});

describe("records of long-lived exchanges", () => {
  test("an event stream is recorded when it ends, with the bytes it carried", async () => {
    const controller = new AbortController();
    const response = await gw.get("streams.records.test", "/events", { signal: controller.signal });
    const id = response.headers.get("x-request-id")!;
    const reader = response.body!.getReader();
    let received = 0;
    while (received < 30) received += (await reader.read()).value?.length ?? 0;
    // Still open: nothing is recorded yet.
    await Bun.sleep(250);
    expect((await storedRecords()).has(id)).toBe(false);
    controller.abort();
    const record = await recordOf(id);
    expect(record.status).toBe(200);
    expect(record.bytes_out).toBeGreaterThanOrEqual(received);
    expect(record.duration_ms).toBeGreaterThan(250);
  });

  test("a WebSocket upgrade is recorded as 101", async () => {
    const before = new Set((await storedRecords()).keys());
    const ws = new WebSocket(`ws://127.0.0.1:${gw.gateway.httpPort}/socket`, { headers: { host: "streams.records.test" } } as any);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    ws.close();
    let found: RequestRecord | undefined;
    for (let i = 0; i < 100 && !found; i++) {
      found = [...(await storedRecords()).values()].find((r) => !before.has(r.request_id) && r.path === "/socket");
      if (!found) await Bun.sleep(20);
    }
    expect(found).toMatchObject({ status: 101, kind: "websocket", proxy: "streams.records.test" });
  });
});

describe("what the log keeps", () => {
  test("every key it wrote expires within LOG_RETENTION_HOURS", async () => {
    const keys = [
      ...(await redis.client.keys("req:*")),
      ...(await redis.client.keys("idx:req:*")),
      ...(await redis.client.keys("stats:*")),
      requestLogKeys.stream,
    ];
    expect(keys.length).toBeGreaterThan(10);
    for (const key of keys) {
      const ttl = await redis.client.ttl(key);
      expect({ key, ttl: ttl > 0 && ttl <= RETENTION_HOURS * 3600 }).toEqual({ key, ttl: true });
    }
  });

  test("hourly counts and unique client addresses per host", async () => {
    const hour = (await redis.client.keys("stats:requests:*"))[0]!;
    const counts = await redis.client.hgetall(hour);
    expect(Number(counts.total)).toBeGreaterThanOrEqual(8);
    expect(Number(counts["host:app.records.test"])).toBeGreaterThanOrEqual(3);
    const bucket = hour.slice("stats:requests:".length);
    expect(await redis.client.pfcount(requestLogKeys.uniqueIps("app.records.test", bucket))).toBe(1);
    const errors = await redis.client.hgetall(requestLogKeys.hourlyErrors(bucket));
    expect(Number(errors["host:down.records.test"])).toBe(1);
  });

  test("the live stream names each flush's groups", async () => {
    const response = await gw.get("app.records.test", "/streamed");
    await response.arrayBuffer();
    const id = response.headers.get("x-request-id")!;
    await recordOf(id);
    const entries = (await redis.client.xrange(requestLogKeys.stream, "-", "+")) as [string, string[]][];
    const named = entries.flatMap(([, fields]) => (fields[0] === "groups" ? (JSON.parse(fields[1]!) as string[]) : []));
    expect(named).toContain(await groupKeyOf(id));
  });
});
