/**
 * Updating a Docker service (PUT /api/v1/services/{name}) and its networks,
 * against a real Docker API (podman), a real gateway and Redis: the container
 * is recreated with the new settings and keeps its ports and proxies; bad
 * settings change nothing; a new container that cannot start is replaced by
 * one with the previous settings; owned like the service (two tokens). Also
 * the whole lifecycle: create → proxied request → stop → restart → update →
 * the proxy sees the new environment → delete with its proxy.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

let engine: TestDockerEngine;
let redis: TestRedis;
let gw: TestGateway;
let alice: string;
let bob: string;

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost, BASE_DOMAIN: "upd.test" });
  alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token;
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

/** The body a proxy host answers through the gateway's edge, or its status when not 200. */
async function viaEdge(host: string): Promise<string | number> {
  const res = await gw.get(host, "/");
  return res.status === 200 ? (await res.text()).trim() : res.status;
}

/** The body served at url, retried for a few seconds while the container's server starts. */
async function answer(url: string): Promise<string | null> {
  for (let i = 0; i < 50; i++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return (await res.text()).trim();
    } catch {}
    await Bun.sleep(100);
  }
  return null;
}

const envOf = (info: any): string[] => info.Config.Env as string[];

async function createService(token: string, body: Record<string, unknown>) {
  const made = await gw.apiAs(token, "POST", "/api/v1/services/", { image: TEST_IMAGE, ...body });
  expect(made.status).toBe(201);
  return made.json;
}

describe("the lifecycle", () => {
  test("create → proxied request → stop → restart → update env and limits → the same proxy sees the new env → delete with its proxy", async () => {
    const created = await createService(alice, { service_name: "life", environment: { GREETING: "first" }, memory_limit: "64m" });
    expect(created.status).toBe("running");
    const proxy = await gw.apiAs(alice, "POST", "/api/v1/services/life/proxy", { enable_https: false });
    expect(proxy.status).toBe(201);
    expect(proxy.json).toMatchObject({ hostname: "life.upd.test", target_url: "service:life" });
    expect(await within(15_000, async () => (await viaEdge("life.upd.test")) === "hello from first")).toBe(true);

    expect((await gw.apiAs(alice, "POST", "/api/v1/services/life/stop")).json.status).toBe("stopped");
    expect(await within(15_000, async () => (await viaEdge("life.upd.test")) === 502)).toBe(true);
    expect((await gw.apiAs(alice, "POST", "/api/v1/services/life/restart")).json.status).toBe("running");
    expect(await within(15_000, async () => (await viaEdge("life.upd.test")) === "hello from first")).toBe(true);

    const updated = await gw.apiAs(alice, "PUT", "/api/v1/services/life", { environment: { GREETING: "second" }, memory_limit: "96m", cpu_limit: 0.5 });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ service_name: "life", status: "running", environment: { GREETING: "second" }, memory_limit: "96m", cpu_limit: 0.5, image: TEST_IMAGE, internal_port: 8080, created_by: "alice" });
    expect(updated.json.container_id).not.toBe(created.container_id);
    expect(updated.json.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await redis.client.get(keys.serviceUrl("life"))).toBe(updated.json.url);
    // The proxy was not touched, and reaches the new container.
    expect((await gw.apiAs(alice, "GET", "/api/v1/proxy/targets/life.upd.test")).json.target_url).toBe("service:life");
    expect(await within(15_000, async () => (await viaEdge("life.upd.test")) === "hello from second")).toBe(true);

    const info = await engine.inspect("portcullis-life");
    expect(info.Id).toBe(updated.json.container_id);
    expect(info.HostConfig.Memory).toBe(96 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(envOf(info)).toContain("GREETING=second");
    expect(info.Config.Labels).toMatchObject({ "portcullis.managed": "true", "portcullis.service": "life" });
    expect(await engine.containersOf("life")).toEqual(["portcullis-life"]);
    expect((await gw.apiAs(alice, "GET", "/api/v1/services/life")).json).toEqual(updated.json);
    // The new container's own output and numbers.
    expect(await within(15_000, async () => (await gw.apiAs(alice, "GET", "/api/v1/services/life/logs")).json.lines?.some((l: any) => l.line === "portcullis-test-image listening on 8080"))).toBe(true);
    const stats = await gw.apiAs(alice, "GET", "/api/v1/services/life/stats");
    expect(stats.status).toBe(200);
    expect(stats.json.memory_limit_bytes).toBe(96 * 1024 * 1024);

    const deleted = await gw.apiAs(alice, "DELETE", "/api/v1/services/life?force=true&delete_proxy=true");
    expect(deleted.status).toBe(200);
    expect(deleted.json).toEqual({ deleted: "life", deleted_proxies: ["life.upd.test"] });
    expect(await engine.containersOf("life")).toEqual([]);
    expect(await redis.client.exists(keys.dockerService("life"), keys.serviceUrl("life"), keys.proxy("life.upd.test"))).toBe(0);
  }, 60_000);
});

