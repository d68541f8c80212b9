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
import { httpRequest, proxyHeader, rawExchange } from "../helpers/proxy-protocol-client";
import { storedRequestRecords } from "../helpers/stored-request-records";

let redis: TestRedis;
let gw: TestGateway;
const backend = namedBackend("records");
const streams = streamBackend();
// Answers its head only after the gateway's request timeout (0.5 s).
const slow = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Bun.sleep(1_500).then(() => new Response("late")) });

const RETENTION_HOURS = 2;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, {
    PROXY_REQUEST_TIMEOUT: "0.5",
    LOG_RETENTION_HOURS: String(RETENTION_HOURS),
    NODE_ID: "node-a",
    // A load balancer at 10.9.9.9 (it reaches the gateway through the PROXY protocol port in these tests).
    TRUSTED_PROXY_CIDRS: "10.9.9.9/32",
    API_HOSTNAME: "api.records.test",
  });
  const proxies: [string, string][] = [
    ["app.records.test", `http://127.0.0.1:${backend.port}`],
    ["down.records.test", `http://127.0.0.1:${closedPort()}`],
    ["slow.records.test", `http://127.0.0.1:${slow.port}`],
    ["streams.records.test", `http://127.0.0.1:${streams.port}`],
    ["guarded.records.test", `http://127.0.0.1:${backend.port}`],
    ["query.records.test", `http://127.0.0.1:${backend.port}`],
    ["mcp.records.test", `http://127.0.0.1:${backend.port}`],
    ["secure.records.test", `http://127.0.0.1:${backend.port}`],
  ];
  for (const [hostname, target_url] of proxies) {
    expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url, enable_https: false })).status).toBe(201);
  }
  expect((await gw.api("POST", "/api/v1/proxy/targets/guarded.records.test/auth", { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  expect((await gw.api("PUT", "/api/v1/proxy/targets/query.records.test", { log_query: true })).status).toBe(200);
  expect((await gw.api("PUT", "/api/v1/proxy/targets/guarded.records.test", { auth_allowed_audiences: ["https://guarded.records.test"], auth_required_users: ["tester"] })).status).toBe(200);
  expect((await gw.api("POST", "/api/v1/proxy/targets/mcp.records.test/resource", { resource_endpoint: "/mcp" })).status).toBe(200);
  // HTTPS only: plain HTTP gets a redirect.
  expect((await gw.api("PUT", "/api/v1/proxy/targets/secure.records.test", { enable_http: false, enable_https: true })).status).toBe(200);
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
  for (const [id, { record }] of await storedRequestRecords(redis.client)) records.set(id, record);
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
  const stored = (await storedRequestRecords(redis.client)).get(requestId);
  if (stored) return stored.groupKey;
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

describe("who the client was", () => {
  test("a token the edge accepted: auth ok, its user and client", async () => {
    const minted = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource: "https://guarded.records.test", username: "Tester" });
    expect(minted.status).toBe(201);
    const response = await gw.get("guarded.records.test", "/private", { headers: { authorization: `Bearer ${minted.json.access_token}` } });
    await response.arrayBuffer();
    expect(response.status).toBe(200);
    expect(await recordOf(response.headers.get("x-request-id"))).toMatchObject({ status: 200, auth: "ok", user: "tester", client_id: "portcullis-admin", kind: "proxy" });
  });

  test("through the PROXY protocol: the address in the header, not the relay's", async () => {
    const exchange = await rawExchange(gw.gateway.proxyProtocolPort, [proxyHeader(1, { address: "192.0.2.77", port: 4242 }), httpRequest("app.records.test", "/relayed")]);
    const id = /x-request-id: (\S+)/i.exec(exchange.received)?.[1] ?? null;
    expect(await recordOf(id)).toMatchObject({ ip: "192.0.2.77", path: "/relayed", status: 200 });
  });

  test("behind a trusted load balancer: the client it forwarded for; a forged entry left of it is ignored", async () => {
    const exchange = await rawExchange(gw.gateway.proxyProtocolPort, [
      proxyHeader(1, { address: "10.9.9.9", port: 4242 }),
      httpRequest("app.records.test", "/balanced", { "x-forwarded-for": "6.6.6.6, 198.51.100.23" }),
    ]);
    const id = /x-request-id: (\S+)/i.exec(exchange.received)?.[1] ?? null;
    const record = await recordOf(id);
    expect(record.ip).toBe("198.51.100.23");
    expect(await redis.client.zcard(requestLogKeys.byIp("198.51.100.23"))).toBeGreaterThan(0);
    // The same header from a peer nobody trusts counts for nothing.
    const untrusted = await gw.get("app.records.test", "/balanced", { headers: { "x-forwarded-for": "198.51.100.23" } });
    await untrusted.arrayBuffer();
    expect((await recordOf(untrusted.headers.get("x-request-id"))).ip).toBe("127.0.0.1");
  });
});

describe("records of the gateway's own answers", () => {
  test("an MCP call: the JSON-RPC method and the tool", async () => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "search", arguments: { q: "x" } } });
    const response = await gw.get("mcp.records.test", "/mcp", {
      method: "POST",
      body,
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    });
    await response.arrayBuffer();
    expect(await recordOf(response.headers.get("x-request-id"))).toMatchObject({ path: "/mcp", mcp_method: "tools/call", mcp_tool: "search", bytes_in: body.length });
  });

  test("an MCP body that is not JSON-RPC still goes to the backend as it came (reading it for the record refuses nothing)", async () => {
    const response = await gw.get("mcp.records.test", "/mcp", { method: "POST", body: "{not json", headers: { "content-type": "application/json" } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { backend: string }).backend).toBe("records");
    const record = await recordOf(response.headers.get("x-request-id"));
    expect(record.mcp_method).toBeUndefined();
    expect(record.bytes_in).toBe(9);
  });

  test("a redirect to HTTPS", async () => {
    const response = await gw.get("secure.records.test", "/page", { redirect: "manual" });
    expect(response.status).toBe(308);
    expect(await recordOf(response.headers.get("x-request-id"))).toMatchObject({ status: 308, kind: "gateway", proxy: "secure.records.test" });
  });

  test("the API through an API_HOSTNAME", async () => {
    const response = await gw.get("api.records.test", "/api/v1/proxy/targets/");
    await response.arrayBuffer();
    expect(response.status).toBe(401);
    expect(await recordOf(response.headers.get("x-request-id"))).toMatchObject({ status: 401, kind: "api", host: "api.records.test" });
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
    // 127.0.0.1, the PROXY protocol client and the client behind the trusted balancer.
    expect(await redis.client.pfcount(requestLogKeys.uniqueIps("app.records.test", bucket))).toBe(3);
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
