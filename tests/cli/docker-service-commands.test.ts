/**
 * `portcullis service …` against a gateway and a real Docker API (podman), its
 * pure parts, and the `just service-*` recipes that wrap it (dry run).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { CliError } from "../../src/cli/cli-error";
import { parsePairs, serviceCreateBody } from "../../src/cli/commands/service";
import { cliSession } from "../helpers/cli-program";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const HOME = tempDir("service-cli-home");

describe("request bodies", () => {
  test("flags become the create request; bad ones name the flag", () => {
    expect(serviceCreateBody("web", "img:1", {})).toEqual({ service_name: "web", image: "img:1" });
    expect(
      serviceCreateBody("web", "img:1", { port: "8080", memory: "512m", cpu: "0.5", env: ["A=1", "B=x=y"], label: ["team=blue"], command: '["/bin/serve","-v"]', bindAddress: "0.0.0.0" }),
    ).toEqual({
      service_name: "web",
      image: "img:1",
      internal_port: 8080,
      memory_limit: "512m",
      cpu_limit: 0.5,
      environment: { A: "1", B: "x=y" },
      labels: { team: "blue" },
      command: ["/bin/serve", "-v"],
      bind_address: "0.0.0.0",
    });
    expect(() => serviceCreateBody("w", "i", { port: "http" })).toThrow("--port");
    expect(() => serviceCreateBody("w", "i", { cpu: "many" })).toThrow("--cpu");
    expect(() => serviceCreateBody("w", "i", { command: "/bin/serve" })).toThrow("--command");
    expect(() => parsePairs("--env", ["NOVALUE"])).toThrow(CliError);
    expect(() => parsePairs("--env", ["=x"])).toThrow("--env");
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

  test("create, list in every format, show, stop, start, restart, delete", async () => {
    const created = await admin.json("service", "create", "cli-web", TEST_IMAGE, "--memory", "32m", "--cpu", "0.25", "--env", "GREETING=cli", "--label", "team=blue");
    expect(created).toMatchObject({ service_name: "cli-web", status: "running", memory_limit: "32m", cpu_limit: 0.25, labels: { team: "blue" } });
    expect((await (await fetch(created.url)).text()).trim()).toBe("hello from cli");

    const table = await admin.ok("service", "list");
    expect(table).toContain("cli-web");
    expect(table).toContain("running");
    expect(table).toContain(created.url);
    expect((await admin.json("service", "list")).map((s: any) => s.service_name)).toEqual(["cli-web"]);
    expect(parseYaml(await admin.ok("--format", "yaml", "service", "list"))[0].service_name).toBe("cli-web");
    const csv = await admin.ok("--format", "csv", "service", "list");
    expect(csv.split("\n")[0]).toContain("Name");
    expect(csv).toContain("cli-web");
    expect((await admin.json("service", "show", "cli-web")).container_id).toBe(created.container_id);

    expect((await admin.json("service", "stop", "cli-web")).status).toBe("stopped");
    expect((await admin.json("service", "start", "cli-web")).status).toBe("running");
    expect((await admin.json("service", "restart", "cli-web")).status).toBe("running");

    const refused = await admin.cli("service", "delete", "cli-web");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("force");
    expect(await admin.json("service", "delete", "cli-web", "--force")).toEqual({ deleted: "cli-web" });
    expect(await admin.ok("service", "list")).toContain("No Docker services");
    expect((await engine.podman("ps", "--all", "--format", "{{.Names}}")).stdout.trim()).toBe("");
  }, 60_000);

  test("--owned-only lists the caller's own services; another token sees none of the admin's", async () => {
    const bobToken = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token as string;
    const bob = cliSession(apiUrl, bobToken, HOME);
    await admin.json("service", "create", "admins", TEST_IMAGE);
    await bob.json("service", "create", "bobs", TEST_IMAGE);
    expect((await admin.json("service", "list")).map((s: any) => s.service_name)).toEqual(["admins", "bobs"]);
    expect((await admin.json("service", "list", "--owned-only")).map((s: any) => s.service_name)).toEqual(["admins"]);
    expect((await bob.json("service", "list")).map((s: any) => s.service_name)).toEqual(["bobs"]);
    const hidden = await bob.cli("service", "stop", "admins");
    expect(hidden.code).not.toBe(0);
    expect(hidden.stderr).toContain("not found");
    await admin.json("service", "delete", "admins", "--force");
    await bob.json("service", "delete", "bobs", "--force");
  }, 60_000);

  test("an engine error reaches the user as one line naming the cause", async () => {
    const run = await admin.cli("service", "create", "ghost", "localhost/no-such-image:1");
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("localhost/no-such-image:1");
  });
});

describe.skipIf(!justBinary)("just service-* (dry run)", () => {
  const dryRun = (...args: string[]) => justDryRun(HOME, ["--format", "service"], ...args);
  const cases: [string[], string][] = [
    [["service-list"], "service list"],
    [["service-list", "true", "tok"], "--token 'tok' service list --owned-only"],
    [["service-show", "web"], "--format json service show 'web'"],
    [["service-create", "web", "img:1"], "service create 'web' 'img:1'"],
    [["service-create", "web", "img:1", "", "8080", "512m", "0.5", "false", "tok"], "--token 'tok' service create 'web' 'img:1' --port '8080' --memory '512m' --cpu '0.5'"],
    [["service-delete", "web"], "service delete 'web'"],
    [["service-delete", "web", "true", "false", "tok"], "--token 'tok' service delete 'web' --force"],
    [["service-start", "web"], "service start 'web'"],
    [["service-stop", "web", "tok"], "--token 'tok' service stop 'web'"],
    [["service-restart", "web"], "service restart 'web'"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await dryRun(...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }

  test("what is not built yet stops before running anything, saying so", async () => {
    for (const [args, message] of [
      [["service-create", "web"], "image: required"],
      [["service-create", "web", "", "./Dockerfile"], "image: required"],
      [["service-create", "web", "img:1", "./Dockerfile"], "dockerfile: building from a Dockerfile is not supported yet"],
      [["service-create", "web", "img:1", "", "", "", "", "true"], "auto-proxy: not supported yet"],
      [["service-delete", "web", "false", "true"], "delete-proxy: not supported yet"],
      [["service-delete", "web", "yes"], "force: expected true or false"],
    ] as const) {
      const { code, stderr } = await dryRun(...args);
      expect({ args, code: code !== 0, has: stderr.includes(message) }).toEqual({ args, code: true, has: true });
    }
  });
});