describe("what an update keeps and changes", () => {
  test("allocated ports stay: the same host port answers with the new settings; labels and command are replaced; null removes a limit", async () => {
    const created = await createService(alice, { service_name: "keeper", environment: { GREETING: "old" }, memory_limit: "64m", labels: { team: "blue" }, expose_ports: true });
    const ports = (await gw.apiAs(alice, "GET", "/api/v1/services/keeper/ports")).json;
    expect(ports).toHaveLength(1);
    const host = ports[0].host_port as number;
    expect(created.url).toBe(`http://127.0.0.1:${host}`);

    const updated = await gw.apiAs(alice, "PUT", "/api/v1/services/keeper", {
      environment: { GREETING: "new", PORT: "8080" },
      labels: { team: "green" },
      memory_limit: null,
      command: ["/bin/serve"],
    });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ url: `http://127.0.0.1:${host}`, memory_limit: null, labels: { team: "green" }, command: ["/bin/serve"] });
    expect(await answer(`http://127.0.0.1:${host}/`)).toBe("hello from new");
    expect((await gw.apiAs(alice, "GET", "/api/v1/services/keeper/ports")).json).toEqual(ports);
    const info = await engine.inspect("portcullis-keeper");
    expect(info.HostConfig.Memory).toBe(0);
    expect(info.Config.Labels.team).toBe("green");
    expect(info.HostConfig.PortBindings["8080/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(host) }]);

    // Back to the image's own command.
    expect((await gw.apiAs(alice, "PUT", "/api/v1/services/keeper", { command: null })).json.command).toBeNull();
    expect(await answer(`http://127.0.0.1:${host}/`)).toBe("hello from new");
    expect((await gw.apiAs(alice, "DELETE", "/api/v1/services/keeper?force=true")).status).toBe(200);
  }, 60_000);

  test("a stopped service stays stopped, with the new settings; starting it serves them", async () => {
    await createService(alice, { service_name: "sleeper", environment: { GREETING: "before" } });
    expect((await gw.apiAs(alice, "POST", "/api/v1/services/sleeper/stop")).json.status).toBe("stopped");
    const updated = await gw.apiAs(alice, "PUT", "/api/v1/services/sleeper", { environment: { GREETING: "after" } });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ status: "stopped", url: null, environment: { GREETING: "after" } });
    expect((await engine.inspect("portcullis-sleeper")).State.Running).toBe(false);
    expect(await redis.client.exists(keys.serviceUrl("sleeper"))).toBe(0);
    const started = await gw.apiAs(alice, "POST", "/api/v1/services/sleeper/start");
    expect(started.json.status).toBe("running");
    expect(await answer(started.json.url)).toBe("hello from after");
    expect((await gw.apiAs(alice, "DELETE", "/api/v1/services/sleeper?force=true")).status).toBe(200);
  }, 60_000);
});

