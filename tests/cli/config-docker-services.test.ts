/**
 * Docker services in the configuration file, through the real CLI, a real
 * in-process gateway and a real Docker API (podman): exported with their
 * settings and ports, created again by apply after a delete, unchanged by a
 * second apply, recreated when the file changes their environment.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { cliSession } from "../helpers/cli-program";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { within } from "../helpers/within";

const HOME = tempDir("home");
const DIR = tempDir("config");
let engine: TestDockerEngine;
let redis: TestRedis;
let gw: TestGateway;
const admin = cliSession(() => `http://127.0.0.1:${gw.gateway.apiPort}`, GATEWAY_ADMIN, HOME);

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost });
});
afterAll(async () => {
  await gw?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

const greeting = async (url: string) => (await fetch(url).then((r) => r.text()).catch(() => "")).trim();

describe("docker_services in export and apply", () => {
  test("export → delete → apply brings the service back with its settings and port; a second apply changes nothing; a new env recreates it", async () => {
    const created = await gw.api("POST", "/api/v1/services/", {
      service_name: "cfg-web",
      image: TEST_IMAGE,
      memory_limit: "32m",
      environment: { GREETING: "config" },
      port_configs: [{ name: "http", container: 8080, description: "main" }],
    });
    expect(created.status).toBe(201);
    const port = (await gw.api("GET", "/api/v1/services/cfg-web/ports")).json[0].host_port as number;

    const exported = await admin.cli("export");
    expect(exported.code).toBe(0);
    expect(exported.stderr).toContain("cfg-web: its environment is written as it is");
    const services = parseYaml(exported.stdout).docker_services;
    expect(services).toEqual([
      { service_name: "cfg-web", image: TEST_IMAGE, internal_port: 8080, memory_limit: "32m", environment: { GREETING: "config" }, port_configs: [{ name: "http", host: port, container: 8080, bind: "127.0.0.1", protocol: "tcp", description: "main" }] },
    ]);
    const file = join(DIR, "gw.yaml");
    await Bun.write(file, exported.stdout);

    expect((await gw.api("DELETE", "/api/v1/services/cfg-web?force=true")).status).toBe(200);
    const applied = await admin.cli("apply", "-f", file);
    expect({ code: applied.code, out: applied.stdout }).toEqual({ code: 0, out: "+ create Docker service cfg-web\n" });
    const back = (await gw.api("GET", "/api/v1/services/cfg-web")).json;
    expect(back).toMatchObject({ status: "running", memory_limit: "32m", environment: { GREETING: "config" } });
    expect((await gw.api("GET", "/api/v1/services/cfg-web/ports")).json[0]).toMatchObject({ port_name: "http", host_port: port, description: "main" });
    expect(await within(15_000, async () => (await greeting(`http://127.0.0.1:${port}/`)) === "hello from config")).toBe(true);

    const again = await admin.cli("apply", "-f", file);
    expect({ code: again.code, out: again.stdout }).toEqual({ code: 0, out: "" });

    await Bun.write(file, exported.stdout.replace("GREETING: config", "GREETING: git"));
    const changed = await admin.cli("apply", "-f", file);
    expect(changed.code).toBe(0);
    expect(changed.stdout).toContain('~ update Docker service cfg-web (environment: {"GREETING":"config"} → {"GREETING":"git"})');
    expect((await gw.api("GET", "/api/v1/services/cfg-web")).json.container_id).not.toBe(back.container_id);
    expect(await within(15_000, async () => (await greeting(`http://127.0.0.1:${port}/`)) === "hello from git")).toBe(true);

    const pruned = await admin.cli("apply", "-f", await Bun.write(join(DIR, "empty.yaml"), "version: 1\ndocker_services: []\n").then(() => join(DIR, "empty.yaml")), "--prune");
    expect(pruned.stdout).toContain("- delete Docker service cfg-web");
    expect((await gw.api("GET", "/api/v1/services/cfg-web")).status).toBe(404);
  }, 120_000);
});
