/**
 * Configuration as data: `portcullis export`, `apply -f` (with --dry-run and
 * --prune) and `schema`, through the real CLI against two real in-process
 * gateways on their own Redis: the export of a populated gateway applied to an
 * empty one reproduces it, a second apply changes nothing, and a non-admin
 * token exports and prunes only its own.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { configJsonSchema, parseConfigDocument } from "../../src/cli/declarative/config-document";
import { planApply } from "../../src/cli/declarative/plan";
import { cliSession, runProgram } from "../helpers/cli-program";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { tempDir } from "../helpers/temp";

const HOME = tempDir("home");
const DIR = tempDir("config");
let redisA: TestRedis;
let redisB: TestRedis;
let a: TestGateway;
let b: TestGateway;
const urlA = () => `http://127.0.0.1:${a.gateway.apiPort}`;
const urlB = () => `http://127.0.0.1:${b.gateway.apiPort}`;
const adminA = cliSession(urlA, GATEWAY_ADMIN, HOME);
const adminB = cliSession(urlB, GATEWAY_ADMIN, HOME);
const write = async (name: string, text: string) => {
  const path = join(DIR, name);
  await Bun.write(path, text);
  return path;
};

beforeAll(async () => {
  [redisA, redisB] = await Promise.all([startTestRedis(), startTestRedis()]);
  [a, b] = await Promise.all([startTestGateway(redisA, { AUTO_CERTIFICATES: "false" }), startTestGateway(redisB, { AUTO_CERTIFICATES: "false" })]);
  // Gateway A, populated the usual way.
  const made = [
    await a.api("POST", "/api/v1/services/external", { service_name: "billing", target_url: "http://127.0.0.1:7001", description: "Billing" }),
    await a.api("POST", "/api/v1/certificates/multi-domain", { cert_name: "shared", domains: ["a.example.test", "b.example.test"], acme: false }),
    await a.api("POST", "/api/v1/proxy/targets/", { hostname: "app.example.test", target_url: "http://127.0.0.1:7000", hsts_max_age: 3600, custom_headers: { "x-team": "web" } }),
    await a.api("POST", "/api/v1/proxy/targets/", { hostname: "mcp.example.test", target_url: "service:billing", enable_http: false }),
    await a.api("POST", "/api/v1/proxy/targets/mcp.example.test/auth", { auth_enabled: true, auth_mode: "forward", auth_required_users: ["alice"] }),
    await a.api("POST", "/api/v1/routes/", { route_id: "api", path_pattern: "/api/", target_type: "service", target_value: "billing", priority: 60 }),
    await a.api("POST", "/api/v1/resources/", { uri: "https://mcp.example.test/mcp", name: "MCP", scopes: ["mcp:read"] }),
  ];
  expect(made.map((r) => r.status).filter((s) => s >= 300)).toEqual([]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([redisA?.stop(), redisB?.stop()]);
});

describe("export", () => {
  test("YAML of every kind, only settable fields that differ from the defaults, no owners, timestamps or secrets", async () => {
    const exported = parseYaml(await adminA.ok("export"));
    expect(exported.version).toBe(1);
    expect(exported.proxies).toEqual([
      // preserve_host_header is false, the default for a loopback backend, so it is left out.
      { hostname: "app.example.test", target_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:7000\/?$/), custom_headers: { "x-team": "web" }, hsts_max_age: 3600 },
      { hostname: "mcp.example.test", target_url: "service:billing", enable_http: false, auth_enabled: true, auth_proxy: "auth.localhost", auth_required_users: ["alice"] },
    ]);
    expect(exported.routes).toEqual([{ route_id: "api", path_pattern: "/api/", target_type: "service", target_value: "billing", priority: 60 }]);
    expect(exported.certificates).toEqual([{ cert_name: "shared", domains: ["a.example.test", "b.example.test"], acme: false }]);
    expect(exported.external_services).toEqual([{ service_name: "billing", target_url: expect.stringContaining("http://127.0.0.1:7001"), description: "Billing" }]);
    expect(exported.resources).toMatchObject([{ uri: "https://mcp.example.test/mcp", name: "MCP", scopes: ["mcp:read"] }]);
    expect(JSON.stringify(exported)).not.toMatch(/owner_token_hash|created_at|fullchain|private_key/);
  });
});

describe("apply", () => {
  test("the export of one gateway applied to an empty one reproduces it; a second apply changes nothing", async () => {
    const file = await write("a.yaml", await adminA.ok("export"));
    const first = await adminB.cli("apply", "-f", file);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("0 failed") });
    expect(first.stdout).toContain("+ create proxy app.example.test");
    expect(first.stdout).toContain("+ create route api");
    expect(parseYaml(await adminB.ok("export"))).toEqual(parseYaml(await adminA.ok("export")));
    // What B serves follows: the route and proxies are live there.
    expect((await b.api("GET", "/api/v1/proxy/targets/mcp.example.test/auth")).json).toMatchObject({ auth_enabled: true, auth_required_users: ["alice"] });
    const again = await adminB.cli("apply", "-f", file);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("");
    expect(again.stderr).toContain("0 changed, 0 failed");
  });

  test("--dry-run prints the diff (create, update with before → after, kept) and changes nothing", async () => {
    const text = (await adminB.ok("export")).replace("priority: 60", "priority: 70").replace("hsts_max_age: 3600", "hsts_max_age: 7200");
    const document = parseYaml(text);
    document.proxies = document.proxies.filter((p: { hostname: string }) => p.hostname !== "mcp.example.test");
    document.proxies.push({ hostname: "new.example.test", target_url: "http://127.0.0.1:7002" });
    const file = await write("changed.yaml", JSON.stringify(document));
    const dry = await adminB.ok("apply", "-f", file, "--dry-run");
    expect(dry).toContain("+ create proxy new.example.test");
    expect(dry).toContain("~ update proxy app.example.test (hsts_max_age: 3600 → 7200)");
    expect(dry).toContain("~ update route api (priority: 60 → 70)");
    expect(dry).toContain("keep proxy mcp.example.test (not in the file; --prune deletes it)");
    expect(dry).toContain("3 to change");
    expect((await b.api("GET", "/api/v1/routes/api")).json.priority).toBe(60);
    expect((await b.api("GET", "/api/v1/proxy/targets/new.example.test")).status).toBe(404);

    const pruneDry = await adminB.ok("apply", "-f", file, "--dry-run", "--prune");
    expect(pruneDry).toContain("- delete proxy mcp.example.test");
    const applied = await adminB.cli("apply", "-f", file, "--prune");
    expect(applied.code).toBe(0);
    expect((await b.api("GET", "/api/v1/routes/api")).json.priority).toBe(70);
    expect((await b.api("GET", "/api/v1/proxy/targets/mcp.example.test")).status).toBe(404);
    expect((await b.api("GET", "/api/v1/proxy/targets/new.example.test")).status).toBe(200);
  });

  test("a change the API refuses fails that resource only, naming why; the others are applied; exit 1", async () => {
    const file = await write("partly.yaml", JSON.stringify({
      version: 1,
      external_services: [{ service_name: "ledger", target_url: "http://127.0.0.1:7100" }],
      routes: [{ route_id: "bad", path_pattern: "(", is_regex: true, target_type: "url", target_value: "http://127.0.0.1:7000" }],
    }));
    const run = await adminB.cli("apply", "-f", file);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("+ create external service ledger");
    expect(run.stdout).toMatch(/\+ create route bad: FAILED: .*path_pattern/);
    expect((await b.api("GET", "/api/v1/services/external/ledger")).status).toBe(200);
    expect((await b.api("GET", "/api/v1/routes/bad")).status).toBe(404);
  });

  test("a file that is not valid: every problem listed with where it is, exit 2, nothing read or changed", async () => {
    const cases: [string, RegExp][] = [
      ["version: 1\nproxies:\n  - hostname: x.example.test\n", /\/proxies\/0.*target_url/],
      ["version: 2\n", /\/version/],
      ["version: 1\nproxys: []\n", /proxys|additional/i],
      ["version: 1\nproxies: [\n", /.+/],
      ["version: 1\nroutes:\n  - path_pattern: /x\n    target_type: url\n    target_value: http://127.0.0.1:1\n", /route_id/],
      ["version: 1\nexternal_services:\n  - {service_name: s, target_url: 'http://127.0.0.1:1'}\n  - {service_name: s, target_url: 'http://127.0.0.1:2'}\n", /listed twice/],
    ];
    for (const [text, message] of cases) {
      const run = await adminB.cli("apply", "-f", await write("bad.yaml", text));
      expect({ text, code: run.code }).toEqual({ text, code: 2 });
      expect(run.stderr).toMatch(message);
    }
    expect((await adminB.cli("apply", "-f", join(DIR, "missing.yaml"))).stderr).toContain("no such file");
  });
});

describe("two tokens", () => {
  test("a user exports and prunes only what it owns; the admin's resources are neither shown nor touched", async () => {
    const created = await b.api("POST", "/api/v1/tokens/", { name: "carol" });
    const carol = cliSession(urlB, created.json.token, HOME);
    const mine = await write("carol.yaml", JSON.stringify({ version: 1, proxies: [{ hostname: "carol.example.test", target_url: "http://127.0.0.1:7300" }], routes: [] }));
    expect((await carol.cli("apply", "-f", mine, "--prune")).code).toBe(0);
    const exported = parseYaml(await carol.ok("export"));
    expect(exported.proxies.map((p: { hostname: string }) => p.hostname)).toEqual(["carol.example.test"]);
    expect(exported.routes).toEqual([]);
    // The admin's route and proxies are still there after carol's prune.
    expect((await b.api("GET", "/api/v1/routes/api")).status).toBe(200);
    expect((await b.api("GET", "/api/v1/proxy/targets/app.example.test")).status).toBe(200);
    // Naming the admin's proxy in carol's file cannot change it: the API refuses her.
    const hostile = await write("hostile.yaml", JSON.stringify({ version: 1, proxies: [{ hostname: "app.example.test", target_url: "http://127.0.0.1:6666" }] }));
    const run = await carol.cli("apply", "-f", hostile);
    expect(run.code).toBe(1);
    expect((await b.api("GET", "/api/v1/proxy/targets/app.example.test")).json.target_url).not.toContain("6666");
  });
});

describe("schema", () => {
  test("the JSON Schema is printed, names every kind, and is what apply checks against", async () => {
    const printed = JSON.parse((await runProgram(urlA(), undefined, ["schema"], HOME)).stdout);
    expect(printed).toEqual(configJsonSchema());
    expect(Object.keys(printed.properties).sort()).toEqual(["certificates", "docker_services", "external_services", "oauth_clients", "proxies", "resources", "routes", "version"]);
    expect(printed.properties.proxies.items.properties.auth_mode).toBeDefined();
    expect(parseConfigDocument("version: 1\nproxies: []\n")).toEqual({ ok: true, document: { version: 1, proxies: [] } });
  });

  test("planApply: a field the file leaves out keeps its value; kinds the file does not list are never pruned", () => {
    const plan = planApply({ version: 1, proxies: [{ hostname: "x", target_url: "http://a" }] }, {
      proxies: [{ hostname: "x", target_url: "http://a", hsts_max_age: 60 }],
      routes: [{ route_id: "r" }],
    }, { prune: true });
    expect(plan).toEqual({ changes: [], unchanged: 1, kept: [], conflicts: [] });
  });
});

describe.skipIf(!justBinary)("just config-save / config-load (dry run)", () => {
  test("wrap export and apply -f; force=true adds --prune; a bad force is refused", async () => {
    expect((await justDryRun(HOME, ["export"], "config-save", "saved.yaml")).line).toBe(`export > 'saved.yaml' && echo "saved saved.yaml"`);
    expect((await justDryRun(HOME, ["apply"], "config-load", "gw.yaml")).line).toBe("apply -f 'gw.yaml'");
    expect((await justDryRun(HOME, ["apply"], "config-load", "gw.yaml", "true")).line).toBe("apply -f 'gw.yaml' --prune");
    const bad = await justDryRun(HOME, ["apply"], "config-load", "gw.yaml", "yes");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("force: expected true or false");
  });
});
