/**
 * `portcullis service create --expose` and `portcullis service port-list`
 * against a gateway and a real Docker API (podman), and the
 * `just service-create-exposed` / `service-port-list` recipes (dry run).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { serviceCreateBody } from "../../src/cli/commands/service";
import { cliSession } from "../helpers/cli-program";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const HOME = tempDir("service-port-cli-home");

test("--expose becomes expose_ports: true", () => {
  expect(serviceCreateBody("web", "img:1", { port: "8080", expose: true })).toEqual({ service_name: "web", image: "img:1", internal_port: 8080, expose_ports: true });
});

describe("against a gateway and a Docker engine", () => {
  let engine: TestDockerEngine;
  let redis: TestRedis;
  let gw: TestGateway;
  const apiUrl = () => `http://127.0.0.1:${gw.gateway.apiPort}`;
  const admin = cliSession(apiUrl, GATEWAY_ADMIN, HOME);

  beforeAll(async () => {
    [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
    gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost });
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([engine?.stop(), redis?.stop()]);
  });

  test("create --expose allocates a port; port-list shows it in every format; another token is told not found; delete frees it", async () => {
    const created = await admin.json("service", "create", "cli-exposed", TEST_IMAGE, "--port", "8080", "--expose", "--env", "GREETING=exposed");
    const ports = await admin.json("service", "port-list", "cli-exposed");
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatchObject({ service_name: "cli-exposed", port_name: "http", container_port: 8080, bind_address: "127.0.0.1" });
    const host = ports[0].host_port as number;
    expect(created.url).toBe(`http://127.0.0.1:${host}`);
    expect((await (await fetch(created.url)).text()).trim()).toBe("hello from exposed");

    const table = await admin.ok("service", "port-list", "cli-exposed");
    expect(table).toContain(String(host));
    expect(table).toContain("http");
    expect(parseYaml(await admin.ok("--format", "yaml", "service", "port-list", "cli-exposed"))[0].host_port).toBe(host);
    const csv = await admin.ok("--format", "csv", "service", "port-list", "cli-exposed");
    expect(csv.split("\n")[0]).toContain("Port");
    expect(csv).toContain(String(host));

    const otherToken = (await gw.api("POST", "/api/v1/tokens/", { name: "other" })).json.token as string;
    const other = cliSession(apiUrl, otherToken, HOME);
    const hidden = await other.cli("service", "port-list", "cli-exposed");
    expect(hidden.code).not.toBe(0);
    expect(hidden.stderr).toContain("not found");

    await admin.json("service", "delete", "cli-exposed", "--force");
    expect((await gw.api("POST", "/api/v1/services/ports/check", { port: host })).json.available).toBe(true);
  }, 60_000);
});

describe.skipIf(!justBinary)("just service-create-exposed / service-port-list (dry run)", () => {
  const dryRun = (...args: string[]) => justDryRun(HOME, ["--format", "service"], ...args);
  const cases: [string[], string][] = [
    [["service-create-exposed", "web", "img:1", "8080"], "service create 'web' 'img:1' --port '8080' --expose"],
    [["service-create-exposed", "web", "img:1", "8080", "0.0.0.0", "64m", "0.5", "tok"], "--token 'tok' service create 'web' 'img:1' --port '8080' --expose --bind-address '0.0.0.0' --memory '64m' --cpu '0.5'"],
    [["service-port-list", "web"], "service port-list 'web'"],
    [["service-port-list", "web", "tok"], "--token 'tok' service port-list 'web'"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await dryRun(...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }
});
