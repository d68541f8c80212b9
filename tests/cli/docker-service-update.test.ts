/**
 * `portcullis service update` (and `service create --network`) against a
 * gateway and a real Docker API (podman), its request body, and the `just
 * service-update` recipe that wraps it (dry run).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { serviceUpdateBody } from "../../src/cli/commands/service-update";
import { serviceCreateBody } from "../../src/cli/commands/service";
import { cliSession } from "../helpers/cli-program";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { within } from "../helpers/within";

const HOME = tempDir("service-update-cli-home");

describe("request body", () => {
  test("only the flags given are sent; bad ones name the flag; no flag at all is refused", () => {
    expect(serviceUpdateBody({ memory: "96m" })).toEqual({ memory_limit: "96m" });
    expect(
      serviceUpdateBody({ image: "img:2", port: "9090", cpu: "0.5", env: ["A=1"], label: ["team=green"], command: '["/bin/serve"]', network: ["back", "front"], bindAddress: "0.0.0.0" }),
    ).toEqual({ image: "img:2", internal_port: 9090, cpu_limit: 0.5, environment: { A: "1" }, labels: { team: "green" }, command: ["/bin/serve"], networks: ["back", "front"], bind_address: "0.0.0.0" });
    expect(serviceUpdateBody({ clearNetworks: true })).toEqual({ networks: [] });
    expect(() => serviceUpdateBody({})).toThrow("nothing to change");
    expect(() => serviceUpdateBody({ port: "http" })).toThrow("--port");
    expect(() => serviceUpdateBody({ cpu: "lots" })).toThrow("--cpu");
    expect(() => serviceUpdateBody({ env: ["NOVALUE"] })).toThrow("--env");
    expect(() => serviceUpdateBody({ clearNetworks: true, network: ["a"] })).toThrow("--clear-networks");
    expect(serviceCreateBody("web", "img:1", { network: ["back"] })).toEqual({ service_name: "web", image: "img:1", networks: ["back"] });
  });
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

  test("service update recreates the container with the new settings and prints the service in every format; another token gets not found", async () => {
    await engine.createNetwork("cli-net");
    const created = await admin.json("service", "create", "cli-upd", TEST_IMAGE, "--env", "GREETING=one", "--network", "cli-net");
    expect(created.networks).toEqual(["cli-net"]);
    expect(Object.keys((await engine.inspect("portcullis-cli-upd")).NetworkSettings.Networks)).toContain("cli-net");

    const updated = await admin.json("service", "update", "cli-upd", "--env", "GREETING=two", "--memory", "48m", "--cpu", "0.25", "--clear-networks");
    expect(updated).toMatchObject({ service_name: "cli-upd", status: "running", environment: { GREETING: "two" }, memory_limit: "48m", cpu_limit: 0.25, networks: [] });
    expect(updated.container_id).not.toBe(created.container_id);
    // "running" is the container's state; its server inside may need a moment more to listen.
    const greeting = async () => (await fetch(updated.url).then((r) => r.text()).catch(() => "")).trim();
    expect(await within(15_000, async () => (await greeting()) === "hello from two")).toBe(true);
    const info = await engine.inspect("portcullis-cli-upd");
    expect(info.HostConfig.Memory).toBe(48 * 1024 * 1024);
    expect(Object.keys(info.NetworkSettings.Networks)).not.toContain("cli-net");

    const line = await admin.ok("service", "update", "cli-upd", "--label", "team=blue");
    expect(line).toMatch(/^updated Docker service cli-upd \(\S+\) running at http:\/\/127\.0\.0\.1:\d+\n$/);
    expect((await admin.json("service", "show", "cli-upd")).labels).toEqual({ team: "blue" });
    expect(parseYaml(await admin.ok("--format", "yaml", "service", "update", "cli-upd", "--memory", "64m")).memory_limit).toBe("64m");
    expect(await admin.ok("--format", "csv", "service", "update", "cli-upd", "--cpu", "0.5")).toContain("cli-upd");

    const missing = await admin.cli("service", "update", "cli-upd", "--image", "localhost/absent:1");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("localhost/absent:1");
    const noNet = await admin.cli("service", "update", "cli-upd", "--network", "no-such-net");
    expect(noNet.code).not.toBe(0);
    expect(noNet.stderr).toContain("no-such-net");

    const bobToken = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token as string;
    const bob = cliSession(apiUrl, bobToken, HOME);
    const hidden = await bob.cli("service", "update", "cli-upd", "--env", "GREETING=bob");
    expect(hidden.code).not.toBe(0);
    expect(hidden.stderr).toContain("not found");
    expect((await admin.json("service", "show", "cli-upd")).environment).toEqual({ GREETING: "two" });
    await admin.json("service", "delete", "cli-upd", "--force");
  }, 90_000);
});

describe.skipIf(!justBinary)("just service-update (dry run)", () => {
  const dryRun = (...args: string[]) => justDryRun(HOME, ["--format", "service"], ...args);
  const cases: [string[], string][] = [
    [["service-update", "web", "img:2"], "service update 'web' --image 'img:2'"],
    [["service-update", "web", "", "512m"], "service update 'web' --memory '512m'"],
    [["service-update", "web", "", "", "0.5", "tok"], "--token 'tok' service update 'web' --cpu '0.5'"],
    [["service-update", "web", "img:2", "256m", "1", "tok"], "--token 'tok' service update 'web' --image 'img:2' --memory '256m' --cpu '1'"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await dryRun(...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }

  test("nothing to change stops before running anything, saying so", async () => {
    const { code, stderr } = await dryRun("service-update", "web");
    expect(code).not.toBe(0);
    expect(stderr).toContain("give image, memory or cpu");
  });
});
