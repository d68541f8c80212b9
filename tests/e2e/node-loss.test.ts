/**
 * Node loss under load (issue 18 point 7): three gateway processes (the
 * compiled binary) on one Redis behind a real HAProxy in TCP mode with health
 * checks; a load generator that never retries keeps 12 keep-alive connections
 * busy through HAProxy; one node is killed with SIGKILL. Only the requests in
 * flight on that node fail (at most one per connection, all right after the
 * kill), the other nodes keep answering, new connections go to them, and the
 * cluster registry shows the killed node `down` after CLUSTER_NODE_DOWN_SECONDS.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ensureBinary, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { haproxyBinary, startHaproxy, type RunningHaproxy } from "../helpers/haproxy";
import { startLoadLoop } from "../helpers/http-load-loop";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

const ADMIN = "acm_node_loss_admin_token_0123456789";
const HOST = "app.node-loss.test";
const CONNECTIONS = 12;
const DOWN_SECONDS = 4;

let redis: TestRedis;
let backend: ReturnType<typeof Bun.serve> | undefined;
const nodes: RunningGateway[] = [];
let haproxy: RunningHaproxy | undefined;

const api = (node: RunningGateway, path: string, init: RequestInit = {}) =>
  fetch(node.apiUrl + path, { ...init, headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...(init.headers as Record<string, string>) } });

describe.skipIf(!haproxyBinary)("node loss behind HAProxy", () => {
  beforeAll(async () => {
    await ensureBinary();
    redis = await startTestRedis();
    backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
    const started = await Promise.all(
      ["node-1", "node-2", "node-3"].map((id) =>
        startGatewayProcess({
          dataDir: tempDataDir(),
          env: {
            REDIS_URL: redis.url,
            ADMIN_TOKEN: ADMIN,
            NODE_ID: id,
            LOG_LEVEL: "INFO",
            REQUEST_LOG: "false",
            CLUSTER_HEARTBEAT_SECONDS: "1",
            CLUSTER_NODE_DOWN_SECONDS: String(DOWN_SECONDS),
          },
        }),
      ),
    );
    nodes.push(...started);
    await Promise.all(nodes.map((n) => n.waitForHealthy(30_000)));
    const created = await api(nodes[0]!, "/api/v1/proxy/targets/", { method: "POST", body: JSON.stringify({ hostname: HOST, target_url: `http://127.0.0.1:${backend.port}` }) });
    expect(created.status).toBe(201);
    // Every node follows the config stream: each serves the proxy within moments.
    for (const node of nodes) {
      const serves = await within(5_000, () =>
        fetch(`http://127.0.0.1:${node.httpPort}/`, { headers: { host: HOST } }).then((r) => r.status === 200, () => false),
      );
      expect(serves).toBe(true);
    }
    haproxy = await startHaproxy(nodes.map((n, i) => ({ name: `node-${i + 1}`, port: n.httpPort, checkPort: Number(new URL(n.apiUrl).port) })));
  }, 120_000);

  afterAll(async () => {
    await haproxy?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    backend?.stop(true);
    await redis?.stop();
  });

  test("kill -9 one node: only its in-flight requests fail, the others keep serving, the registry shows it down", async () => {
    const registry = async () => ((await (await api(nodes[0]!, "/api/v1/cluster/nodes")).json()) as { nodes: { node_id: string; state: string }[] }).nodes;
    expect((await registry()).map((n) => [n.node_id, n.state]).sort()).toEqual([
      ["node-1", "up"],
      ["node-2", "up"],
      ["node-3", "up"],
    ]);

    const load = startLoadLoop({ port: haproxy!.port, host: HOST, connections: CONNECTIONS });
    await Bun.sleep(2_000);
    const beforeKill = load.successes;
    const victim = nodes[1]!;
    const killedAt = Date.now();
    victim.child.kill("SIGKILL");
    await victim.child.exited;

    // The registry: down once its heartbeats are older than CLUSTER_NODE_DOWN_SECONDS, while the load goes on.
    let downAt = 0;
    const shownDown = await within((DOWN_SECONDS + 7) * 1000, async () => {
      const state = (await registry()).find((n) => n.node_id === "node-2")?.state;
      if (state === "down") downAt = Date.now();
      return state === "down";
    });
    await Bun.sleep(1_000);
    const result = await load.stop();
    const stoppedAt = Date.now();

    const after = result.successes.filter((t) => t > killedAt);
    const lastSecond = result.successes.filter((t) => t > stoppedAt - 1_500);
    const lateFailures = result.failures.filter((t) => t > killedAt + 2_000);
    console.log(
      JSON.stringify({
        connections: CONNECTIONS,
        successes_before_kill: beforeKill,
        successes_after_kill: after.length,
        failed_requests: result.failures.length,
        failures_ms_after_kill: result.failures.map((t) => t - killedAt),
        non_2xx: result.badStatuses.length,
        connect_failures: result.connectFailures,
        registry_down_after_ms: downAt ? downAt - killedAt : null,
      }),
    );

    expect(beforeKill).toBeGreaterThan(100);
    // Nothing failed before the kill; afterwards at most one request per connection (those in flight on node-2), all right after it.
    expect(result.failures.every((t) => t >= killedAt)).toBe(true);
    expect(result.failures.length).toBeGreaterThanOrEqual(1);
    expect(result.failures.length).toBeLessThanOrEqual(CONNECTIONS);
    expect(lateFailures).toEqual([]);
    expect(result.badStatuses).toEqual([]);
    // The surviving nodes kept serving, to the end.
    expect(after.length).toBeGreaterThan(100);
    expect(lastSecond.length).toBeGreaterThan(10);
    expect(shownDown).toBe(true);
    // Down because its heartbeats stopped, not at once: the last one was written at most a beat (plus a busy moment) before the kill.
    expect(downAt - killedAt).toBeGreaterThanOrEqual(1_000);
    const states = Object.fromEntries((await registry()).map((n) => [n.node_id, n.state]));
    expect(states).toEqual({ "node-1": "up", "node-2": "down", "node-3": "up" });
  }, 60_000);
});
