/**
 * A node killed (SIGKILL, a real process) while it holds a workflow event:
 * another node claims the event after WORKFLOW_CLAIM_IDLE_MS and finishes
 * it, and the side effect still happens exactly once — whether the node died
 * before doing it or after doing it but before acknowledging it. Uses the
 * real certificate handler of `proxy_created` besides a counting one.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { CertificateManager } from "../../src/certificates/certificate-manager";
import { proxyCertificateHandler, type ProxyCertificateWork } from "../../src/certificates/proxy-certificate-workflow";
import { parseConfig } from "../../src/core/config";
import { createLogger } from "../../src/core/logger";
import { WorkflowConsumer } from "../../src/orchestration/workflow-consumer";
import { keys } from "../../src/storage/keys";
import type { ProxyRecord } from "../../src/storage/proxy-repository";
import { createStores } from "../../src/storage/stores";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";
import { countingHandler, EFFECT_LOG, EFFECTS, ENTERED, workflowNodeProcess } from "../helpers/workflow-node";
import { queuedJobs } from "../helpers/certificate-state";

const CLAIM_IDLE_MS = 1_000;
const ENV = { WORKFLOW_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS), WORKFLOW_MAX_DELIVERIES: "5", ACME_DIRECTORY_URL: "https://acme.example.test/directory" };

let redis: TestRedis;
const children: ReturnType<typeof Bun.spawn>[] = [];
const consumers: WorkflowConsumer[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(() => redis.stop());
beforeEach(() => redis.client.flushdb());
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  await Promise.all(consumers.splice(0).map((c) => c.stop()));
});

const config = parseConfig({ ...ENV, AUTO_CERTIFICATES: "true" });
const stores = () => createStores(redis.client);
const pending = async () => Number(((await redis.client.xpending(keys.workflowStream, keys.workflowGroup)) as [number])[0]);

/** An in-process node with the same handlers as the process node (no barrier); `lines` collects its log. */
async function survivor(nodeId: string, lines: string[] = []) {
  const log = createLogger("debug", { write: (line: string) => void lines.push(line) });
  const { proxies, certificates } = stores();
  const manager = new CertificateManager({ redis: redis.client, certificates, proxies, settings: config.certificates, httpPort: 80, selfSignedDays: 30, adminEmail: null, log });
  let name = "";
  const node = new WorkflowConsumer({
    redis: redis.client,
    handlers: new Map([
      ["test_effect", countingHandler(redis.client, () => name)],
      ["proxy_created", proxyCertificateHandler({ proxies, manager, log })],
    ]),
    settings: config.workflow,
    log,
    nodeId,
  });
  name = node.name;
  consumers.push(node);
  await node.start();
  return node;
}

/** Starts a process node; it is the only consumer until the test starts others. */
async function doomedNode(barrier: "before" | "after") {
  const node = await workflowNodeProcess({ REDIS_URL: redis.url, NODE_ID: "doomed", WORKFLOW_NODE_BARRIER: barrier, ...ENV });
  children.push(node.process);
  return node;
}

/** Waits until the process node is inside the handler of `id`, then kills it. */
async function killInside(node: { name: string; process: ReturnType<typeof Bun.spawn> }, id: string, ready: () => Promise<boolean> = async () => true) {
  expect(await within(15_000, async () => (await redis.client.get(ENTERED(id))) === node.name && (await ready()))).toBe(true);
  node.process.kill("SIGKILL");
  await node.process.exited;
}

/** A proxy stored as POST /proxy/targets stores it, with the certificate work in its proxy_created event; returns the event id. */
async function storeProxy(hostname: string, work: ProxyCertificateWork): Promise<string> {
  const now = new Date().toISOString();
  const record = { hostname, target_url: "http://127.0.0.1:9", cert_name: work.cert_name, enable_https: true, enable_http: true, owner_token_hash: "owner-hash", created_at: now, updated_at: now } as ProxyRecord;
  expect(await stores().proxies.create(record, { certificate: work })).toBe(true);
  const [[id]] = (await redis.client.xrevrange(keys.workflowStream, "+", "-", "COUNT", 1)) as [string, string[]][];
  return id!;
}

