/**
 * Docker services against a real Docker API (podman, tests/helpers/docker-engine.ts)
 * behind a real gateway and Redis: create → start → the container answers (directly
 * and through a service route) → stop → restart → delete; limits and labels in the
 * engine's inspect; failed creates leave nothing; engine down → 503; ownership.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { hashApiToken } from "../../src/core/api-token";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { within } from "../helpers/within";

let engine: TestDockerEngine;
let redis: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

async function body(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? (await res.text()).trim() : null;
  } catch {
    return null;
  }
}

async function expectNothingLeft(service: string) {
  expect(await engine.containersOf(service)).toEqual([]);
  expect(await engine.inspect(`portcullis-${service}`)).toBeNull();
  expect(await redis.client.exists(keys.dockerService(service), keys.serviceUrl(service))).toBe(0);
  expect(await redis.client.sismember(keys.dockerServiceNames, service)).toBe(0);
  expect((await gw.api("GET", `/api/v1/services/${service}`)).status).toBe(404);
}

describe("lifecycle", () => {
  test("create → answers on its address and through a service route → stop → restart → delete", async () => {
    const created = await gw.api("POST", "/api/v1/services/", {
      service_name: "web",
      image: TEST_IMAGE,
      memory_limit: "64m",
      cpu_limit: 0.5,
      environment: { GREETING: "web" },
      labels: { team: "blue" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      service_name: "web",
      service_type: "docker",
      image: TEST_IMAGE,
      internal_port: 8080, // from the image's EXPOSE
      memory_limit: "64m",
      cpu_limit: 0.5,
      environment: { GREETING: "web" },
      labels: { team: "blue" },
      bind_address: "127.0.0.1",
      container_name: "portcullis-web",
      status: "running",
      created_by: "admin",
    });
    const url: string = created.json.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await redis.client.get(keys.serviceUrl("web"))).toBe(url);
    expect(await within(5_000, async () => (await body(url)) === "hello from web")).toBe(true);

    // The engine holds what was asked: labels naming the gateway and the service, limits, env.
    const info = await engine.inspect("portcullis-web");
    expect(info.Id).toBe(created.json.container_id);
    expect(info.Config.Labels).toMatchObject({ "portcullis.managed": "true", "portcullis.service": "web", team: "blue" });
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.Config.Env).toContain("GREETING=web");
    const logs = await engine.podman("logs", "portcullis-web");
    expect(logs.stdout).toContain("portcullis-test-image listening on 8080");

    // A route of target_type "service" reaches the container through the edge.
    expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "svc.example.test", target_url: "http://127.0.0.1:9" })).status).toBe(201);
    const route = await gw.api("POST", "/api/v1/routes/", { route_id: "to-web", path_pattern: "/", target_type: "service", target_value: "web", priority: 10 });
    expect(route.status).toBe(201);
    const viaEdge = async () => {
      const res = await gw.get("svc.example.test", "/");
      return res.status === 200 ? (await res.text()).trim() : res.status;
    };
    expect(await within(2_000, async () => (await viaEdge()) === "hello from web")).toBe(true);

    expect((await gw.api("GET", "/api/v1/services/")).json.map((s: any) => s.service_name)).toEqual(["web"]);
    expect((await gw.api("GET", "/api/v1/services/web")).json).toEqual(created.json);

    const stopped = await gw.api("POST", "/api/v1/services/web/stop");
    expect(stopped.status).toBe(200);
    expect(stopped.json).toMatchObject({ status: "stopped", url: null });
    expect((await engine.inspect("portcullis-web")).State.Running).toBe(false);
    expect(await redis.client.exists(keys.serviceUrl("web"))).toBe(0);
    expect(await body(url)).toBeNull();
    // The edge follows: no URL for the service any more.
    expect(await within(2_000, async () => (await viaEdge()) === 502)).toBe(true);

    const started = await gw.api("POST", "/api/v1/services/web/start");
    expect(started.status).toBe(200);
    expect(started.json.status).toBe("running");
    expect(await within(5_000, async () => (await body(started.json.url)) === "hello from web")).toBe(true);

    const restarted = await gw.api("POST", "/api/v1/services/web/restart");
    expect(restarted.status).toBe(200);
    expect(restarted.json).toMatchObject({ status: "running", container_id: created.json.container_id });
    expect(await redis.client.get(keys.serviceUrl("web"))).toBe(restarted.json.url);
    expect(await within(5_000, async () => (await body(restarted.json.url)) === "hello from web")).toBe(true);
    expect(await within(2_000, async () => (await viaEdge()) === "hello from web")).toBe(true);

    // A service a route uses, or a running one, is deleted only with force.
    const used = await gw.api("DELETE", "/api/v1/services/web");
    expect(used.status).toBe(409);
    expect(used.json.detail).toContain("to-web");
    expect((await gw.api("DELETE", "/api/v1/routes/to-web")).status).toBe(200);
    const refused = await gw.api("DELETE", "/api/v1/services/web");
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toContain("running");
    expect((await engine.inspect("portcullis-web")).State.Running).toBe(true);
    const deleted = await gw.api("DELETE", "/api/v1/services/web?force=true");
    expect([deleted.status, deleted.json]).toEqual([200, { deleted: "web" }]);
    await expectNothingLeft("web");
  }, 60_000);

  test("a stopped service nobody routes to is deleted without force; one a route uses needs force", async () => {
    expect((await gw.api("POST", "/api/v1/services/", { service_name: "quiet", image: TEST_IMAGE, internal_port: 8080 })).status).toBe(201);
    expect((await gw.api("POST", "/api/v1/services/quiet/stop")).status).toBe(200);
    expect((await gw.api("DELETE", "/api/v1/services/quiet")).status).toBe(200);
    await expectNothingLeft("quiet");

    expect((await gw.api("POST", "/api/v1/services/", { service_name: "used", image: TEST_IMAGE })).status).toBe(201);
    expect((await gw.api("POST", "/api/v1/routes/", { route_id: "to-used", path_pattern: "/used", target_type: "service", target_value: "used" })).status).toBe(201);
    expect((await gw.api("POST", "/api/v1/services/used/stop")).status).toBe(200);
    const refused = await gw.api("DELETE", "/api/v1/services/used");
    expect([refused.status, refused.json.detail.includes("routes to-used")]).toEqual([409, true]);
    expect((await gw.api("DELETE", "/api/v1/services/used?force=true")).status).toBe(200);
    await expectNothingLeft("used");
    expect((await gw.api("DELETE", "/api/v1/routes/to-used")).status).toBe(200);
  }, 30_000);
});

describe("failures leave nothing behind", () => {
  test("a container that is created but cannot start is removed with its record", async () => {
    const res = await gw.api("POST", "/api/v1/services/", { service_name: "broken", image: TEST_IMAGE, command: ["/bin/does-not-exist"] });
    expect(res.status).toBe(502);
    expect(res.json.error).toBe("engine_error");
    expect(res.json.detail).toContain("does-not-exist");
    await expectNothingLeft("broken");
    expect(await redis.client.smembers(keys.ownedBy(hashApiToken(GATEWAY_ADMIN)))).not.toContain("docker_service:broken");
  }, 30_000);

  test("a missing image is a 400 naming it", async () => {
    const res = await gw.api("POST", "/api/v1/services/", { service_name: "ghost", image: "localhost/no-such-image:1" });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: "image_not_found" });
    expect(res.json.detail).toContain("localhost/no-such-image:1");
    await expectNothingLeft("ghost");
  });

  test("bad limits and fields are 4xx naming them; no container is made", async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ memory_limit: "lots" }, 400, "memory_limit"],
      [{ memory_limit: "1k" }, 400, "memory_limit"],
      [{ cpu_limit: 0 }, 400, "cpu_limit"],
      [{ cpu_limit: -1 }, 400, "cpu_limit"],
      [{ environment: { "BAD-NAME": "x" } }, 400, "environment"],
      [{ labels: { "portcullis.service": "other" } }, 400, "labels"],
      [{ bind_address: "10.0.0.1" }, 400, "bind_address"],
      [{ command: [] }, 400, "command"],
      [{ service_name: "Upper" }, 422, "service_name"],
      [{ service_name: "my_app" }, 422, "service_name"],
      [{ service_name: "cleanup" }, 422, "service_name"],
      [{ service_name: "api" }, 409, "service_name"],
      [{ internal_port: 70000 }, 422, "internal_port"],
      [{ port_configs: [{ name: "web", container: 70000 }] }, 422, "container"],
      [{ port_configs: [{ name: "web", container: 8080, extra: 1 }] }, 422, "extra"],
    ];
    for (const [extra, status, field] of cases) {
      const res = await gw.api("POST", "/api/v1/services/", { service_name: "limits", image: TEST_IMAGE, ...extra });
      expect([JSON.stringify(extra), res.status]).toEqual([JSON.stringify(extra), status]);
      expect(JSON.stringify(res.json)).toContain(field);
    }
    await expectNothingLeft("limits");
    const none = await engine.podman("ps", "--all", "--filter", "label=portcullis.managed=true", "--format", "{{.Names}}");
    expect(none.stdout.trim()).toBe("");
  });

  test("a name taken in Redis or in the engine is a 409, and the other container is untouched", async () => {
    expect((await gw.api("POST", "/api/v1/services/", { service_name: "twice", image: TEST_IMAGE })).status).toBe(201);
    const again = await gw.api("POST", "/api/v1/services/", { service_name: "twice", image: TEST_IMAGE });
    expect(again.status).toBe(409);
    expect(again.json.detail).toContain("twice");
    expect(await engine.containersOf("twice")).toEqual(["portcullis-twice"]);
    expect((await gw.api("DELETE", "/api/v1/services/twice?force=true")).status).toBe(200);

    // Someone else's container already has the name the service's would get.
    const foreign = await engine.podman("create", "--name", "portcullis-squatted", TEST_IMAGE);
    expect(foreign.code).toBe(0);
    const res = await gw.api("POST", "/api/v1/services/", { service_name: "squatted", image: TEST_IMAGE });
    expect(res.status).toBe(409);
    expect(res.json.detail).toContain("portcullis-squatted");
    expect((await engine.inspect("portcullis-squatted")).Id).toBe(foreign.stdout.trim());
    expect(await redis.client.exists(keys.dockerService("squatted"))).toBe(0);
    await engine.podman("rm", "--force", "portcullis-squatted");
  }, 30_000);

  test("Docker and external services share one namespace", async () => {
    expect((await gw.api("POST", "/api/v1/services/external", { service_name: "elsewhere", target_url: "http://127.0.0.1:9" })).status).toBe(201);
    const docker = await gw.api("POST", "/api/v1/services/", { service_name: "elsewhere", image: TEST_IMAGE });
    expect(docker.status).toBe(409);
    expect(await engine.containersOf("elsewhere")).toEqual([]);
    expect((await gw.api("DELETE", "/api/v1/services/external/elsewhere")).status).toBe(200);

    expect((await gw.api("POST", "/api/v1/services/", { service_name: "boxed", image: TEST_IMAGE })).status).toBe(201);
    expect((await gw.api("POST", "/api/v1/services/external", { service_name: "boxed", target_url: "http://127.0.0.1:9" })).status).toBe(409);
    const unified = (await gw.api("GET", "/api/v1/services/unified?type=docker")).json;
    expect(JSON.stringify(unified)).toContain("boxed");
    expect((await gw.api("DELETE", "/api/v1/services/boxed?force=true")).status).toBe(200);
  }, 30_000);

  test("two creates of one name at once: one container, one 409", async () => {
    const [a, b] = await Promise.all([
      gw.api("POST", "/api/v1/services/", { service_name: "race", image: TEST_IMAGE }),
      gw.api("POST", "/api/v1/services/", { service_name: "race", image: TEST_IMAGE }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    expect(await engine.containersOf("race")).toEqual(["portcullis-race"]);
    expect((await gw.api("DELETE", "/api/v1/services/race?force=true")).status).toBe(200);
  }, 30_000);

  test("a create its gateway never finished: delete --force removes the record and our labelled container, not a stranger's", async () => {
    const adminHash = hashApiToken(GATEWAY_ADMIN);
    const stuck = (name: string) => ({
      service_name: name, service_type: "docker", image: TEST_IMAGE, internal_port: 8080, memory_limit: null, cpu_limit: null, environment: {}, command: null,
      labels: {}, bind_address: "127.0.0.1", container_id: null, container_name: `portcullis-${name}`, status: "creating", url: null,
      owner_token_hash: adminHash, created_by: "admin", created_at: new Date().toISOString(), updated_at: new Date().toISOString(),
    });
    // As a gateway that stopped between making the container and recording its id leaves things.
    for (const name of ["half", "stranger"]) {
      await redis.client.set(keys.dockerService(name), JSON.stringify(stuck(name)));
      await redis.client.sadd(keys.dockerServiceNames, name);
      await redis.client.sadd(keys.ownedBy(adminHash), `docker_service:${name}`);
    }
    expect((await engine.podman("create", "--name", "portcullis-half", "--label", "portcullis.managed=true", "--label", "portcullis.service=half", TEST_IMAGE)).code).toBe(0);
    expect((await engine.podman("create", "--name", "portcullis-stranger", TEST_IMAGE)).code).toBe(0);

    expect((await gw.api("POST", "/api/v1/services/half/start")).status).toBe(409);
    expect((await gw.api("DELETE", "/api/v1/services/half")).status).toBe(409);
    expect((await gw.api("DELETE", "/api/v1/services/half?force=true")).status).toBe(200);
    await expectNothingLeft("half");
    expect((await gw.api("DELETE", "/api/v1/services/stranger?force=true")).status).toBe(200);
    expect(await redis.client.exists(keys.dockerService("stranger"))).toBe(0);
    expect(await engine.inspect("portcullis-stranger")).not.toBeNull();
    await engine.podman("rm", "--force", "portcullis-stranger");
  }, 30_000);

  test("two gateway nodes on one Redis: creates of one name on both make one container", async () => {
    const second = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost });
    try {
      const results = await Promise.all([0, 1, 2, 3].map((i) => (i % 2 === 0 ? gw : second).api("POST", "/api/v1/services/", { service_name: "cluster", image: TEST_IMAGE })));
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
      expect(await engine.containersOf("cluster")).toEqual(["portcullis-cluster"]);
      // Either node acts on it.
      expect((await second.api("POST", "/api/v1/services/cluster/stop")).json.status).toBe("stopped");
      expect((await gw.api("GET", "/api/v1/services/cluster")).json.status).toBe("stopped");
      expect((await second.api("DELETE", "/api/v1/services/cluster")).status).toBe(200);
      await expectNothingLeft("cluster");
    } finally {
      await second.stop();
    }
  }, 30_000);

  test("unknown services are 404", async () => {
    for (const [method, path] of [["GET", "/api/v1/services/nope"], ["POST", "/api/v1/services/nope/start"], ["POST", "/api/v1/services/nope/stop"], ["POST", "/api/v1/services/nope/restart"], ["DELETE", "/api/v1/services/nope"]] as const) {
      const res = await gw.api(method, path);
      expect([path, res.status, res.json.error]).toEqual([path, 404, "not_found"]);
    }
  });
});

describe("engine down", () => {
  test("a DOCKER_HOST with nothing listening answers 503 engine_unavailable and writes nothing", async () => {
    const downRedis = await startTestRedis();
    const down = await startTestGateway(downRedis, { DOCKER_HOST: `unix://${tempDir("no-engine")}/docker.sock` });
    try {
      const res = await down.api("POST", "/api/v1/services/", { service_name: "web", image: TEST_IMAGE });
      expect(res.status).toBe(503);
      expect(res.json.error).toBe("engine_unavailable");
      expect(res.json.detail).toContain("DOCKER_HOST");
      expect(res.json.detail).toContain("no-engine");
      expect(await downRedis.client.keys("docker_service*")).toEqual([]);
      expect((await down.api("GET", "/api/v1/services/")).json).toEqual([]);
    } finally {
      await down.stop();
      await downRedis.stop();
    }
  }, 30_000);

  test("an engine that stops after a service was made: its actions answer 503, the record stays", async () => {
    const ownEngine = await startTestDockerEngine();
    const ownRedis = await startTestRedis();
    const own = await startTestGateway(ownRedis, { DOCKER_HOST: ownEngine.dockerHost });
    try {
      expect((await own.api("POST", "/api/v1/services/", { service_name: "orphan-risk", image: TEST_IMAGE })).status).toBe(201);
      await ownEngine.stop();
      const res = await own.api("POST", "/api/v1/services/orphan-risk/stop");
      expect([res.status, res.json.error]).toEqual([503, "engine_unavailable"]);
      const del = await own.api("DELETE", "/api/v1/services/orphan-risk?force=true");
      expect([del.status, del.json.error]).toEqual([503, "engine_unavailable"]);
      expect((await own.api("GET", "/api/v1/services/orphan-risk")).json.status).toBe("running");
    } finally {
      await own.stop();
      await ownRedis.stop();
    }
  }, 30_000);
});

describe("DOCKER_HOST over tcp://", () => {
  test("a gateway reaches an engine on tcp://127.0.0.1:port", async () => {
    const tcpEngine = await startTestDockerEngine({ listen: "tcp" });
    const tcpRedis = await startTestRedis();
    const tcp = await startTestGateway(tcpRedis, { DOCKER_HOST: tcpEngine.dockerHost });
    try {
      expect(tcpEngine.dockerHost).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
      const made = await tcp.api("POST", "/api/v1/services/", { service_name: "over-tcp", image: TEST_IMAGE, environment: { GREETING: "tcp" } });
      expect(made.status).toBe(201);
      expect(await within(5_000, async () => (await body(made.json.url)) === "hello from tcp")).toBe(true);
      expect((await tcp.api("DELETE", "/api/v1/services/over-tcp?force=true")).status).toBe(200);
      expect((await tcpEngine.podman("ps", "--all", "--format", "{{.Names}}")).stdout.trim()).toBe("");
    } finally {
      await tcp.stop();
      await Promise.all([tcpEngine.stop(), tcpRedis.stop()]);
    }
  }, 30_000);
});

describe("audit", () => {
  test("a create is audited with secret-looking environment values redacted", async () => {
    const made = await gw.api("POST", "/api/v1/services/", { service_name: "audited", image: TEST_IMAGE, environment: { DB_PASSWORD: "hunter2", GREETING: "hi" } });
    expect(made.status).toBe(201);
    let entry: any;
    expect(
      await within(3_000, async () => {
        entry = (await gw.api("GET", "/api/v1/logs/audit?path=/api/v1/services")).json.entries.find((e: any) => e.method === "POST" && e.status === 201);
        return entry !== undefined;
      }),
    ).toBe(true);
    expect(JSON.stringify(entry)).not.toContain("hunter2");
    expect(JSON.stringify(entry)).toContain("[redacted]");
    expect((await gw.api("DELETE", "/api/v1/services/audited?force=true")).status).toBe(200);
  }, 30_000);
});

describe("ownership", () => {
  test("a user token sees and changes only its own services; deleting the token removes them and their containers", async () => {
    const alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token as string;
    const bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token as string;
    const made = await gw.apiAs(alice, "POST", "/api/v1/services/", { service_name: "alices", image: TEST_IMAGE });
    expect(made.status).toBe(201);
    expect(made.json.created_by).toBe("alice");

    expect((await gw.apiAs(bob, "GET", "/api/v1/services/")).json).toEqual([]);
    for (const [method, path] of [["GET", "/api/v1/services/alices"], ["POST", "/api/v1/services/alices/stop"], ["POST", "/api/v1/services/alices/restart"], ["DELETE", "/api/v1/services/alices?force=true"]] as const) {
      expect([path, (await gw.apiAs(bob, method, path)).status]).toEqual([path, 404]);
    }
    expect((await engine.inspect("portcullis-alices")).State.Running).toBe(true);
    // Bob's own service of another name is his; the name alice took is not his to take.
    expect((await gw.apiAs(bob, "POST", "/api/v1/services/", { service_name: "alices", image: TEST_IMAGE })).status).toBe(409);

    expect((await gw.apiAs(alice, "GET", "/api/v1/services/")).json.map((s: any) => s.service_name)).toEqual(["alices"]);
    expect((await gw.api("GET", "/api/v1/services/")).json.map((s: any) => s.service_name)).toContain("alices");
    expect((await gw.apiAs(alice, "POST", "/api/v1/services/alices/stop")).json.status).toBe("stopped");
    expect((await gw.api("POST", "/api/v1/services/alices/start")).json.status).toBe("running");

    // Cascade: the token's delete takes the record and URL in its transaction, then the container.
    expect((await gw.api("DELETE", "/api/v1/tokens/alice")).status).toBe(200);
    expect(await redis.client.exists(keys.dockerService("alices"), keys.serviceUrl("alices"))).toBe(0);
    expect(await within(10_000, async () => (await engine.containersOf("alices")).length === 0)).toBe(true);
    expect((await gw.apiAs(bob, "GET", "/api/v1/services/")).json).toEqual([]);
  }, 60_000);
});