describe("refusals change nothing", () => {
  let before: any;
  let containerBefore: any;

  beforeAll(async () => {
    before = await createService(alice, { service_name: "steady", environment: { GREETING: "steady" }, memory_limit: "64m" });
    containerBefore = await engine.inspect("portcullis-steady");
  });

  async function expectUnchanged() {
    expect((await gw.apiAs(alice, "GET", "/api/v1/services/steady")).json).toEqual(before);
    const info = await engine.inspect("portcullis-steady");
    expect(info.Id).toBe(containerBefore.Id);
    expect(info.State.Running).toBe(true);
    expect(envOf(info)).toContain("GREETING=steady");
    expect(await engine.containersOf("steady")).toEqual(["portcullis-steady"]);
    expect(await answer(before.url)).toBe("hello from steady");
  }

  test("an image the engine does not have → 400 image_not_found naming it; the old container still runs with the old env", async () => {
    const res = await gw.apiAs(alice, "PUT", "/api/v1/services/steady", { image: "localhost/no-such-image:9", environment: { GREETING: "never" } });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe("image_not_found");
    expect(res.json.detail).toContain("localhost/no-such-image:9");
    await expectUnchanged();
  }, 30_000);

  test("each bad field → 400 invalid_parameter or 422 naming it, as for a create", async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ memory_limit: "5m" }, 400, "memory_limit"],
      [{ cpu_limit: 0 }, 400, "cpu_limit"],
      [{ environment: { "BAD-NAME": "x" } }, 400, "environment"],
      [{ labels: { "portcullis.service": "other" } }, 400, "labels"],
      [{ command: [] }, 400, "command"],
      [{ bind_address: "10.0.0.1" }, 400, "bind_address"],
      [{ image: "not an image!" }, 400, "image"],
      [{ networks: ["host"] }, 400, "networks"],
      [{ networks: ["a", "a"] }, 400, "networks"],
      [{ networks: ["bad name"] }, 400, "networks"],
      [{ internal_port: 70000 }, 422, "internal_port"],
      [{ service_name: "renamed" }, 422, "service_name"],
      [{ expose_ports: true }, 422, "expose_ports"],
      [{}, 422, "nothing to change"],
    ];
    for (const [body, status, field] of cases) {
      const res = await gw.apiAs(alice, "PUT", "/api/v1/services/steady", body);
      expect({ body, status: res.status, named: String(res.json.detail ?? res.json.error).includes(field) }).toEqual({ body, status, named: true });
    }
    await expectUnchanged();
  }, 30_000);

  test("a network the engine does not have → 400 network_not_found naming it", async () => {
    const res = await gw.apiAs(alice, "PUT", "/api/v1/services/steady", { networks: ["no-such-net"] });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe("network_not_found");
    expect(res.json.detail).toContain("no-such-net");
    await expectUnchanged();
  }, 30_000);

  test("the engine unreachable (a second gateway on the same Redis, its DOCKER_HOST down) → 503 engine_unavailable; nothing changes and no change mark stays", async () => {
    const blind = await startTestGateway(redis, { DOCKER_HOST: "unix:///nonexistent/docker.sock" });
    try {
      const res = await blind.apiAs(alice, "PUT", "/api/v1/services/steady", { environment: { GREETING: "unreachable" } });
      expect(res.status).toBe(503);
      expect(res.json.error).toBe("engine_unavailable");
      expect(res.json.detail).toContain("DOCKER_HOST");
    } finally {
      await blind.stop();
    }
    expect(await redis.client.exists(keys.dockerServiceChange("steady"))).toBe(0);
    await expectUnchanged();
  }, 30_000);

  test("another token's service is 404 to it and its container is not touched; the admin may update it and the owner stays", async () => {
    const hidden = await gw.apiAs(bob, "PUT", "/api/v1/services/steady", { environment: { GREETING: "bob was here" } });
    expect(hidden.status).toBe(404);
    await expectUnchanged();

    const byAdmin = await gw.api("PUT", "/api/v1/services/steady", { memory_limit: "80m" });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.json).toMatchObject({ memory_limit: "80m", created_by: "alice", owner_token_hash: before.owner_token_hash });
    expect((await gw.apiAs(alice, "GET", "/api/v1/services/steady")).json.memory_limit).toBe("80m");
    expect((await engine.inspect("portcullis-steady")).HostConfig.Memory).toBe(80 * 1024 * 1024);
    before = byAdmin.json;
    containerBefore = await engine.inspect("portcullis-steady");
    await expectUnchanged();
  }, 30_000);

  test("a new container that cannot start (its command does not exist) → 502; the previous settings are put back and served", async () => {
    const res = await gw.apiAs(alice, "PUT", "/api/v1/services/steady", { command: ["/bin/no-such-program"], environment: { GREETING: "broken" } });
    expect(res.status).toBe(502);
    expect(res.json.error).toBe("engine_error");
    expect(res.json.detail).toContain("previous settings");
    const now = (await gw.apiAs(alice, "GET", "/api/v1/services/steady")).json;
    expect(now).toMatchObject({ status: "running", environment: { GREETING: "steady" }, command: null, memory_limit: before.memory_limit });
    const info = await engine.inspect("portcullis-steady");
    expect(envOf(info)).toContain("GREETING=steady");
    expect(info.State.Running).toBe(true);
    expect(await engine.containersOf("steady")).toEqual(["portcullis-steady"]);
    expect(await answer(now.url)).toBe("hello from steady");
    expect(await redis.client.get(keys.serviceUrl("steady"))).toBe(now.url);
  }, 30_000);
});

