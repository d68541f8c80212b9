/**
 * `portcullis service ports` and `service port-check` against a real gateway
 * (in this process, on real ports, with a private Redis), in every output
 * format, with two tokens; and the service-port-check / service-ports-global
 * recipes, dry-run and run for real.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { hashApiToken } from "../../src/core/api-token";
import { PortAllocator } from "../../src/services/port-allocator";
import { PortRepository } from "../../src/storage/port-repository";
import { cliSession, runProgram, type ProgramRun } from "../helpers/cli-program";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { ROOT } from "../helpers/gateway-process";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const HOME = tempDir("home");
let redis: TestRedis;
let gateway: TestGateway;
let apiUrl: string;
let alice: string;
const { cli, ok, json } = cliSession(() => apiUrl, GATEWAY_ADMIN, HOME);

const runRecipe = async (...args: string[]): Promise<ProgramRun> => {
  const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), "--set", "cli", `bun '${join(ROOT, "src/main.ts")}'`, ...args], {
    cwd: HOME,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME, API_URL: apiUrl, TOKEN: GATEWAY_ADMIN, PORTCULLIS_DATA_DIR: "/nonexistent" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
};

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startTestGateway(redis);
  apiUrl = `http://127.0.0.1:${gateway.gateway.apiPort}`;
  const created = await gateway.api("POST", "/api/v1/tokens/", { name: "alice" });
  alice = created.json.token;
  const allocator = new PortAllocator(new PortRepository(redis.client), () => []);
  await allocator.allocateForService("admin-app", { name: "http", host: 12700, container: 80, bind: "0.0.0.0", description: "main" }, hashApiToken(GATEWAY_ADMIN));
  await allocator.allocateForService("alice-app", { name: "api", host: 12701, container: 8080, source_token: "s3cret" }, hashApiToken(alice));
});
afterAll(async () => {
  await gateway?.stop();
  await redis?.stop();
});

describe("portcullis service ports", () => {
  test("table, json, yaml and csv list the allocations; a user sees only its own", async () => {
    const table = await ok("service", "ports");
    expect(table).toMatch(/│ Port\s+│ Bind\s+│ Protocol\s+│ Service\s+│ Name\s+│ Container\s+│ Token\s+│ Description\s+│ Allocated\s+│/);
    expect(table).toMatch(/│ 12700\s+│ 0\.0\.0\.0\s+│ tcp\s+│ admin-app\s+│ http\s+│ 80\s+│ ✗\s+│ main\s+│/);
    expect(table).toMatch(/│ 12701\s+│ 127\.0\.0\.1\s+│ tcp\s+│ alice-app\s+│ api\s+│ 8080\s+│ ✓\s+│/);
    expect((await json("service", "ports")).map((a: { host_port: number }) => a.host_port)).toEqual([12700, 12701]);
    expect(parseYaml(await ok("--format", "yaml", "service", "ports"))).toEqual(await json("service", "ports"));
    const csv = (await ok("--format", "csv", "service", "ports")).trimEnd().split("\n");
    expect(csv[0]).toBe("Port,Bind,Protocol,Service,Name,Container,Token,Description,Allocated");
    expect(csv).toHaveLength(3);
    const mine = await runProgram(apiUrl, alice, ["--format", "json", "service", "ports"], HOME);
    expect(mine.code).toBe(0);
    expect(JSON.parse(mine.stdout)).toEqual([expect.objectContaining({ service_name: "alice-app", host_port: 12701, source_token_hash: hashApiToken("s3cret") })]);
    expect(mine.stdout).not.toContain("s3cret\"");
  });

  test("--available: the free ports per range, without allocated and restricted ones, and the gateway's own ports named", async () => {
    const table = await ok("service", "ports", "--available");
    expect(table).toMatch(/│ Range\s+│ Ports\s+│ Free\s+│ Free ports\s+│/);
    expect(table).toMatch(/│ exposed\s+│ 11000-65535\s+│ \d+\s+│ 11000-12699, 12702-27016, 27018-/);
    expect(table).toContain("Never allocated: 22 (ssh), 25 (smtp)");
    expect(table).toContain(`${gateway.gateway.apiPort} (API_PORT)`);
    const view = await json("service", "ports", "--available");
    expect(view.ranges.map((r: { kind: string }) => r.kind)).toEqual(["internal_http", "internal_https", "exposed"]);
    expect(view.gateway_ports).toContainEqual({ setting: "API_PORT", port: gateway.gateway.apiPort });
    // The gateway's bound ports are in no free run.
    const free = view.ranges.flatMap((r: { free: [number, number][] }) => r.free) as [number, number][];
    for (const port of [gateway.gateway.apiPort, gateway.gateway.httpPort, gateway.gateway.httpsPort]) expect(free.some(([a, b]) => port >= a && port <= b)).toBe(false);
    const csv = (await ok("--format", "csv", "service", "ports", "--available")).trimEnd().split("\n");
    expect(csv[0]).toBe("Range,Ports,Free,Free ports");
    expect(csv).toHaveLength(4);
  });
});

describe("portcullis service port-check", () => {
  test("a free port: exit 0 and available ✓", async () => {
    const free = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = free.port;
    free.stop(true);
    expect(await json("service", "port-check", String(port), "--bind", "0.0.0.0")).toMatchObject({ port, bind_address: "0.0.0.0", available: true, reason: null });
    expect(await ok("service", "port-check", String(port))).toMatch(/│ available\s+│ ✓\s+│/);
  });

  test("restricted, allocated, the gateway's own and busy ports: exit 1 with the reason", async () => {
    const fails = async (args: string[], reason: string, token = GATEWAY_ADMIN) => {
      const run = await runProgram(apiUrl, token, ["service", "port-check", ...args], HOME);
      expect({ args, code: run.code, reason: run.stderr.includes(reason) }).toEqual({ args, code: 1, reason: true });
      return run;
    };
    await fails(["22"], "port 22 is not available: port 22 is restricted (system reserved: ssh)");
    await fails(["12700"], "port 12700 is allocated to service admin-app (port http, 0.0.0.0)");
    await fails(["12700"], "port 12700 is not available: port 12700 is already allocated", alice);
    await fails([String(gateway.gateway.apiPort)], "the gateway's own listening port (API_PORT)");
    const held = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      await fails([String(held.port), "--bind", "0.0.0.0"], `port ${held.port} is in use on the host`);
    } finally {
      held.stop(true);
    }
  });

  test("a bad port or bind address is refused with the problem named", async () => {
    const notNumber = await cli("service", "port-check", "http");
    expect(notNumber.code).toBe(1);
    expect(notNumber.stderr).toContain('"http" is not a port number');
    const badBind = await cli("service", "port-check", "12000", "--bind", "localhost");
    expect(badBind.code).toBe(1);
    expect(badBind.stderr).toContain("bind_address: expected 127.0.0.1 or 0.0.0.0");
    const outOfRange = await cli("service", "port-check", "70000");
    expect(outOfRange.code).toBe(1);
    expect(outOfRange.stderr).toContain("port: expected an integer 1-65535");
  });
});

describe.skipIf(!justBinary)("service-port-check and service-ports-global recipes", () => {
  test("dry-run: the command lines they run", async () => {
    const words = ["service"];
    expect((await justDryRun(HOME, words, "service-port-check", "12000")).line).toBe("service port-check '12000'");
    expect((await justDryRun(HOME, words, "service-port-check", "12000", "0.0.0.0", "tok")).line).toBe("--token 'tok' service port-check '12000' --bind '0.0.0.0'");
    expect((await justDryRun(HOME, words, "service-ports-global")).line).toBe("service ports");
    expect((await justDryRun(HOME, words, "service-ports-global", "true")).line).toBe("service ports --available");
    expect((await justDryRun(HOME, words, "service-ports-global", "false", "tok")).line).toBe("--token 'tok' service ports");
    const bad = await justDryRun(HOME, words, "service-ports-global", "maybe");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("available-only: expected true or false");
  });

  test("run for real against the gateway", async () => {
    const listed = await runRecipe("service-ports-global");
    expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: "" });
    expect(listed.stdout).toMatch(/│ 12700\s+│ 0\.0\.0\.0\s+│/);
    const available = await runRecipe("service-ports-global", "true");
    expect(available.stdout).toContain("Never allocated: 22 (ssh)");
    const asAlice = await runRecipe("service-ports-global", "", alice);
    expect(asAlice.stdout).toContain("alice-app");
    expect(asAlice.stdout).not.toContain("admin-app");
    const taken = await runRecipe("service-port-check", "12700", "0.0.0.0");
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toContain("port 12700 is allocated to service admin-app");
    expect((await runRecipe("service-port-check", "22")).stderr).toContain("restricted (system reserved: ssh)");
  });
});
