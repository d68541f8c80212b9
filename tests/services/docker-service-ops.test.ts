/**
 * Docker service operations against a real Docker API (podman, tests/helpers/docker-engine.ts)
 * behind a real gateway and Redis: logs (tail, timestamps, stdout and stderr
 * demultiplexed, follow as SSE), stats of a running and a stopped service,
 * admin cleanup of orphaned containers and records, a proxy to a service and
 * delete_proxy; ownership with two tokens.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { LogDemultiplexer, openLogFollowCount, statsFromSample } from "../../src/services/docker-engine";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

let engine: TestDockerEngine;
let redis: TestRedis;
let gw: TestGateway;
let alice: string;
let bob: string;

/** Prints "tick N" on stdout and "warn N" on stderr every 100 ms; exits on SIGTERM (PID 1 ignores it otherwise). */
const TICKER = ["sh", "-c", 'trap "exit 0" TERM; i=0; while true; do echo "tick $i"; echo "warn $i" >&2; i=$((i+1)); sleep 0.1; done'];

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost, BASE_DOMAIN: "svc.test" });
  alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token;
  const made = await gw.apiAs(alice, "POST", "/api/v1/services/", { service_name: "ticker", image: TEST_IMAGE, internal_port: 8080, command: TICKER, memory_limit: "64m" });
  expect(made.status).toBe(201);
  const web = await gw.api("POST", "/api/v1/services/", { service_name: "web", image: TEST_IMAGE });
  expect(web.status).toBe(201);
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

function url(path: string): string {
  return `http://127.0.0.1:${gw.gateway.apiPort}${path}`;
}

describe("log stream format", () => {
  test("frames split across chunks and lines split across frames come out as whole lines per stream", () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const head = Buffer.alloc(8);
      head[0] = stream;
      head.writeUInt32BE(body.length, 4);
      return Buffer.concat([head, body]);
    };
    const all = Buffer.concat([frame(1, "one\ntw"), frame(2, "err\n"), frame(1, "o\nthree")]);
    const demux = new LogDemultiplexer();
    const out = [...demux.push(all.subarray(0, 5)), ...demux.push(all.subarray(5, 17)), ...demux.push(all.subarray(17)), ...demux.end()];
    expect(out).toEqual([
      { stream: "stdout", line: "one" },
      { stream: "stderr", line: "err" },
      { stream: "stdout", line: "two" },
      { stream: "stdout", line: "three" },
    ]);
    // A TTY container's log is raw text.
    const raw = new LogDemultiplexer();
    expect([...raw.push(Buffer.from("hello\nworld\n")), ...raw.end()]).toEqual([
      { stream: "stdout", line: "hello" },
      { stream: "stdout", line: "world" },
    ]);
  });

  test("stats numbers follow docker stats' formulas", () => {
    const stats = statsFromSample({
      cpu_stats: { cpu_usage: { total_usage: 3_000 }, system_cpu_usage: 20_000, online_cpus: 4 },
      precpu_stats: { cpu_usage: { total_usage: 1_000 }, system_cpu_usage: 10_000 },
      memory_stats: { usage: 300, limit: 1000, stats: { inactive_file: 100 } },
      networks: { eth0: { rx_bytes: 10, tx_bytes: 20 }, eth1: { rx_bytes: 1, tx_bytes: 2 } },
      blkio_stats: { io_service_bytes_recursive: [{ op: "Read", value: 5 }, { op: "Write", value: 7 }, { op: "read", value: 1 }, { op: "Total", value: 13 }] },
    });
    expect(stats).toMatchObject({ cpu_percent: 80, online_cpus: 4, memory_usage_bytes: 200, memory_limit_bytes: 1000, memory_percent: 20, network_rx_bytes: 11, network_tx_bytes: 22, block_read_bytes: 6, block_write_bytes: 7 });
  });
});