describe("a node killed while it holds an event", () => {
  test("before the side effect: another of three nodes does it after the claim timeout, once", async () => {
    const doomed = await doomedNode("before");
    const id = (await redis.client.xadd(keys.workflowStream, "*", "event_type", "test_effect", "hostname", "", "data", "{}", "timestamp", new Date().toISOString()))!;
    await killInside(doomed, id);
    const killedAt = Date.now();
    const others = [await survivor("node-b"), await survivor("node-c")];
    expect(await within(15_000, async () => (await redis.client.get(EFFECTS(id))) === "1" && (await pending()) === 0)).toBe(true);
    // Not before the claim timeout: the dead node's claim was respected until then (generous lower bound for a busy machine).
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(CLAIM_IDLE_MS - 200);
    const doneBy = await redis.client.lrange(EFFECT_LOG, 0, -1);
    expect(doneBy).toHaveLength(1);
    expect(others.map((o) => o.name)).toContain(doneBy[0]);
    await Bun.sleep(CLAIM_IDLE_MS * 2);
    expect(await redis.client.get(EFFECTS(id))).toBe("1");
  });

  test("a new proxy's local-CA certificate: the killed node never signed it, a survivor does, once", async () => {
    const doomed = await doomedNode("before");
    const id = await storeProxy("killed-before.test", { issuer: "local-ca", cert_name: "proxy-killed-before-test" });
    await killInside(doomed, id);
    const lines: string[] = [];
    await survivor("node-b", lines);
    expect(await within(15_000, async () => (await pending()) === 0 && (await stores().certificates.get("proxy-killed-before-test")) !== null)).toBe(true);
    const cert = (await stores().certificates.get("proxy-killed-before-test"))!;
    expect(cert).toMatchObject({ domains: ["killed-before.test"], issuer: "local-ca", owner_token_hash: "owner-hash" });
    expect(lines.filter((l) => l.includes("certificate signed by the local CA"))).toHaveLength(1);
  });

  test("after signing but before acknowledging: the survivor acknowledges it without a second certificate", async () => {
    const doomed = await doomedNode("after");
    const id = await storeProxy("killed-after.test", { issuer: "local-ca", cert_name: "proxy-killed-after-test" });
    await killInside(doomed, id, async () => (await stores().certificates.get("proxy-killed-after-test")) !== null);
    const signed = (await stores().certificates.get("proxy-killed-after-test"))!;
    const lines: string[] = [];
    await survivor("node-b", lines);
    expect(await within(15_000, async () => (await pending()) === 0)).toBe(true);
    // The same certificate as the dead node stored: nothing signed again.
    expect((await stores().certificates.get("proxy-killed-after-test"))!.fullchain_pem).toBe(signed.fullchain_pem);
    expect(lines.filter((l) => l.includes("certificate signed by the local CA"))).toHaveLength(0);
  });

  test("after queueing the ACME request but before acknowledging: still one request (its done marker was in the request's transaction)", async () => {
    const doomed = await doomedNode("after");
    const id = await storeProxy("killed.example.com", { issuer: "acme", cert_name: "proxy-killed-example-com", email: "ops@example.org", staging: false });
    await killInside(doomed, id, async () => (await queuedJobs(redis.client)).length === 1);
    expect(await redis.client.exists(keys.workflowDone(id))).toBe(1);
    // Even a request that ended meanwhile (its status gone) is not asked for again.
    await redis.client.del(keys.certificateStatus("proxy-killed-example-com"));
    await survivor("node-b");
    expect(await within(15_000, async () => (await pending()) === 0)).toBe(true);
    const jobs = await queuedJobs(redis.client);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ cert_name: "proxy-killed-example-com", domains: ["killed.example.com"], email: "ops@example.org", owner_token_hash: "owner-hash" });
  });
});
