/**
 * A rate limit shared by two gateway nodes on one Redis, over TLS, in front
 * of a real SDK MCP server, with minted tokens; each test uses its own user,
 * so its own counters. The budget is one for the cluster within the stated
 * accuracy (src/mcp/rate-limit/cluster-counters.ts):
 * - calls on one node, then the other: the second knows the first's count
 *   exactly, and the first learns of the second's within a sync interval
 *   without calling;
 * - sequential calls alternating between the nodes: at most one call over
 *   the limit per other node;
 * - a burst on both nodes at once: at most (nodes − 1) × limit over, and
 *   both refuse once they have synced;
 * - Redis not answering never delays a call: the node goes on counting alone.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { servedEverywhere, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { gatewayFetch, type GatewayRoute } from "../helpers/mcp-client";
import { startMcpHandlerServer, type McpHandlerServer } from "../helpers/mcp-handler-server";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";
import { HOUR, outsideWindowEdge } from "../helpers/rate-windows";

const HOST = "shared.example.test";
const MCP_URL = `https://${HOST}/mcp`;
const LIMIT = 10;
const USERS = ["u1", "u2", "u3", "u4", "u5"];

let redis: TestRedis;
let nodeA: TestGateway;
let nodeB: TestGateway;
let backend: McpHandlerServer;
let routes: Map<TestGateway, GatewayRoute>;

beforeAll(async () => {
  redis = await startTestRedis();
  backend = startMcpHandlerServer();
  const env = { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: USERS.join(",") };
  [nodeA, nodeB] = await Promise.all([startTestGateway(redis, env), startTestGateway(redis, env)]);
  const cert = await nodeA.api("POST", "/api/v1/certificates/multi-domain", { cert_name: "shared", domains: [HOST], acme: false });
  expect(cert.status).toBe(201);
  const ca = (await nodeA.api("GET", "/api/v1/certificates/shared")).json.fullchain_pem as string;
  routes = new Map([nodeA, nodeB].map((node) => [node, { domainSuffix: ".example.test", httpsPort: node.gateway.httpsPort, ca }]));
  const proxy = {
    hostname: HOST,
    target_url: backend.url,
    cert_name: "shared",
    resource_endpoint: "/mcp",
    auth_enabled: true,
    auth_mode: "forward",
    // An hour's window: a test never straddles two (see outsideWindowEdge).
    mcp_rate_limits: [{ tool: "add", per_hour: LIMIT }],
  };
  expect((await nodeA.api("POST", "/api/v1/proxy/targets", proxy)).status).toBe(201);
  await servedEverywhere([nodeA, nodeB], HOST, new X509Certificate(ca).fingerprint256, 5_000);
  // Both nodes know the proxy, its auth and its limits.
  const probe = await mint("u1");
  for (const node of [nodeA, nodeB]) expect(await within(3_000, async () => (await call(node, probe, "whoami")).status === 200)).toBe(true);
  await outsideWindowEdge(HOUR, 30_000);
  // Setup plus up to 30 s waiting out the end of an hour.
}, 60_000);

afterAll(async () => {
  await nodeA?.stop();
  await nodeB?.stop();
  backend?.stop();
  await redis?.stop();
});

async function mint(username: string): Promise<string> {
  const res = await nodeA.api("POST", "/api/v1/oauth/test-tokens", { resource: MCP_URL, username, scope: "mcp:read" });
  expect(res.status).toBe(201);
  return res.json.access_token;
}

let nextId = 1;
function call(node: TestGateway, token: string, tool = "add"): Promise<Response> {
  const body = JSON.stringify({ jsonrpc: "2.0", id: nextId++, method: "tools/call", params: { name: tool, arguments: { a: 1, b: 2 } } });
  return gatewayFetch(routes.get(node)!)(MCP_URL, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
    body,
  });
}

/** 1 when the call went through, 0 when it was rate-limited; anything else fails the test. */
async function admitted(node: TestGateway, token: string): Promise<number> {
  const res = await call(node, token);
  await res.arrayBuffer();
  expect([200, 429]).toContain(res.status);
  return res.status === 200 ? 1 : 0;
}

