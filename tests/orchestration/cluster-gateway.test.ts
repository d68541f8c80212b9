/**
 * The registry as a whole gateway runs it: two nodes on one Redis each list
 * themselves with the ports they bound, /health names the node that answered,
 * edge traffic shows up as load, and a clean stop leaves the node `stopped`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

let redis: TestRedis;
let a: TestGateway;
let b: TestGateway | undefined;

beforeAll(async () => {
  redis = await startTestRedis();
  a = await startTestGateway(redis, { NODE_ID: "gw-a", CLUSTER_HEARTBEAT_SECONDS: "1" });
  b = await startTestGateway(redis, { NODE_ID: "gw-b", CLUSTER_HEARTBEAT_SECONDS: "1" });
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await redis?.stop();
});

test("each node lists itself with the ports it bound, and sees the other", async () => {
  const { status, json } = await a.api("GET", "/api/v1/cluster/nodes");
  expect(status).toBe(200);
  const byId = new Map(json.nodes.map((n: { node_id: string }) => [n.node_id, n]));
  expect([...byId.keys()].sort()).toEqual(["gw-a", "gw-b"]);
  const nodeA = byId.get("gw-a") as any;
  expect(nodeA.state).toBe("up");
  expect(nodeA.pid).toBe(process.pid);
  const ports = Object.fromEntries(nodeA.listeners.map((l: { name: string; port: number }) => [l.name, l.port]));
  expect(ports).toMatchObject({ api: a.gateway.apiPort, http: a.gateway.httpPort, https: a.gateway.httpsPort, proxy_protocol: a.gateway.proxyProtocolPort });
  expect((await b!.api("GET", "/api/v1/cluster/nodes/gw-a")).json.listeners).toEqual(nodeA.listeners);
});

test("/health names the node that answered, beside its event-stream lag", async () => {
  const health = (await (await fetch(`http://127.0.0.1:${a.gateway.apiPort}/health`)).json()) as any;
  expect(health.node_id).toBe("gw-a");
  expect(health.event_stream).toMatchObject({ stream: "events:workflow" });
});

test("edge traffic becomes the node's requests per second", async () => {
  const busy = within(8_000, async () => {
    await Promise.all(Array.from({ length: 20 }, () => a.get("nobody.test").then((r) => r.arrayBuffer())));
    return (await a.api("GET", "/api/v1/cluster/nodes/gw-a")).json.load.requests_per_second > 0;
  });
  expect(await busy).toBe(true);
});

test("a node that stops cleanly is shown stopped by the others", async () => {
  await b!.stop();
  b = undefined;
  const node = (await a.api("GET", "/api/v1/cluster/nodes/gw-b")).json;
  expect(node.state).toBe("stopped");
  expect((await a.api("GET", "/api/v1/cluster/nodes")).json.up).toBe(1);
});