describe("one change at a time", () => {
  test("two updates at once: one is made, the other is 409 and changes nothing; the mark is gone afterwards", async () => {
    await createService(alice, { service_name: "racer", environment: { GREETING: "start" } });
    const [a, b] = await Promise.all([
      gw.apiAs(alice, "PUT", "/api/v1/services/racer", { environment: { GREETING: "a" } }),
      gw.apiAs(alice, "PUT", "/api/v1/services/racer", { environment: { GREETING: "b" } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const [won, lost] = a.status === 200 ? [a, b] : [b, a];
    expect(lost.json.detail).toContain("being changed");
    const now = (await gw.apiAs(alice, "GET", "/api/v1/services/racer")).json;
    expect(now).toEqual(won.json);
    expect(await engine.containersOf("racer")).toEqual(["portcullis-racer"]);
    expect(envOf(await engine.inspect("portcullis-racer"))).toContain(`GREETING=${won.json.environment.GREETING}`);
    expect(await answer(now.url)).toBe(`hello from ${won.json.environment.GREETING}`);
    expect(await redis.client.exists(keys.dockerServiceChange("racer"))).toBe(0);
  }, 30_000);

  test("while a change (here a port add) holds the service, an update is 409 for its owner and still 404 for another token", async () => {
    await redis.client.set(keys.dockerServiceChange("racer"), "another-change", "PX", 60_000);
    try {
      const owner = await gw.apiAs(alice, "PUT", "/api/v1/services/racer", { environment: { GREETING: "c" } });
      expect(owner.status).toBe(409);
      expect((await gw.apiAs(alice, "POST", "/api/v1/services/racer/ports", { name: "extra", container: 8080 })).status).toBe(409);
      expect((await gw.apiAs(bob, "PUT", "/api/v1/services/racer", { environment: { GREETING: "c" } })).status).toBe(404);
    } finally {
      await redis.client.del(keys.dockerServiceChange("racer"));
    }
    const [update, port] = await Promise.all([
      gw.apiAs(alice, "PUT", "/api/v1/services/racer", { environment: { GREETING: "d" } }),
      gw.apiAs(alice, "POST", "/api/v1/services/racer/ports", { name: "extra", container: 8080 }),
    ]);
    expect([update.status, port.status].filter((s) => s === 409)).toHaveLength(1);
    expect(await engine.containersOf("racer")).toEqual(["portcullis-racer"]);
    const ports = (await gw.apiAs(alice, "GET", "/api/v1/services/racer/ports")).json;
    expect(ports).toHaveLength(port.status === 201 ? 1 : 0);
    expect((await gw.apiAs(alice, "DELETE", "/api/v1/services/racer?force=true")).status).toBe(200);
  }, 30_000);
});

describe("networks", () => {
  const networksOf = async (container: string) => Object.keys((await engine.inspect(container)).NetworkSettings.Networks ?? {}).sort();

  test("create joins each network besides the default one (published port still answers); update replaces them; a missing network → 400 and nothing left", async () => {
    await engine.createNetwork("backend");
    await engine.createNetwork("metrics");
    const created = await createService(alice, { service_name: "joined", environment: { GREETING: "joined" }, networks: ["backend"] });
    expect(created.networks).toEqual(["backend"]);
    const initial = await networksOf("portcullis-joined");
    expect(initial).toContain("backend");
    expect(initial.length).toBe(2);
    expect(await answer(created.url)).toBe("hello from joined");

    const both = await gw.apiAs(alice, "PUT", "/api/v1/services/joined", { networks: ["backend", "metrics"] });
    expect(both.status).toBe(200);
    expect(both.json.networks).toEqual(["backend", "metrics"]);
    const joinedBoth = await networksOf("portcullis-joined");
    expect(joinedBoth).toContain("backend");
    expect(joinedBoth).toContain("metrics");
    expect(await answer(both.json.url)).toBe("hello from joined");

    const none = await gw.apiAs(alice, "PUT", "/api/v1/services/joined", { networks: [] });
    expect(none.json.networks).toEqual([]);
    const left = await networksOf("portcullis-joined");
    expect(left).not.toContain("backend");
    expect(left).not.toContain("metrics");
    expect(left.length).toBe(1);

    // A port change recreates the container too, and keeps its networks.
    expect((await gw.apiAs(alice, "PUT", "/api/v1/services/joined", { networks: ["metrics"] })).status).toBe(200);
    expect((await gw.apiAs(alice, "POST", "/api/v1/services/joined/ports", { name: "extra", container: 8080 })).status).toBe(201);
    expect(await networksOf("portcullis-joined")).toContain("metrics");
    expect((await gw.apiAs(alice, "DELETE", "/api/v1/services/joined?force=true")).status).toBe(200);

    const missing = await gw.apiAs(alice, "POST", "/api/v1/services/", { service_name: "lost", image: TEST_IMAGE, networks: ["backend", "nowhere"] });
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe("network_not_found");
    expect(missing.json.detail).toContain("nowhere");
    expect(await engine.containersOf("lost")).toEqual([]);
    expect(await redis.client.exists(keys.dockerService("lost"), keys.serviceUrl("lost"))).toBe(0);
    const refused = await gw.apiAs(alice, "POST", "/api/v1/services/", { service_name: "lost", image: TEST_IMAGE, networks: ["host"] });
    expect(refused.status).toBe(400);
    expect(refused.json.detail).toContain("host");
    expect(await engine.containersOf("lost")).toEqual([]);
  }, 90_000);
});