/** Past the sync interval (100 ms) and a round trip: every node has sent and heard. */
const synced = () => Bun.sleep(300);

describe("one budget for the cluster", () => {
  test("calls on one node, then on the other: the second node knows the first's count exactly", async () => {
    const token = await mint("u1");
    let count = 0;
    for (let i = 0; i < 6; i++) count += await admitted(nodeA, token);
    expect(count).toBe(6);
    await synced();
    let onB = 0;
    for (let i = 0; i < 8; i++) onB += await admitted(nodeB, token);
    expect(onB).toBe(LIMIT - 6);
    await synced();
    expect(await admitted(nodeA, token)).toBe(0);
  });

  test("sequential calls alternating between the nodes: at most one call over the limit per other node", async () => {
    const token = await mint("u2");
    let total = 0;
    for (let i = 0; i < 2 * LIMIT; i++) total += await admitted(i % 2 === 0 ? nodeA : nodeB, token);
    console.log(`alternating sequential calls over 2 nodes, limit ${LIMIT}: ${total} admitted`);
    expect(total).toBeGreaterThanOrEqual(LIMIT);
    expect(total).toBeLessThanOrEqual(LIMIT + 1);
    await synced();
    expect((await admitted(nodeA, token)) + (await admitted(nodeB, token))).toBe(0);
  });

  test("a burst on both nodes at once: at most (nodes − 1) × limit over; once synced both refuse", async () => {
    const token = await mint("u3");
    // The token is checked once per node before the burst, so the burst is only about counting.
    expect((await call(nodeA, token, "whoami")).status).toBe(200);
    expect((await call(nodeB, token, "whoami")).status).toBe(200);
    const burst = await Promise.all(Array.from({ length: 2 * LIMIT }, (_, i) => admitted(i % 2 === 0 ? nodeA : nodeB, token)));
    const total = burst.reduce((a, b) => a + b, 0);
    console.log(`a burst of ${2 * LIMIT} parallel calls over 2 nodes, limit ${LIMIT}: ${total} admitted`);
    expect(total).toBeGreaterThanOrEqual(LIMIT);
    expect(total).toBeLessThanOrEqual(2 * LIMIT);
    await synced();
    expect((await admitted(nodeA, token)) + (await admitted(nodeB, token))).toBe(0);
  });

  test("other users keep their own budget on both nodes", async () => {
    const token = await mint("u4");
    expect((await admitted(nodeA, token)) + (await admitted(nodeB, token))).toBe(2);
  });
});

describe("without Redis", () => {
  test("a call never waits on Redis: with Redis paused the node answers at once and counts alone, then shares its count again", async () => {
    const token = await mint("u5");
    expect(await admitted(nodeA, token)).toBe(1);
    expect(await admitted(nodeB, token)).toBe(1);
    await synced();
    // Node A's second call brings it the cluster's count: 3.
    expect(await admitted(nodeA, token)).toBe(1);
    await synced();
    // Redis stops answering every client for 2 s.
    await redis.client.call("CLIENT", "PAUSE", "2000", "ALL");
    const started = performance.now();
    let onA = 0;
    for (let i = 0; i < LIMIT; i++) onA += await admitted(nodeA, token);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(1000);
    // Node A knew of 3 calls: it admits the rest of the budget by itself.
    expect(onA).toBe(LIMIT - 3);
    // Once Redis is back, node B learns of them with its next call (it may let that one through) and refuses
    // once Redis has answered that call: a call right behind it is still decided on B's old view (the file
    // comment of cluster-counters.ts), and on a loaded machine the answer can take longer than a call.
    await Bun.sleep(2500);
    await synced();
    const first = await admitted(nodeB, token);
    await synced();
    expect(first + (await admitted(nodeB, token))).toBeLessThanOrEqual(1);
    await synced();
    expect(await admitted(nodeB, token)).toBe(0);
  });
});
