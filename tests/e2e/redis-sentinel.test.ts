/**
 * Redis Sentinel (REDIS_SENTINELS): the compiled gateway finds the master
 * through real sentinels. When the master is killed, or hangs and comes back
 * as a stale master, proxied requests keep being answered from memory — none
 * fails — and once the sentinels have promoted the replica, API writes, the
 * config fan-out, the request log and /health work against the new master,
 * without a restart. A backup asks the sentinels which server to read.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary, ROOT, runCli, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { justBinary } from "../helpers/just-dry-run";
import { startSentinelGroup, type SentinelGroup } from "../helpers/redis-sentinel";
import { tempDir } from "../helpers/temp";

const ADMIN = `acm_${"5e".repeat(32)}`;
const BEFORE = "before-failover.example.test";
const AFTER = "after-failover.example.test";
/** The database REDIS_URL names; its host is not a server anyone runs (the sentinels name the master). */
const DB = 2;

const groups: SentinelGroup[] = [];
const gateways: RunningGateway[] = [];
const backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(`backend ${new URL(req.url).pathname}`) });

beforeAll(() => ensureBinary(), 120_000);
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all(groups.map((g) => g.stop()));
  backend.stop(true);
});

async function newGroup(): Promise<SentinelGroup> {
  const group = await startSentinelGroup({ sentinels: 3 });
  groups.push(group);
  return group;
}

const sentinelEnv = (group: SentinelGroup) => ({
  REDIS_SENTINELS: group.sentinelList,
  REDIS_SENTINEL_NAME: group.name,
  REDIS_SENTINEL_PASSWORD: group.sentinelPassword,
  REDIS_URL: `redis://:${group.password}@the-sentinels-name-the-master.invalid/${DB}`,
});

async function startGateway(group: SentinelGroup, dataDir = tempDataDir()): Promise<RunningGateway> {
  const gateway = await startGatewayProcess({ dataDir, env: { ...sentinelEnv(group), ADMIN_TOKEN: ADMIN, LOG_LEVEL: "INFO" } });
  gateways.push(gateway);
  await gateway.waitForHealthy(20_000);
  return gateway;
}

function api(gateway: RunningGateway, method: string, path: string, body?: unknown) {
  return fetch(`${gateway.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

const createProxy = (gateway: RunningGateway, hostname: string) =>
  api(gateway, "POST", "/api/v1/proxy/targets", { hostname, target_url: backend.url.href, enable_https: false });

async function proxied(gateway: RunningGateway, hostname: string, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${gateway.httpPort}${path}`, { headers: { host: hostname } });
  return { status: response.status, text: await response.text() };
}