describe("logs", () => {
  test("the last N lines of stdout and stderr, with and without timestamps", async () => {
    expect(await within(15_000, async () => (await gw.apiAs(alice, "GET", "/api/v1/services/ticker/logs?lines=20")).json.lines?.length === 20)).toBe(true);
    const res = await gw.apiAs(alice, "GET", "/api/v1/services/ticker/logs?lines=20");
    expect(res.status).toBe(200);
    expect(res.json.service_name).toBe("ticker");
    const lines: { stream: string; line: string }[] = res.json.lines;
    expect(lines).toHaveLength(20);
    for (const l of lines) expect(l.line).toMatch(l.stream === "stdout" ? /^tick \d+$/ : /^warn \d+$/);
    expect(lines.some((l) => l.stream === "stderr")).toBe(true);
    expect(lines.some((l) => l.stream === "stdout")).toBe(true);

    const one = await gw.apiAs(alice, "GET", "/api/v1/services/ticker/logs?lines=1&timestamps=true");
    expect(one.json.lines).toHaveLength(1);
    expect(one.json.lines[0].line).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}) (tick|warn) \d+$/);

    // The default is 100 lines; the web service's whole output is its start line.
    const web = await gw.api("GET", "/api/v1/services/web/logs");
    expect(web.status).toBe(200);
    expect(web.json.lines).toEqual([{ stream: "stdout", line: "portcullis-test-image listening on 8080" }]);
    expect(await within(15_000, async () => (await gw.apiAs(alice, "GET", "/api/v1/services/ticker/logs")).json.lines.length === 100)).toBe(true);
  });

  test("bad parameters are 400 naming them; unknown service 404", async () => {
    for (const [query, name] of [["lines=0", "lines"], ["lines=10001", "lines"], ["lines=abc", "lines"], ["timestamps=yes", "timestamps"], ["follow=1", "follow"]] as const) {
      const res = await gw.api("GET", `/api/v1/services/web/logs?${query}`);
      expect([query, res.status]).toEqual([query, 400]);
      expect(JSON.stringify(res.json)).toContain(name);
    }
    expect((await gw.api("GET", "/api/v1/services/nothere/logs")).status).toBe(404);
    expect((await gw.api("GET", "/api/v1/services/web/logs?lines=10000")).status).toBe(200);
  });

  test("follow=true streams new lines as SSE events until the client goes away", async () => {
    const abort = new AbortController();
    const res = await fetch(url("/api/v1/services/ticker/logs?follow=true&lines=1"), { headers: { authorization: `Bearer ${alice}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const ticks = () => [...text.matchAll(/event: log\ndata: (.*)\n\n/g)].map((m) => JSON.parse(m[1]!)).filter((e) => e.stream === "stdout").map((e) => Number(e.line.split(" ")[1]));
    const deadline = Date.now() + 10_000;
    while (ticks().length < 5 && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const seen = ticks();
    expect(seen.length).toBeGreaterThanOrEqual(5);
    // New lines arrive in order as the container writes them.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(text).toMatch(/"stream":"stderr","line":"warn \d+"/);
    // The engine's log stream is open while the client listens, and closed (its connection ended) after.
    expect(openLogFollowCount()).toBe(1);
    abort.abort();
    await reader.cancel().catch(() => {});
    expect(await within(15_000, async () => openLogFollowCount() === 0)).toBe(true);
  });

  test("a follow ends when the container stops", async () => {
    const res = await fetch(url("/api/v1/services/web/logs?follow=true"), { headers: { authorization: `Bearer ${GATEWAY_ADMIN}` } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("listening on 8080")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toContain('event: log\ndata: {"stream":"stdout","line":"portcullis-test-image listening on 8080"}');
    expect((await gw.api("POST", "/api/v1/services/web/stop")).status).toBe(200);
    const ended = await Promise.race([
      (async () => {
        while (!(await reader.read()).done);
        return true;
      })(),
      Bun.sleep(4_000).then(() => false),
    ]);
    expect(ended).toBe(true);
    expect((await gw.api("POST", "/api/v1/services/web/start")).status).toBe(200);
  });

  test("following a stopped service sends its last lines, then ends", async () => {
    expect((await gw.api("POST", "/api/v1/services/web/stop")).status).toBe(200);
    const res = await fetch(url("/api/v1/services/web/logs?follow=true&lines=5"), { headers: { authorization: `Bearer ${GATEWAY_ADMIN}` }, signal: AbortSignal.timeout(4_000) });
    expect(res.status).toBe(200);
    const text = await res.text(); // ends by itself
    expect(text).toContain('event: log\ndata: {"stream":"stdout","line":"portcullis-test-image listening on 8080"}');
    expect(await within(15_000, async () => openLogFollowCount() === 0)).toBe(true);
    expect((await gw.api("POST", "/api/v1/services/web/start")).status).toBe(200);
  });

  test("another token's service is 404 for logs and follow", async () => {
    expect((await gw.apiAs(bob, "GET", "/api/v1/services/ticker/logs")).status).toBe(404);
    expect((await gw.apiAs(bob, "GET", "/api/v1/services/ticker/logs?follow=true")).status).toBe(404);
    expect((await gw.apiAs(alice, "GET", "/api/v1/services/web/logs")).status).toBe(404);
    expect((await gw.api("GET", "/api/v1/services/ticker/logs?lines=1")).status).toBe(200); // admin sees all
  });
});

describe("stats", () => {
  test("a running service's sample as numbers; its memory limit from the engine", async () => {
    const res = await gw.apiAs(alice, "GET", "/api/v1/services/ticker/stats");
    expect(res.status).toBe(200);
    const s = res.json;
    expect(s.service_name).toBe("ticker");
    for (const field of ["cpu_percent", "memory_usage_bytes", "memory_limit_bytes", "memory_percent", "network_rx_bytes", "network_tx_bytes", "block_read_bytes", "block_write_bytes", "online_cpus"]) {
      expect([field, typeof s[field]]).toEqual([field, "number"]);
      expect(s[field]).toBeGreaterThanOrEqual(0);
    }
    expect(s.memory_limit_bytes).toBe(64 * 1024 * 1024);
    expect(s.memory_usage_bytes).toBeGreaterThan(0);
    expect(s.memory_percent).toBeCloseTo((s.memory_usage_bytes / s.memory_limit_bytes) * 100, 1);
    expect(s.online_cpus).toBeGreaterThanOrEqual(1);
    expect((await gw.apiAs(bob, "GET", "/api/v1/services/ticker/stats")).status).toBe(404);
  });

  test("a stopped service is 409 saying it is not running", async () => {
    expect((await gw.api("POST", "/api/v1/services/web/stop")).status).toBe(200);
    const res = await gw.api("GET", "/api/v1/services/web/stats");
    expect(res.status).toBe(409);
    expect(JSON.stringify(res.json)).toContain("not running");
    expect((await gw.api("POST", "/api/v1/services/web/start")).status).toBe(200);
    expect((await gw.api("GET", "/api/v1/services/web/stats")).status).toBe(200);
  });
});

describe("cleanup", () => {
  test("admin only; removes our orphaned containers and records whose container is gone; never others' containers", async () => {
    // An orphan: our labels, no record. A stranger: no label. A record whose container is removed behind our back.
    expect((await engine.podman("create", "--name", "portcullis-orphan", "--label", "portcullis.managed=true", "--label", "portcullis.service=orphan", TEST_IMAGE)).code).toBe(0);
    expect((await engine.podman("create", "--name", "stranger", "--label", "portcullis.service=stranger", TEST_IMAGE)).code).toBe(0);
    const gone = await gw.api("POST", "/api/v1/services/", { service_name: "gone", image: TEST_IMAGE, expose_ports: true });
    expect(gone.status).toBe(201);
    const gonePorts: number[] = (await gw.api("GET", "/api/v1/services/gone/ports")).json.map((p: any) => p.host_port);
    expect(gonePorts.length).toBeGreaterThan(0);
    expect((await engine.podman("rm", "--force", "--time", "0", "portcullis-gone")).code).toBe(0);

    expect((await gw.apiAs(alice, "POST", "/api/v1/services/cleanup")).status).toBe(403);
    expect((await engine.podman("container", "exists", "portcullis-orphan")).code).toBe(0);

    const res = await gw.api("POST", "/api/v1/services/cleanup");
    expect(res.status).toBe(200);
    expect(res.json.removed_containers.map((c: any) => [c.name, c.service])).toEqual([["portcullis-orphan", "orphan"]]);
    expect(res.json.removed_records).toEqual(["gone"]);
    // Its ports go back to the pool.
    expect(res.json.released_ports.toSorted()).toEqual(gonePorts.toSorted());
    for (const port of gonePorts) expect(await redis.client.exists(keys.port(port))).toBe(0);
        expect((await engine.podman("container", "exists", "portcullis-orphan")).code).toBe(1);
    expect((await engine.podman("container", "exists", "stranger")).code).toBe(0);
    expect((await engine.podman("container", "exists", "portcullis-ticker")).code).toBe(0);
    expect((await engine.podman("container", "exists", "portcullis-web")).code).toBe(0);
    expect(await redis.client.exists(keys.dockerService("gone"), keys.serviceUrl("gone"))).toBe(0);
    expect(await redis.client.exists(keys.dockerService("ticker"), keys.dockerService("web"))).toBe(2);

    // Nothing left to do: a second run removes nothing.
    expect((await gw.api("POST", "/api/v1/services/cleanup")).json).toEqual({ removed_containers: [], removed_records: [], removed_images: [], released_ports: [] });
  });
});

describe("service proxy", () => {
  test("{name}.{BASE_DOMAIN} by default, target service:{name}, owned by the caller; follows the container across stop/start; 409 when it exists", async () => {
    const made = await gw.apiAs(alice, "POST", "/api/v1/services/ticker/proxy", {});
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({ hostname: "ticker.svc.test", target_url: "service:ticker", created_by: "alice", enable_https: true });
    expect((await gw.apiAs(alice, "POST", "/api/v1/services/ticker/proxy", {})).status).toBe(409);
    expect((await gw.apiAs(bob, "POST", "/api/v1/services/ticker/proxy", { hostname: "bobs.svc.test" })).status).toBe(404);
    expect((await gw.apiAs(bob, "GET", "/api/v1/proxy/targets/ticker.svc.test")).status).toBe(404);
    expect((await gw.apiAs(alice, "GET", "/api/v1/proxy/targets/ticker.svc.test")).status).toBe(200);
    expect((await gw.api("POST", "/api/v1/services/ticker/proxy", { hostname: "Not A Host" })).status).toBeGreaterThanOrEqual(400);
    expect((await gw.api("POST", "/api/v1/services/ticker/proxy", { port: 1 })).status).toBe(422);

    const www = await gw.api("POST", "/api/v1/services/web/proxy", { hostname: "www.svc.test", enable_https: false });
    expect(www.status).toBe(201);
    expect(www.json).toMatchObject({ hostname: "www.svc.test", target_url: "service:web", enable_https: false, created_by: "admin" });
    const viaEdge = async () => {
      const res = await gw.get("www.svc.test", "/");
      return res.status === 200 ? (await res.text()).trim() : res.status;
    };
    expect(await within(15_000, async () => (await viaEdge()) === "hello from the container")).toBe(true);
    expect((await gw.api("POST", "/api/v1/services/web/stop")).status).toBe(200);
    expect(await within(15_000, async () => (await viaEdge()) === 502)).toBe(true);
    expect((await gw.api("POST", "/api/v1/services/web/start")).status).toBe(200);
    expect(await within(15_000, async () => (await viaEdge()) === "hello from the container")).toBe(true);
  });

  test("delete_proxy=true deletes the caller's own proxies to the service, never another token's", async () => {
    // The admin's proxy to alice's service: it still counts as a user, and is not alice's to delete.
    expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "admin-ticker.svc.test", target_url: "service:ticker" })).status).toBe(201);
    const refused = await gw.apiAs(alice, "DELETE", "/api/v1/services/ticker?delete_proxy=true");
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.json)).toContain("other tokens");
    expect(JSON.stringify(refused.json)).not.toContain("ticker.svc.test,");
    expect(await redis.client.exists(keys.proxy("ticker.svc.test"), keys.dockerService("ticker"))).toBe(2);
    // Without delete_proxy, alice's own proxy is named as a user.
    const named = await gw.apiAs(alice, "DELETE", "/api/v1/services/ticker");
    expect(named.status).toBe(409);
    expect(JSON.stringify(named.json)).toContain("ticker.svc.test");

    const done = await gw.apiAs(alice, "DELETE", "/api/v1/services/ticker?delete_proxy=true&force=true");
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ deleted: "ticker", deleted_proxies: ["ticker.svc.test"] });
    expect(await redis.client.exists(keys.proxy("ticker.svc.test"))).toBe(0);
    expect(await redis.client.exists(keys.proxy("admin-ticker.svc.test"))).toBe(1);
    expect(await redis.client.exists(keys.dockerService("ticker"))).toBe(0);
    expect((await engine.podman("container", "exists", "portcullis-ticker")).code).toBe(1);
  });
});
