/**
 * Docker service ports (port_configs, expose_ports) against a real Docker API
 * (podman), a real gateway and Redis: each port is allocated by the port
 * allocator and published by the engine exactly there; a taken or bad port
 * leaves no container, record or allocation; delete frees the ports; the
 * per-service port list is owned like the service.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hashApiToken } from "../../src/core/api-token";
import { keys } from "../../src/storage/keys";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { preChosenPort } from "../helpers/ports";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

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

async function allocated(): Promise<number[]> {
  return (await redis.client.zrange(keys.allocatedPorts, "0", "-1")).map(Number);
}

async function expectNothingLeft(service: string) {
  expect(await engine.containersOf(service)).toEqual([]);
  expect(await redis.client.exists(keys.dockerService(service), keys.serviceUrl(service), keys.servicePorts(service))).toBe(0);
  expect((await gw.api("GET", `/api/v1/services/${service}`)).status).toBe(404);
}

describe("port_configs on create", () => {
  test("an explicit host port is published exactly there on 127.0.0.1, listed, and free again after delete", async () => {
    const port = preChosenPort();
    const created = await gw.api("POST", "/api/v1/services/", {
      service_name: "pinned",
      image: TEST_IMAGE,
      environment: { GREETING: "pinned" },
      port_configs: [{ name: "web", host: port, container: 8080, bind: "127.0.0.1", protocol: "tcp", description: "the site" }],
    });
    expect(created.status).toBe(201);
    expect(created.json.url).toBe(`http://127.0.0.1:${port}`);
    expect(await answer(`http://127.0.0.1:${port}/`)).toBe("hello from pinned");

    const info = await engine.inspect("portcullis-pinned");
    expect(info.HostConfig.PortBindings["8080/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(port) }]);

    const listed = await gw.api("GET", "/api/v1/services/pinned/ports");
    expect(listed.status).toBe(200);
    expect(listed.json).toHaveLength(1);
    expect(listed.json[0]).toMatchObject({ service_name: "pinned", port_name: "web", host_port: port, container_port: 8080, bind_address: "127.0.0.1", protocol: "tcp", require_token: false, source_token_hash: null, description: "the site" });
    expect(await allocated()).toContain(port);

    const deleted = await gw.api("DELETE", "/api/v1/services/pinned?force=true");
    expect(deleted.status).toBe(200);
    await expectNothingLeft("pinned");
    expect(await allocated()).not.toContain(port);
    expect(await redis.client.exists(keys.port(port))).toBe(0);
    const check = await gw.api("POST", "/api/v1/services/ports/check", { port });
    expect(check.json.available).toBe(true);
  });

  test("expose_ports alone allocates internal_port a free port of the exposed range and publishes it there", async () => {
    const created = await gw.api("POST", "/api/v1/services/", { service_name: "exposed", image: TEST_IMAGE, environment: { GREETING: "exposed" }, expose_ports: true });
    expect(created.status).toBe(201);
    const ports = (await gw.api("GET", "/api/v1/services/exposed/ports")).json;
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatchObject({ port_name: "http", container_port: 8080, bind_address: "127.0.0.1", require_token: false, source_token_hash: null });
    const host = ports[0].host_port as number;
    expect(host).toBeGreaterThanOrEqual(11000);
    expect(created.json.url).toBe(`http://127.0.0.1:${host}`);
    expect(await answer(`http://127.0.0.1:${host}/`)).toBe("hello from exposed");
    expect((await gw.api("DELETE", "/api/v1/services/exposed?force=true")).status).toBe(200);
    expect(await allocated()).not.toContain(host);
  });

  test("a host port another service holds → 409 naming it; the ports this create claimed first are released and nothing remains", async () => {
    const port = preChosenPort();
    expect((await gw.api("POST", "/api/v1/services/", { service_name: "holder", image: TEST_IMAGE, port_configs: [{ name: "web", host: port, container: 8080 }] })).status).toBe(201);
    const before = await allocated();

    const clash = await gw.api("POST", "/api/v1/services/", {
      service_name: "clash",
      image: TEST_IMAGE,
      port_configs: [
        { name: "first", container: 8080 },
        { name: "second", host: port, container: 9090 },
      ],
    });
    expect(clash.status).toBe(409);
    expect(clash.json.detail).toContain(String(port));
    await expectNothingLeft("clash");
    expect(await allocated()).toEqual(before);
    expect((await gw.api("DELETE", "/api/v1/services/holder?force=true")).status).toBe(200);
  });

  test("a host port something outside the gateway listens on → 409 naming it, nothing left", async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const res = await gw.api("POST", "/api/v1/services/", { service_name: "busy", image: TEST_IMAGE, port_configs: [{ name: "web", host: listener.port, container: 8080 }] });
      expect(res.status).toBe(409);
      expect(res.json.detail).toContain(String(listener.port));
      await expectNothingLeft("busy");
      expect(await allocated()).not.toContain(listener.port);
    } finally {
      listener.stop(true);
    }
  });

  test("an engine failure after allocation (container name taken) releases the ports", async () => {
    expect((await engine.podman("create", "--name", "portcullis-squat", TEST_IMAGE)).code).toBe(0);
    const port = preChosenPort();
    const res = await gw.api("POST", "/api/v1/services/", { service_name: "squat", image: TEST_IMAGE, port_configs: [{ name: "web", host: port, container: 8080 }] });
    expect(res.status).toBe(409);
    expect(await redis.client.exists(keys.dockerService("squat"), keys.servicePorts("squat"), keys.port(port))).toBe(0);
    expect(await allocated()).not.toContain(port);
    await engine.podman("rm", "--force", "portcullis-squat");
  });

  test("bad port_configs → 422 naming the field; nothing written", async () => {
    const cases: [unknown, string][] = [
      [[{ name: "web", container: 70000 }], "container"],
      [[{ name: "web", container: 8080, bind: "10.0.0.1" }], "bind"],
      [[{ name: "web", container: 8080, protocol: "sctp" }], "protocol"],
      [[{ name: "bad name!", container: 8080 }], "name"],
      [[{ name: "web", host: 0, container: 8080 }], "host"],
      [[{ name: "web", container: 8080 }, { name: "web", container: 9090 }], "given twice"],
    ];
    for (const [port_configs, field] of cases) {
      const res = await gw.api("POST", "/api/v1/services/", { service_name: "invalid", image: TEST_IMAGE, port_configs });
      expect(res.status).toBe(422);
      expect(res.json.error).toBe("invalid_request");
      expect(res.json.detail).toContain(field);
      await expectNothingLeft("invalid");
    }
    const contradiction = await gw.api("POST", "/api/v1/services/", { service_name: "invalid", image: TEST_IMAGE, expose_ports: false, port_configs: [{ name: "web", container: 8080 }] });
    expect(contradiction.status).toBe(422);
    expect(contradiction.json.detail).toContain("expose_ports");
    expect(await allocated()).toEqual([]);
  });
});

describe("adding and removing ports of a service", () => {
  test("add: allocated, the container recreated with the same settings and both ports answering; a taken port → 409 and nothing changes; remove: the port stops answering and is free", async () => {
    const created = await gw.api("POST", "/api/v1/services/", { service_name: "grow", image: TEST_IMAGE, memory_limit: "64m", environment: { GREETING: "grow" }, labels: { team: "blue" }, expose_ports: true });
    expect(created.status).toBe(201);
    const first = (await gw.api("GET", "/api/v1/services/grow/ports")).json[0].host_port as number;

    const port = preChosenPort();
    const added = await gw.api("POST", "/api/v1/services/grow/ports", { name: "alt", host: port, container: 8080, description: "second door" });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ service_name: "grow", port_name: "alt", host_port: port, container_port: 8080, bind_address: "127.0.0.1", description: "second door" });
    expect(await answer(`http://127.0.0.1:${port}/`)).toBe("hello from grow");
    expect(await answer(`http://127.0.0.1:${first}/`)).toBe("hello from grow");
    const after = (await gw.api("GET", "/api/v1/services/grow")).json;
    expect(after.container_id).not.toBe(created.json.container_id);
    expect(after.status).toBe("running");
    expect(await engine.containersOf("grow")).toEqual(["portcullis-grow"]);
    const info = await engine.inspect("portcullis-grow");
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.Config.Labels.team).toBe("blue");
    expect((await gw.api("GET", "/api/v1/services/grow/ports")).json.map((p: any) => p.port_name).sort()).toEqual(["alt", "http"]);

    // A port another service holds, or a name the service already uses: 409, the container stays.
    expect((await gw.api("POST", "/api/v1/services/", { service_name: "neighbour", image: TEST_IMAGE, expose_ports: true })).status).toBe(201);
    const theirs = (await gw.api("GET", "/api/v1/services/neighbour/ports")).json[0].host_port as number;
    const taken = await gw.api("POST", "/api/v1/services/grow/ports", { name: "third", host: theirs, container: 8080 });
    expect(taken.status).toBe(409);
    expect(taken.json.detail).toContain(String(theirs));
    const sameName = await gw.api("POST", "/api/v1/services/grow/ports", { name: "alt", container: 8080 });
    expect(sameName.status).toBe(409);
    expect(sameName.json.detail).toContain("alt");
    const bad = await gw.api("POST", "/api/v1/services/grow/ports", { name: "x", container: 0 });
    expect(bad.status).toBe(422);
    expect((await gw.api("GET", "/api/v1/services/grow")).json.container_id).toBe(after.container_id);
    expect((await gw.api("GET", "/api/v1/services/grow/ports")).json).toHaveLength(2);

    const removed = await gw.api("DELETE", "/api/v1/services/grow/ports/alt");
    expect(removed.status).toBe(200);
    expect(removed.json).toEqual({ released: "alt", host_port: port });
    expect(await redis.client.exists(keys.port(port))).toBe(0);
    expect(await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) }).then(() => "answered", () => "refused")).toBe("refused");
    expect((await gw.api("GET", "/api/v1/services/grow/ports")).json.map((p: any) => p.port_name)).toEqual(["http"]);
    expect(await answer(`http://127.0.0.1:${first}/`)).toBe("hello from grow");
    expect((await engine.inspect("portcullis-grow")).HostConfig.PortBindings[`8080/tcp`]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(first) }]);
    expect((await gw.api("POST", "/api/v1/services/ports/check", { port })).json.available).toBe(true);
    expect((await gw.api("DELETE", "/api/v1/services/grow/ports/alt")).status).toBe(404);

    for (const name of ["grow", "neighbour"]) expect((await gw.api("DELETE", `/api/v1/services/${name}?force=true`)).status).toBe(200);
  }, 60_000);

  test("when the new container cannot be made, the added port is released and the old container keeps running", async () => {
    const created = await gw.api("POST", "/api/v1/services/", { service_name: "blocked", image: TEST_IMAGE, environment: { GREETING: "blocked" } });
    expect(created.status).toBe(201);
    // A stranger's container holds the name the replacement would be made under.
    expect((await engine.podman("create", "--name", "portcullis-blocked-next", TEST_IMAGE)).code).toBe(0);
    const port = preChosenPort();
    const res = await gw.api("POST", "/api/v1/services/blocked/ports", { name: "web", host: port, container: 8080 });
    expect(res.status).toBe(409);
    expect(await allocated()).not.toContain(port);
    expect((await gw.api("GET", "/api/v1/services/blocked/ports")).json).toEqual([]);
    const record = (await gw.api("GET", "/api/v1/services/blocked")).json;
    expect(record).toMatchObject({ container_id: created.json.container_id, status: "running" });
    expect(await answer(record.url)).toBe("hello from blocked");
    await engine.podman("rm", "--force", "portcullis-blocked-next");
    expect((await gw.api("DELETE", "/api/v1/services/blocked?force=true")).status).toBe(200);
  }, 60_000);

  test("update: the description in place; a source token (hash only, \"\" removes it) and a new bind address recreate the container; bad input 422, unknown port 404", async () => {
    const created = await gw.api("POST", "/api/v1/services/", { service_name: "tune", image: TEST_IMAGE, environment: { GREETING: "tune" }, port_configs: [{ name: "web", container: 8080 }] });
    expect(created.status).toBe(201);
    const port = (await gw.api("GET", "/api/v1/services/tune/ports")).json[0].host_port as number;

    const described = await gw.api("PUT", "/api/v1/services/tune/ports/web", { description: "front" });
    expect(described.status).toBe(200);
    expect(described.json).toMatchObject({ port_name: "web", host_port: port, description: "front", require_token: false, bind_address: "127.0.0.1" });
    expect(JSON.parse((await redis.client.hget(keys.servicePorts("tune"), "web"))!).description).toBe("front");
    expect((await gw.api("GET", "/api/v1/services/tune")).json.container_id).toBe(created.json.container_id);
    // A source token moves the port to the gateway's relay (docker-source-tokens.test.ts): a new container; "" moves it back.
    const tokened = await gw.api("PUT", "/api/v1/services/tune/ports/web", { source_token: "tok-secret-2" });
    expect(tokened.json).toMatchObject({ require_token: true, source_token_hash: hashApiToken("tok-secret-2"), description: "front" });
    expect(await redis.client.get(keys.port(port))).not.toContain("tok-secret-2");
    const cleared = await gw.api("PUT", "/api/v1/services/tune/ports/web", { source_token: "" });
    expect(cleared.json).toMatchObject({ require_token: false, source_token_hash: null, description: "front" });
    expect((await engine.inspect("portcullis-tune")).HostConfig.PortBindings["8080/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(port) }]);

    const rebound = await gw.api("PUT", "/api/v1/services/tune/ports/web", { bind: "0.0.0.0" });
    expect(rebound.status).toBe(200);
    expect(rebound.json.bind_address).toBe("0.0.0.0");
    expect((await engine.inspect("portcullis-tune")).HostConfig.PortBindings["8080/tcp"]).toEqual([{ HostIp: "0.0.0.0", HostPort: String(port) }]);
    expect((await gw.api("GET", "/api/v1/services/tune")).json.container_id).not.toBe(created.json.container_id);
    expect(await answer(`http://127.0.0.1:${port}/`)).toBe("hello from tune");

    const bad = await gw.api("PUT", "/api/v1/services/tune/ports/web", { bind: "10.1.1.1" });
    expect(bad.status).toBe(422);
    expect(bad.json.detail).toContain("bind");
    expect((await gw.api("PUT", "/api/v1/services/tune/ports/nope", { description: "x" })).status).toBe(404);
    expect((await gw.api("PUT", "/api/v1/services/tune/ports/web", { host: 1 })).status).toBe(422);
    expect((await gw.api("DELETE", "/api/v1/services/tune?force=true")).status).toBe(200);
  }, 60_000);

  test("a stopped service stays stopped when a port is added", async () => {
    expect((await gw.api("POST", "/api/v1/services/", { service_name: "sleeper", image: TEST_IMAGE })).status).toBe(201);
    expect((await gw.api("POST", "/api/v1/services/sleeper/stop")).json.status).toBe("stopped");
    const added = await gw.api("POST", "/api/v1/services/sleeper/ports", { name: "web", container: 8080 });
    expect(added.status).toBe(201);
    const record = (await gw.api("GET", "/api/v1/services/sleeper")).json;
    expect(record.status).toBe("stopped");
    expect((await engine.inspect("portcullis-sleeper")).HostConfig.PortBindings["8080/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(added.json.host_port) }]);
    expect((await gw.api("POST", "/api/v1/services/sleeper/start")).json.url).toBe(`http://127.0.0.1:${added.json.host_port}`);
    expect((await gw.api("DELETE", "/api/v1/services/sleeper?force=true")).status).toBe(200);
    expect(await allocated()).not.toContain(added.json.host_port);
  }, 60_000);
});

describe("ownership", () => {
  test("another user can neither add, change nor remove ports of a service it does not own (404); its owner can", async () => {
    const carol = (await gw.api("POST", "/api/v1/tokens/", { name: "carol-ports" })).json.token as string;
    const dave = (await gw.api("POST", "/api/v1/tokens/", { name: "dave-ports" })).json.token as string;
    expect((await gw.apiAs(carol, "POST", "/api/v1/services/", { service_name: "carol-app", image: TEST_IMAGE, expose_ports: true })).status).toBe(201);
    expect((await gw.apiAs(dave, "POST", "/api/v1/services/carol-app/ports", { name: "sneak", container: 8080 })).status).toBe(404);
    expect((await gw.apiAs(dave, "DELETE", "/api/v1/services/carol-app/ports/http")).status).toBe(404);
    expect((await gw.apiAs(dave, "PUT", "/api/v1/services/carol-app/ports/http", { description: "mine now" })).status).toBe(404);
    expect((await gw.apiAs(carol, "PUT", "/api/v1/services/carol-app/ports/http", { description: "carol's" })).json.description).toBe("carol's");
    expect((await gw.apiAs(carol, "GET", "/api/v1/services/carol-app/ports")).json.map((p: any) => p.port_name)).toEqual(["http"]);
    const added = await gw.apiAs(carol, "POST", "/api/v1/services/carol-app/ports", { name: "more", container: 8080 });
    expect(added.status).toBe(201);
    expect(added.json.owner_token_hash).toBe(hashApiToken(carol));
    expect((await gw.apiAs(carol, "DELETE", "/api/v1/services/carol-app/ports/more")).status).toBe(200);
    expect((await gw.apiAs(carol, "DELETE", "/api/v1/services/carol-app?force=true")).status).toBe(200);
  }, 60_000);

  test("a user token's service ports: another user gets 404 and is not told who holds a port; the admin sees them; deleting the token frees them", async () => {
    const alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice-ports" })).json.token as string;
    const bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob-ports" })).json.token as string;
    const port = preChosenPort();
    const created = await gw.apiAs(alice, "POST", "/api/v1/services/", { service_name: "alice-app", image: TEST_IMAGE, port_configs: [{ name: "web", host: port, container: 8080 }] });
    expect(created.status).toBe(201);

    expect((await gw.apiAs(alice, "GET", "/api/v1/services/alice-app/ports")).json[0].host_port).toBe(port);
    expect((await gw.api("GET", "/api/v1/services/alice-app/ports")).json[0].host_port).toBe(port);
    expect((await gw.apiAs(bob, "GET", "/api/v1/services/alice-app/ports")).status).toBe(404);

    const taken = await gw.apiAs(bob, "POST", "/api/v1/services/", { service_name: "bob-app", image: TEST_IMAGE, port_configs: [{ name: "web", host: port, container: 8080 }] });
    expect(taken.status).toBe(409);
    expect(taken.json.detail).toContain(String(port));
    expect(taken.json.detail).not.toContain("alice-app");
    await expectNothingLeft("bob-app");

    expect((await gw.api("DELETE", "/api/v1/tokens/alice-ports")).status).toBe(200);
    expect(await allocated()).not.toContain(port);
    expect(await redis.client.exists(keys.port(port))).toBe(0);
  });

  test("GET ports of a service that does not exist → 404", async () => {
    const res = await gw.api("GET", "/api/v1/services/nothing-here/ports");
    expect(res.status).toBe(404);
  });
});
