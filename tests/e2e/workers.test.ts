/**
 * PORTCULLIS_WORKERS with the compiled binary, over real sockets: a supervisor
 * and its worker processes share the ports; a config change reaches every
 * worker; a killed worker is replaced while the others serve; a crash loop
 * stops the supervisor with a message; SIGTERM drains all of them; a second
 * gateway cannot share the ports by accident.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { readStatus } from "../../src/workers/status-file";
import { ensureBinary, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { WORKERS_SERVING } from "../helpers/gateway-workers";
import { httpRequest, rawExchange } from "../helpers/proxy-protocol-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const ADMIN = `acm_${"7e".repeat(32)}`;
const HOST = "workers.example.test";

let redis: TestRedis;
const backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello from the backend") });
const running: RunningGateway[] = [];

beforeAll(async () => {
  await ensureBinary();
  redis = await startTestRedis();
}, 120_000);
afterAll(async () => {
  for (const gateway of running) await gateway.stop();
  await redis?.stop();
  backend.stop(true);
});

async function startWorkers(workers: number, env: Record<string, string> = {}, dataDir = tempDataDir()): Promise<RunningGateway & { dataDir: string }> {
  const gateway = await startGatewayProcess({
    dataDir,
    env: { ADMIN_TOKEN: ADMIN, LOG_LEVEL: "INFO", NODE_ID: "wtest", PORTCULLIS_WORKERS: String(workers), ...env },
  });
  running.push(gateway);
  await gateway.waitForOutput(WORKERS_SERVING, 60_000);
  return Object.assign(gateway, { dataDir });
}

async function createProxy(gateway: RunningGateway, hostname: string): Promise<void> {
  const created = await fetch(`${gateway.apiUrl}/api/v1/proxy/targets/`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ hostname, target_url: backend.url.href }),
  });
  expect(created.status).toBe(201);
}

/** `count` requests, each on a connection of its own (so the kernel spreads them over the workers); their status lines. */
async function freshRequests(port: number, host: string, count: number): Promise<string[]> {
  const statuses: string[] = [];
  for (let i = 0; i < count; i++) {
    const reply = await rawExchange(port, [httpRequest(host, `/n${i}`)], { timeoutMs: 5_000 });
    statuses.push(reply.received.split("\r\n")[0] ?? "");
  }
  return statuses;
}

