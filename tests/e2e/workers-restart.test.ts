/**
 * Zero-downtime restart and upgrade through the real CLI (`portcullis
 * restart`): busy keep-alive clients that never retry see no failed request
 * while the supervisor starts new workers next to the old ones and drains the
 * old ones, with one worker and with two. A new binary put in place is the one
 * the new workers run; a binary that cannot start leaves the old workers serving.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, readlinkSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTlsLoad } from "../../bench/tls-load";
import { readStatus } from "../../src/workers/status-file";
import { BINARY, ensureBinary, runCli, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { WORKERS_SERVING } from "../helpers/gateway-workers";
import { proxyHeader } from "../helpers/proxy-protocol-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const ADMIN = `acm_${"3c".repeat(32)}`;
const HOST = "restart.example.test";
const CONNECTIONS = 10;
const RESTARTS = 3;

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

async function startServing(workers: number, binary?: string) {
  const dataDir = tempDataDir();
  const gateway = await startGatewayProcess({
    dataDir,
    binary,
    env: { REDIS_URL: redis.url, ADMIN_TOKEN: ADMIN, LOG_LEVEL: "INFO", PORTCULLIS_WORKERS: String(workers) },
  });
  running.push(gateway);
  await gateway.waitForOutput(WORKERS_SERVING, 60_000);
  const created = await fetch(`${gateway.apiUrl}/api/v1/proxy/targets/`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ hostname: `${workers}.${HOST}`, target_url: backend.url.href }),
  });
  expect([201, 409]).toContain(created.status);
  for (let ok = 0, deadline = Date.now() + 10_000; ok < 10; ) {
    const res = await fetch(`http://127.0.0.1:${gateway.httpPort}/`, { headers: { host: `${workers}.${HOST}`, connection: "close" } });
    ok = res.status === 200 ? ok + 1 : 0;
    if (Date.now() > deadline) throw new Error(`the proxy never answered: ${res.status}`);
  }
  return { gateway, dataDir };
}

const restart = (dataDir: string) => runCli(["restart", "--format", "json"], { PORTCULLIS_DATA_DIR: dataDir });

describe.each([1, 2])("PORTCULLIS_WORKERS=%i", (workers) => {
  test(`${RESTARTS} restarts under ${CONNECTIONS} busy keep-alive connections on HTTP_PORT, HTTPS_PORT, PROXY_PROTOCOL_PORT and API_PORT: 0 failed requests`, async () => {
    const { gateway, dataDir } = await startServing(workers);
    const first = readStatus(dataDir)!;
    const host = `${workers}.${HOST}`;
    const loads = [
      startTlsLoad({ port: gateway.httpPort, host, connections: CONNECTIONS }),
      startTlsLoad({ port: gateway.httpsPort, host, ca: "insecure", connections: CONNECTIONS }),
      startTlsLoad({ port: gateway.proxyProtocolPort, host, prefix: proxyHeader(1, { address: "192.0.2.10", port: 1010 }), connections: CONNECTIONS }),
      startTlsLoad({ port: Number(new URL(gateway.apiUrl).port), host: "localhost", path: "/health", connections: CONNECTIONS }),
    ];
    await Bun.sleep(300);
    const pids = new Set(first.workers.map((w) => w.pid));
    for (let i = 1; i <= RESTARTS; i++) {
      const result = await restart(dataDir);
      expect(result.stderr).toContain("restarting the gateway");
      expect(result.code).toBe(0);
      const shown = JSON.parse(result.stdout);
      expect(shown.generation).toBe(first.generation + i);
      expect(shown.workers).toHaveLength(workers);
      for (const worker of shown.workers) {
        expect(pids.has(worker.pid)).toBe(false);
        pids.add(worker.pid);
      }
      await Bun.sleep(200);
    }
    const all = await Promise.all(loads.map((load) => load.stop()));
    for (const counts of all) {
      expect({ ...counts, ok: 0, opened: 0, politeCloses: 0 }).toEqual({ ok: 0, opened: 0, politeCloses: 0, badStatus: 0, failedRequests: 0, resets: 0, serverCloses: 0, connectErrors: 0, errors: [] });
      expect(counts.ok).toBeGreaterThan(100);
      // The old workers told their clients to reconnect (Connection: close) at least once per restart.
      expect(counts.politeCloses).toBeGreaterThanOrEqual(RESTARTS);
    }
    console.log(`restart, ${workers} worker(s): ${all.map((c) => c.ok).join(" + ")} requests (HTTP, HTTPS, PROXY, API), ${RESTARTS} restarts, 0 failures`);
    expect(await gateway.stop()).toBe(0);
  }, 120_000);
});

test("upgrade: the new workers run the binary on disk now; a binary that cannot start leaves the old workers serving", async () => {
  const dir = tempDir("upgrade");
  const installed = join(dir, "portcullis");
  copyFileSync(BINARY, installed);
  chmodSync(installed, 0o755);
  const { gateway, dataDir } = await startServing(2, installed);
  const before = readStatus(dataDir)!;

  // A broken upgrade: the new workers exit at once; the restart fails and says so; nothing else changes.
  writeFileSync(`${installed}.new`, "#!/bin/sh\necho 'broken build' >&2\nexit 3\n", { mode: 0o755 });
  renameSync(`${installed}.new`, installed);
  const failed = await restart(dataDir);
  expect(failed.code).toBe(1);
  expect(failed.stderr).toContain("restart failed: a new worker exited or did not become ready");
  const unchanged = readStatus(dataDir)!;
  expect(unchanged.generation).toBe(before.generation);
  expect(unchanged.workers.map((w) => w.pid)).toEqual(before.workers.map((w) => w.pid));
  expect((await fetch(`http://127.0.0.1:${gateway.httpPort}/`, { headers: { host: `2.${HOST}` } })).status).toBe(200);

  // The real upgrade, put in place the way `just install` does (aside, then renamed).
  copyFileSync(BINARY, `${installed}.new`);
  chmodSync(`${installed}.new`, 0o755);
  renameSync(`${installed}.new`, installed);
  const upgraded = await restart(dataDir);
  expect(upgraded.code).toBe(0);
  const after = readStatus(dataDir)!;
  expect(after.generation).toBe(before.generation + 1);
  // The old workers ran a file that is gone now; the new ones run the file at the path.
  for (const worker of after.workers) expect(readlinkSync(`/proc/${worker.pid}/exe`)).toBe(installed);
  expect(readlinkSync(`/proc/${gateway.child.pid}/exe`)).toBe(`${installed} (deleted)`);
  expect((await fetch(`http://127.0.0.1:${gateway.httpPort}/`, { headers: { host: `2.${HOST}` } })).status).toBe(200);
  expect(await gateway.stop()).toBe(0);
}, 120_000);

test("restart without a running supervisor: a clear error, exit 1", async () => {
  const result = await restart(tempDataDir());
  expect(result.code).toBe(1);
  expect(result.stderr).toContain("no running supervisor found");
});
