/**
 * Three whole gateways on one Redis, proxies created through the API of
 * each: every proxy's local-CA certificate is signed by exactly one node
 * (whichever claimed its `proxy_created` event), the API answer already shows
 * it, and /metrics counts what each node handled.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { parsePrometheusText, samples } from "../helpers/prometheus-text";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
const nodes: { gw: TestGateway; lines: string[]; id: string }[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  for (const id of ["gw-a", "gw-b", "gw-c"]) {
    const lines: string[] = [];
    nodes.push({ gw: await startTestGateway(redis, { AUTO_CERTIFICATES: "true", NODE_ID: id }, { logLines: lines }), lines, id });
  }
});
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.gw.stop()));
  await redis?.stop();
});

async function scrape(gw: TestGateway) {
  const res = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`);
  return parsePrometheusText(await res.text());
}

test("three nodes, proxies created through each: one certificate signing per proxy, shown in the answer", async () => {
  const hostnames: string[] = [];
  for (let i = 0; i < 6; i++) {
    const { gw } = nodes[i % 3]!;
    const hostname = `svc-${i}.test`;
    hostnames.push(hostname);
    const res = await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: "http://127.0.0.1:9" });
    expect(res.status).toBe(201);
    // Signed by whichever node claimed the event, before the answer.
    expect(res.json).toMatchObject({ cert_name: `proxy-svc-${i}-test`, certificate: `proxy-svc-${i}-test` });
  }
  const signings = nodes.flatMap(({ lines, id }) =>
    lines
      .map((l) => JSON.parse(l) as { msg: string; cert_name?: string })
      .filter((l) => l.msg === "certificate signed by the local CA")
      .map((l) => ({ cert: l.cert_name!, node: id })),
  );
  expect(signings.map((s) => s.cert).sort()).toEqual(hostnames.map((h) => `proxy-${h.replace(/\./g, "-")}`).sort());
  const pending = (await redis.client.xpending(keys.workflowStream, keys.workflowGroup)) as [number];
  expect(Number(pending[0])).toBe(0);

  // /metrics of the three nodes: together they handled each proxy_created once.
  let handled = 0;
  for (const { gw } of nodes) {
    const families = await scrape(gw);
    const mine = samples(families, "portcullis_workflow_events_total").filter((s) => s.labels.event_type === "proxy_created");
    handled += mine.find((s) => s.labels.result === "handled")?.value ?? 0;
    expect(mine.find((s) => s.labels.result === "dead_lettered")?.value).toBe(0);
    expect(samples(families, "portcullis_workflow_pending")).toHaveLength(1);
  }
  expect(handled).toBe(6);

  // The consumers that were given entries are named after their node's NODE_ID; no other consumer is in the group.
  const consumers = ((await redis.client.xinfo("CONSUMERS", keys.workflowStream, keys.workflowGroup)) as string[][]).map((c) => c[1]!);
  expect(consumers.length).toBeGreaterThanOrEqual(1);
  expect(consumers.length).toBeLessThanOrEqual(3);
  for (const name of consumers) expect(name).toMatch(/^gw-[abc]-[0-9a-f]{8}$/);
});