async function until<T>(check: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("two workers share the ports, each with its node id; a proxy created through the API is served by both; SIGTERM stops everything", async () => {
  // The embedded Redis: the supervisor runs it once and hands it to the workers.
  const gateway = await startWorkers(2, { METRICS_PORT: "any" });
  const status = readStatus(gateway.dataDir)!;
  expect(status.supervisor_pid).toBe(gateway.child.pid);
  expect(status.workers.map((w) => w.node_id)).toEqual(["wtest-w0", "wtest-w1"]);
  const pids = status.workers.map((w) => w.pid);
  expect(new Set(pids).size).toBe(2);
  // The allocator setting reaches the worker processes themselves (read back from the kernel, not from workerEnv).
  for (const pid of pids) expect(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")).toContain("MIMALLOC_PURGE_DELAY=-1");
  expect(gateway.output().match(/"msg":"admin token/g)?.length ?? 0).toBeLessThanOrEqual(1);
  // METRICS_PORT=any became one port for every worker.
  const metricsPort = JSON.parse(gateway.output().match(/^\{.*"msg":"portcullis workers are serving".*\}$/m)![0]).METRICS_PORT;
  expect(metricsPort).toBeGreaterThan(0);
  for (let i = 0; i < 6; i++) expect((await rawExchange(metricsPort, [httpRequest("localhost", "/metrics")])).received).toStartWith("HTTP/1.1 200");

  await createProxy(gateway, HOST);
  // Both workers follow the event stream: every fresh connection, whichever worker takes it, reaches the backend.
  await until(async () => (await freshRequests(gateway.httpPort, HOST, 8)).every((s) => s === "HTTP/1.1 200 OK") || undefined, "the proxy served by every worker", 5_000);
  const statuses = await freshRequests(gateway.httpPort, HOST, 60);
  expect(statuses.filter((s) => s !== "HTTP/1.1 200 OK")).toEqual([]);

  // The request records name the worker that answered: both did.
  const nodes = await until(async () => {
    const res = await fetch(`${gateway.apiUrl}/api/v1/logs/host/${HOST}?limit=200`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body: any = await res.json();
    const records: any[] = Array.isArray(body) ? body : (body.records ?? body.items ?? body.logs ?? []);
    const seen = new Set(records.map((r) => r.node));
    return seen.size >= 2 ? seen : undefined;
  }, "request records from both workers");
  expect([...nodes].sort()).toEqual(["wtest-w0", "wtest-w1"]);

  // Another gateway (supervisor or not) cannot take the same ports: no silent sharing.
  for (const workers of ["2", "0"]) {
    const second = await startGatewayProcess({
      dataDir: tempDataDir(),
      env: { REDIS_URL: redis.url, ADMIN_TOKEN: ADMIN, PORTCULLIS_WORKERS: workers, HTTP_PORT: String(gateway.httpPort) },
    });
    expect(await second.child.exited).toBe(1);
    expect(second.output()).toContain("HTTP_PORT: the port is already in use");
  }
  // Nor the same data dir.
  const sameDir = await startGatewayProcess({ dataDir: gateway.dataDir, env: { ADMIN_TOKEN: ADMIN, PORTCULLIS_WORKERS: "2" } });
  expect(await sameDir.child.exited).toBe(1);
  expect(sameDir.output()).toContain("another gateway is using");

  expect(await gateway.stop()).toBe(0);
  expect(gateway.output()).toContain('"msg":"stopped"');
  for (const pid of pids) expect(alive(pid)).toBe(false);
  expect(existsSync(`${gateway.dataDir}/workers.json`)).toBe(false);
  expect(gateway.output()).not.toContain(ADMIN);
}, 120_000);

test("kill -9 of a worker: the others keep serving, the supervisor starts a replacement", async () => {
  const gateway = await startWorkers(2, { REDIS_URL: redis.url });
  await createProxy(gateway, "crash.example.test");
  await until(async () => (await freshRequests(gateway.httpPort, "crash.example.test", 8)).every((s) => s === "HTTP/1.1 200 OK") || undefined, "the proxy served", 5_000);
  const before = readStatus(gateway.dataDir)!;
  const victim = before.workers[0]!.pid;
  process.kill(victim, "SIGKILL");
  await until(() => !alive(victim) || undefined, "the worker gone");
  // Every fresh connection from now on lands on a live listener (the dead one's socket is closed).
  const during = await freshRequests(gateway.httpPort, "crash.example.test", 40);
  expect(during.filter((s) => s !== "HTTP/1.1 200 OK")).toEqual([]);

  await gateway.waitForOutput(/"msg":"worker restarted and serving"/, 30_000);
  const after = readStatus(gateway.dataDir)!;
  expect(after.workers[0]!.pid).not.toBe(victim);
  expect(after.workers[1]!.pid).toBe(before.workers[1]!.pid);
  expect(alive(after.workers[0]!.pid)).toBe(true);
  expect(gateway.output()).toMatch(/"worker":0,"pid":\d+,"exit_code":137,"msg":"worker exited unexpectedly"/);
  const later = await freshRequests(gateway.httpPort, "crash.example.test", 20);
  expect(later.filter((s) => s !== "HTTP/1.1 200 OK")).toEqual([]);
  expect(await gateway.stop()).toBe(0);
}, 120_000);

test("a worker that keeps crashing stops the supervisor with a message and exit code 1", async () => {
  const gateway = await startWorkers(1, { REDIS_URL: redis.url });
  const killed: number[] = [];
  // Five crashes within a minute (RESTART_POLICY): kill each worker as soon as the supervisor has started it.
  while (gateway.child.exitCode === null && killed.length < 10) {
    const pid = await until(() => {
      if (gateway.child.exitCode !== null) return -1;
      const current = readStatus(gateway.dataDir)?.workers[0]?.pid;
      return current !== undefined && !killed.includes(current) ? current : undefined;
    }, "a new worker");
    if (pid === -1) break;
    process.kill(pid, "SIGKILL");
    killed.push(pid);
  }
  expect(await gateway.child.exited).toBe(1);
  expect(killed.length).toBe(5);
  expect(gateway.output()).toContain("portcullis: workers keep crashing: 5 unexpected exits within 60 s");
  for (const pid of killed) expect(alive(pid)).toBe(false);
}, 120_000);

test("kill -9 of the supervisor: its workers notice and stop gracefully instead of serving unsupervised", async () => {
  const gateway = await startWorkers(2, { REDIS_URL: redis.url });
  const pids = readStatus(gateway.dataDir)!.workers.map((w) => w.pid);
  gateway.child.kill("SIGKILL");
  await until(() => pids.every((pid) => !alive(pid)) || undefined, "the workers gone");
  expect(gateway.output().match(/"reason":"supervisor gone"/g)).toHaveLength(2);
}, 120_000);
