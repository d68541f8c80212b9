/**
 * Redis Sentinel (REDIS_SENTINELS): the compiled gateway finds the master
 * through real sentinels. When the master is killed, proxied requests keep
 * being answered from memory — none fails — and once the sentinels have
 * promoted the replica, API writes, the config fan-out, the request log and
 * /health work again against the new master, without a restart. A backup
 * asks the sentinels which server to read.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary, runCli, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { startSentinelGroup, type SentinelGroup } from "../helpers/redis-sentinel";
import { tempDir } from "../helpers/temp";

const ADMIN = `acm_${"5e".repeat(32)}`;
const BEFORE = "before-failover.example.test";
const AFTER = "after-failover.example.test";
/** The database REDIS_URL names; its host is not a server anyone runs (the sentinels name the master). */
const DB = 2;

let group: SentinelGroup;
let gateway: RunningGateway | undefined;
const backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(`backend ${new URL(req.url).pathname}`) });

beforeAll(async () => {
  [group] = await Promise.all([startSentinelGroup({ sentinels: 3 }), ensureBinary()]);
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  await group?.stop();
  backend.stop(true);
});

const sentinelEnv = () => ({
  REDIS_SENTINELS: group.sentinelList,
  REDIS_SENTINEL_NAME: group.name,
  REDIS_SENTINEL_PASSWORD: group.sentinelPassword,
  REDIS_URL: `redis://:${group.password}@the-sentinels-name-the-master.invalid/${DB}`,
});

const api = (method: string, path: string, body?: unknown) =>
  fetch(`${gateway!.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });

const createProxy = (hostname: string) => api("POST", "/api/v1/proxy/targets", { hostname, target_url: backend.url.href, enable_https: false });

async function proxied(hostname: string, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${gateway!.httpPort}${path}`, { headers: { host: hostname } });
  return { status: response.status, text: await response.text() };
}

async function until<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    await Bun.sleep(50);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms\n${gateway?.output().slice(-4000)}`);
}

test("the master is killed: proxied requests never fail, writes resume on the promoted replica", async () => {
  const dataDir = tempDataDir();
  gateway = await startGatewayProcess({ dataDir, env: { ...sentinelEnv(), ADMIN_TOKEN: ADMIN, LOG_LEVEL: "INFO" } });
  await gateway.waitForHealthy(20_000);
  // No embedded Redis: the sentinels' master holds the data, in REDIS_URL's database.
  expect(existsSync(join(dataDir, "redis"))).toBe(false);
  expect(JSON.parse((await group.client(group.masterPort, DB).get("token:admin"))!).role).toBe("admin");
  expect(await group.client(group.masterPort, 0).exists("token:admin")).toBe(0);

  expect((await createProxy(BEFORE)).status).toBe(201);
  await until("the first proxy serves", 10_000, async () => ((await proxied(BEFORE, "/warm")).status === 200 ? true : undefined));

  // Four clients that never retry, each sending one request after another for the whole test.
  const failures: string[] = [];
  let answered = 0;
  let running = true;
  const client = async (n: number) => {
    for (let i = 0; running; i++) {
      const path = `/c${n}/${i}`;
      try {
        const { status, text } = await proxied(BEFORE, path);
        if (status !== 200 || text !== `backend ${path}`) failures.push(`${path}: ${status} ${text.slice(0, 200)}`);
        else answered++;
      } catch (err) {
        failures.push(`${path}: ${(err as Error).message}`);
      }
    }
  };
  const clients = [0, 1, 2, 3].map(client);
  try {
    await Bun.sleep(300);
    const killedAt = Date.now();
    await group.killMaster();
    const answeredAtKill = answered;

    // The sentinels notice (down-after 1 s), agree and promote the replica.
    await until("the sentinels promote the replica", 20_000, async () => ((await group.currentMasterPort()) === group.replicaPort ? true : undefined));
    // The gateway finds the new master by itself: the first write that goes through.
    const created = await until("an API write succeeds after the failover", 20_000, async () => {
      const response = await createProxy(AFTER);
      return response.status === 201 ? response : undefined;
    });
    const writableAfterMs = Date.now() - killedAt;
    const answeredDuringFailover = answered - answeredAtKill;
    expect(created.status).toBe(201);
    // Fanned out through the event stream on the new master, then served.
    const served = await until("the proxy created after the failover serves", 10_000, async () => {
      const answer = await proxied(AFTER, "/new");
      return answer.status === 200 ? answer : undefined;
    });
    expect(served.text).toBe("backend /new");
    const health = await until("/health says redis ok", 10_000, async () => {
      const response = await fetch(`${gateway!.apiUrl}/health`);
      return response.status === 200 ? ((await response.json()) as { status: string; redis: string }) : undefined;
    });
    expect(health).toMatchObject({ status: "healthy", redis: "ok" });
    // The request log reaches the new master too.
    await until("a request after the failover is in the request log", 10_000, async () => {
      const response = await api("GET", `/api/v1/logs/host/${AFTER}`);
      const body = (await response.json()) as { records: { path: string }[] };
      return body.records.some((r) => r.path === "/new") ? true : undefined;
    });
    expect(JSON.parse((await group.client(group.replicaPort, DB).get("token:admin"))!).role).toBe("admin");

    running = false;
    await Promise.all(clients);
    console.log(`failover: API writable again ${writableAfterMs} ms after the master was killed; ${answeredDuringFailover} proxied requests answered meanwhile, ${answered} in all, ${failures.length} failed`);
    expect(failures).toEqual([]);
    // The clients kept going through the whole outage, not only before or after it.
    expect(answeredDuringFailover).toBeGreaterThan(50);
    // Passwords are never logged.
    expect(gateway.output()).not.toContain(group.password);
    expect(gateway.output()).not.toContain(group.sentinelPassword);
  } finally {
    running = false;
    await Promise.all(clients);
  }
}, 60_000);

test("portcullis backup reads the master the sentinels name now", async () => {
  const out = join(tempDir("sentinel-backup"), "gateway.tar.gz");
  const { code, stdout, stderr } = await runCli(["backup", out], { ...sentinelEnv(), PORTCULLIS_DATA_DIR: tempDataDir() });
  expect(code).toBe(0);
  expect(stderr).not.toContain(group.password);
  // The promoted replica, named by address without its password.
  expect(stdout).toContain(`redis://127.0.0.1:${group.replicaPort}/${DB}`);
  expect(stdout).not.toContain(group.password);
  expect(existsSync(out)).toBe(true);
}, 30_000);

test("no sentinel answers: backup says so and exits non-zero", async () => {
  const env = { ...sentinelEnv(), REDIS_SENTINELS: "127.0.0.1:1", PORTCULLIS_DATA_DIR: tempDataDir() };
  const { code, stderr } = await runCli(["backup", join(tempDir("sentinel-backup"), "x.tar.gz")], env);
  expect(code).not.toBe(0);
  expect(stderr).toContain(`no sentinel named the master of "${group.name}"`);
}, 30_000);