async function until<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>, gateway?: RunningGateway): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    await Bun.sleep(50);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms\n${gateway?.output().slice(-4000) ?? ""}`);
}

/** Four clients that never retry, each sending one request after another until stopped. */
function proxiedLoad(gateway: RunningGateway, hostname: string) {
  const failures: string[] = [];
  let answered = 0;
  let running = true;
  const client = async (n: number) => {
    for (let i = 0; running; i++) {
      const path = `/c${n}/${i}`;
      try {
        const { status, text } = await proxied(gateway, hostname, path);
        if (status !== 200 || text !== `backend ${path}`) failures.push(`${path}: ${status} ${text.slice(0, 200)}`);
        else answered++;
      } catch (err) {
        failures.push(`${path}: ${(err as Error).message}`);
      }
    }
  };
  const clients = [0, 1, 2, 3].map(client);
  return {
    failures,
    get answered() {
      return answered;
    },
    async stop() {
      running = false;
      await Promise.all(clients);
    },
  };
}

test("the master is killed: proxied requests never fail, writes resume on the promoted replica", async () => {
  const group = await newGroup();
  const dataDir = tempDataDir();
  const gateway = await startGateway(group, dataDir);
  // No embedded Redis: the sentinels' master holds the data, in REDIS_URL's database.
  expect(existsSync(join(dataDir, "redis"))).toBe(false);
  expect(JSON.parse((await group.client(group.masterPort, DB).get("token:admin"))!).role).toBe("admin");
  expect(await group.client(group.masterPort, 0).exists("token:admin")).toBe(0);

  expect((await createProxy(gateway, BEFORE)).status).toBe(201);
  await until("the first proxy serves", 10_000, async () => ((await proxied(gateway, BEFORE, "/warm")).status === 200 ? true : undefined));

  const load = proxiedLoad(gateway, BEFORE);
  try {
    await Bun.sleep(300);
    const killedAt = Date.now();
    await group.killMaster();
    const answeredAtKill = load.answered;

    // The sentinels notice (down-after 1 s), agree and promote the replica.
    await until("the sentinels promote the replica", 20_000, async () => ((await group.currentMasterPort()) === group.replicaPort ? true : undefined));
    // The gateway finds the new master by itself: the first write that goes through.
    await until("an API write succeeds after the failover", 20_000, async () => ((await createProxy(gateway, AFTER)).status === 201 ? true : undefined), gateway);
    const writableAfterMs = Date.now() - killedAt;
    const answeredDuringFailover = load.answered - answeredAtKill;
    // Fanned out through the event stream on the new master, then served.
    const served = await until("the proxy created after the failover serves", 10_000, async () => {
      const answer = await proxied(gateway, AFTER, "/new");
      return answer.status === 200 ? answer : undefined;
    });
    expect(served.text).toBe("backend /new");
    const health = await until("/health says redis ok", 10_000, async () => {
      const response = await fetch(`${gateway.apiUrl}/health`);
      return response.status === 200 ? ((await response.json()) as { status: string; redis: string }) : undefined;
    });
    expect(health).toMatchObject({ status: "healthy", redis: "ok" });
    // The request log reaches the new master too.
    await until("a request after the failover is in the request log", 10_000, async () => {
      const response = await api(gateway, "GET", `/api/v1/logs/host/${AFTER}`);
      const body = (await response.json()) as { records: { path: string }[] };
      return body.records.some((r) => r.path === "/new") ? true : undefined;
    });
    expect(JSON.parse((await group.client(group.replicaPort, DB).get("token:admin"))!).role).toBe("admin");

    await load.stop();
    console.log(`failover (kill): API writable again ${writableAfterMs} ms after the master was killed; ${answeredDuringFailover} proxied requests answered meanwhile, ${load.answered} in all, ${load.failures.length} failed`);
    expect(load.failures).toEqual([]);
    // The clients kept going through the whole outage, not only before or after it.
    expect(answeredDuringFailover).toBeGreaterThan(50);
    // Passwords are never logged.
    expect(gateway.output()).not.toContain(group.password);
    expect(gateway.output()).not.toContain(group.sentinelPassword);

    // `portcullis backup` asks the sentinels, and reads the promoted replica.
    const out = join(tempDir("sentinel-backup"), "gateway.tar.gz");
    const backup = await runCli(["backup", out], { ...sentinelEnv(group), PORTCULLIS_DATA_DIR: tempDataDir() });
    expect(backup.code).toBe(0);
    expect(backup.stdout).toContain(`redis://127.0.0.1:${group.replicaPort}/${DB}`);
    expect(backup.stdout + backup.stderr).not.toContain(group.password);
    expect(existsSync(out)).toBe(true);
    // And `portcullis restore` writes there (--force: the database holds the gateway's keys), with the gateway
    // stopped first as docs/operations.md says: its heartbeat and request log would otherwise write keys the
    // restore is copying (BUSYKEY, tests/backup/backup-restore.test.ts).
    await gateway.stop();
    const restore = await runCli(["restore", out, "--force"], { ...sentinelEnv(group), PORTCULLIS_DATA_DIR: tempDataDir() });
    // stderr alongside: a failed restore says why.
    expect({ code: restore.code, stderr: restore.code === 0 ? "" : restore.stderr }).toEqual({ code: 0, stderr: "" });
    expect(restore.stdout).toContain(`redis://127.0.0.1:${group.replicaPort}/${DB}`);
    expect(JSON.parse((await group.client(group.replicaPort, DB).get("token:admin"))!).role).toBe("admin");

    // `just redis-cli` too: the promoted replica, REDIS_URL's database.
    if (justBinary) {
      const child = Bun.spawn([justBinary, "--justfile", join(ROOT, "justfile"), "redis-cli", "GET", "token:admin"], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("home"), ...sentinelEnv(group) },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
      expect(JSON.parse(stdout).role).toBe("admin");
    }
  } finally {
    await load.stop();
  }
}, 60_000);

