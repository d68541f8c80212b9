/**
 * `portcullis service …` against a gateway and a real Docker API (podman), its
 * pure parts, and the `just service-*` recipes that wrap it (dry run).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { CliError } from "../../src/cli/cli-error";
import { logsQuery, parsePairs, serviceCreateBody, serviceSettingsBody } from "../../src/cli/commands/service";
import { cliSession } from "../helpers/cli-program";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { within } from "../helpers/within";

const HOME = tempDir("service-cli-home");

describe("request bodies", () => {
  test("flags become the create request; bad ones name the flag", () => {
    expect(serviceCreateBody("web", "img:1", {})).toEqual({ service_name: "web", image: "img:1" });
    expect(serviceCreateBody("web", undefined, { dockerfile: "./app/Dockerfile", port: "8080" })).toEqual({ service_name: "web", dockerfile_path: "./app/Dockerfile", internal_port: 8080 });
    expect(() => serviceCreateBody("web", "img:1", { dockerfile: "./app/Dockerfile" })).toThrow("not both");
    expect(() => serviceCreateBody("web", undefined, {})).toThrow("--dockerfile");
    // The settings alone, as a command that changes them without an image takes them.
    expect(serviceSettingsBody({ memory: "64m", expose: true })).toEqual({ memory_limit: "64m", expose_ports: true });
    expect(() => serviceSettingsBody({ port: "x" })).toThrow("--port");
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
    expect(logsQuery({})).toBe("");
    expect(logsQuery({ lines: "5", timestamps: true, follow: true })).toBe("?lines=5&timestamps=true&follow=true");
    for (const lines of ["0", "10001", "ten", "-1"]) expect(() => logsQuery({ lines })).toThrow("--lines");
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
    gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost, BASE_DOMAIN: "cli.test" });
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([engine?.stop(), redis?.stop()]);
  });

  test("create, list in every format, show, stop, start, restart, delete", async () => {
    const created = await admin.json("service", "create", "cli-web", TEST_IMAGE, "--memory", "32m", "--cpu", "0.25", "--env", "GREETING=cli", "--label", "team=blue");
    expect(created).toMatchObject({ service_name: "cli-web", status: "running", memory_limit: "32m", cpu_limit: 0.25, labels: { team: "blue" } });
    // "running" is the container's state; its HTTP server may need a moment more to listen.
    const greeting = async () => (await fetch(created.url).then((r) => r.text()).catch(() => "")).trim();
    expect(await within(5_000, async () => (await greeting()) === "hello from cli")).toBe(true);

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

  test("logs (table, json, --follow), stats, proxy-create, delete --delete-proxy, cleanup (admin only)", async () => {
    const bobToken = (await gw.api("POST", "/api/v1/tokens/", { name: "bob2" })).json.token as string;
    const bob = cliSession(apiUrl, bobToken, HOME);
    await bob.json("service", "create", "ticks", TEST_IMAGE, "--port", "8080", "--command", JSON.stringify(["sh", "-c", 'trap "exit 0" TERM; i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.1; done']));
    await Bun.sleep(500);
    const table = await bob.ok("service", "logs", "ticks", "--lines", "3");
    expect(table.trim().split("\n")).toHaveLength(3);
    for (const line of table.trim().split("\n")) expect(line).toMatch(/^tick \d+$/);
    const json = await bob.json("service", "logs", "ticks", "--lines", "2", "--timestamps");
    expect(json).toHaveLength(2);
    expect(json[0].line).toMatch(/^\d{4}-\d{2}-\d{2}T\S+ tick \d+$/);
    const followed = await bob.ok("service", "logs", "ticks", "--follow", "--lines", "1", "--count", "4");
    const ticks = followed.trim().split("\n").map((l) => Number(l.split(" ")[1]));
    expect(ticks).toHaveLength(4);
    for (let i = 1; i < 4; i++) expect(ticks[i]!).toBeGreaterThan(ticks[i - 1]!);
    expect((await bob.cli("service", "logs", "ticks", "--lines", "0")).stderr).toContain("--lines");

    const stats = await bob.json("service", "stats", "ticks");
    expect(stats).toMatchObject({ service_name: "ticks" });
    expect(typeof stats.cpu_percent).toBe("number");
    expect(stats.memory_usage_bytes).toBeGreaterThan(0);

    const proxy = await bob.json("service", "proxy-create", "ticks", "--no-https");
    expect(proxy).toMatchObject({ hostname: "ticks.cli.test", target_url: "service:ticks", enable_https: false, created_by: "bob2" });
    expect((await bob.cli("service", "proxy-create", "ticks")).stderr).toContain("already exists");
    expect((await admin.json("service", "proxy-create", "ticks", "--hostname", "other.cli.test")).hostname).toBe("other.cli.test");

    const denied = await bob.cli("service", "cleanup");
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("admin");
    expect((await engine.podman("create", "--name", "portcullis-lost", "--label", "portcullis.managed=true", TEST_IMAGE)).code).toBe(0);
    expect(await admin.ok("service", "cleanup")).toContain("Removed container portcullis-lost");
    expect(await admin.ok("service", "cleanup")).toContain("Nothing to clean up.");

    await admin.json("proxy", "delete", "other.cli.test");
    expect(await bob.json("service", "delete", "ticks", "--force", "--delete-proxy")).toEqual({ deleted: "ticks", deleted_proxies: ["ticks.cli.test"] });
    expect((await gw.api("GET", "/api/v1/proxy/targets/ticks.cli.test")).status).toBe(404);
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
    [["service-create", "web", "", "./dockerfiles/app.Dockerfile"], "service create 'web' --dockerfile './dockerfiles/app.Dockerfile'"],
    [["service-create", "web", "", "it's.Dockerfile", "8080", "", "", "false", "tok"], "--token 'tok' service create 'web' --dockerfile 'it'\\''s.Dockerfile' --port '8080'"],
    [["service-delete", "web"], "service delete 'web'"],
    [["service-delete", "web", "true", "false", "tok"], "--token 'tok' service delete 'web' --force"],
    [["service-delete", "web", "false", "true"], "service delete 'web' --delete-proxy"],
    [["service-logs", "web"], "service logs 'web' --lines '100'"],
    [["service-logs", "web", "20", "true", "tok"], "--token 'tok' service logs 'web' --lines '20' --timestamps"],
    [["service-stats", "web", "tok"], "--token 'tok' service stats 'web'"],
    [["service-proxy-create", "web"], "service proxy-create 'web' --https"],
    [["service-proxy-create", "web", "w.example.com", "false", "tok"], "--token 'tok' service proxy-create 'web' --hostname 'w.example.com' --no-https"],
    [["service-cleanup"], "service cleanup"],
    [["service-cleanup", "tok"], "--token 'tok' service cleanup"],
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

  test("service-create auto-proxy=true creates the service, then (only if that worked) its proxy", async () => {
    const { code, line } = await dryRun("service-create", "web", "img:1", "", "", "", "", "true", "tok");
    expect(code).toBe(0);
    expect(line).toMatch(/^--token 'tok' service create 'web' 'img:1' && .+ --token 'tok' service proxy-create 'web'$/); // the CLI: bun src/main.ts, or dist/portcullis once built
    expect((await dryRun("service-create", "web", "img:1", "", "", "", "", "false")).line).toBe("service create 'web' 'img:1'");
  });

  test("bad arguments stop before running anything, naming them", async () => {
    for (const [args, message] of [
      [["service-create", "web"], "image, dockerfile: give one"],
      [["service-create", "web", "img:1", "./Dockerfile"], "image, dockerfile: give one of them, not both"],
      [["service-create", "web", "img:1", "", "", "", "", "yes"], "auto-proxy: expected true or false"],
      [["service-delete", "web", "false", "yes"], "delete-proxy: expected true or false"],
      [["service-logs", "web", "10", "yes"], "timestamps: expected true or false"],
      [["service-proxy-create", "web", "", "maybe"], "enable-https: expected true or false"],
      [["service-delete", "web", "yes"], "force: expected true or false"],
    ] as const) {
      const { code, stderr } = await dryRun(...args);
      expect({ args, code: code !== 0, has: stderr.includes(message) }).toEqual({ args, code: true, has: true });
    }
  }, 30_000); // seven runs of just: seconds on a loaded machine
});