test("the master hangs and comes back: no write answered 201 is lost to the stale master", async () => {
  const group = await newGroup();
  const gateway = await startGateway(group);
  expect((await createProxy(gateway, BEFORE)).status).toBe(201);
  await until("the proxy serves", 10_000, async () => ((await proxied(gateway, BEFORE, "/warm")).status === 200 ? true : undefined));

  const load = proxiedLoad(gateway, BEFORE);
  const accepted: string[] = [];
  try {
    // Hung, not dead: its sockets stay open, and it will wake up still calling itself the master.
    group.pauseMaster();
    await until("the sentinels promote the replica", 20_000, async () => ((await group.currentMasterPort()) === group.replicaPort ? true : undefined));

    // Writes go on while the old master wakes up and until the sentinels have turned it into a replica.
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const hostname = `w${i}.after-pause.example.test`;
        const response = await createProxy(gateway, hostname).catch(() => null);
        if (response?.status === 201) accepted.push(hostname);
        await Bun.sleep(20);
      }
    })();
    await until("a write succeeds on the new master", 20_000, async () => (accepted.length > 0 ? true : undefined), gateway);
    group.resumeMaster();
    await until("the sentinels demote the old master", 20_000, async () => ((await group.roleOf(group.masterPort)) === "slave" ? true : undefined));
    await Bun.sleep(1_000);
    writing = false;
    await writer;

    // Everything the API accepted is on the master the sentinels name, and served.
    const stored = await group.client(group.replicaPort, DB).exists(...accepted.map((h) => `proxy:${h}`));
    expect({ accepted: accepted.length, stored }).toEqual({ accepted: accepted.length, stored: accepted.length });
    const last = accepted[accepted.length - 1]!;
    await until("the last proxy written serves", 10_000, async () => ((await proxied(gateway, last, "/x")).status === 200 ? true : undefined), gateway);

    await load.stop();
    console.log(`failover (pause): ${accepted.length} proxies created across the old master's return, ${load.answered} proxied requests, ${load.failures.length} failed`);
    expect(load.failures).toEqual([]);
    expect(accepted.length).toBeGreaterThan(5);
  } finally {
    group.resumeMaster();
    await load.stop();
  }
}, 60_000);

test("no sentinel answers: backup says so and exits non-zero", async () => {
  const env = {
    REDIS_SENTINELS: "127.0.0.1:1",
    REDIS_SENTINEL_NAME: "nowhere",
    REDIS_URL: "redis://:pw@unused.invalid/0",
    PORTCULLIS_DATA_DIR: tempDataDir(),
  };
  const { code, stderr } = await runCli(["backup", join(tempDir("sentinel-backup"), "x.tar.gz")], env);
  expect(code).not.toBe(0);
  expect(stderr).toContain('no sentinel named the master of "nowhere"');
  if (justBinary) {
    const child = Bun.spawn([justBinary, "--justfile", join(ROOT, "justfile"), "redis-cli", "PING"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("home"), ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [justCode, justErr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(justCode).toBe(1);
    expect(justErr).toContain('no sentinel in REDIS_SENTINELS named the master of "nowhere"');
  }
}, 30_000);
