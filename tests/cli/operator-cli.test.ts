/**
 * The CLI as an operator meets it, against a real in-process gateway: global
 * flags in any position, one-line create/update, enum errors that list the
 * allowed values, warnings for hostnames no proxy serves, `token delete` that
 * asks before deleting owned resources, typo suggestions, `status`, `version`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { Command, CommanderError } from "commander";
import { CliError } from "../../src/cli/cli-error";
import { byExpiry } from "../../src/cli/commands/status";
import { served, unservedHostnames } from "../../src/cli/commands/route-hostnames";
import { buildProgram } from "../../src/cli/program";
import { detachGlobalCopies, globalFlagsOf, globalOptions, spreadGlobalOptions } from "../../src/cli/global-flags";
import { allowedValues } from "../../src/api/error-handler";
import { CertificateRepository } from "../../src/storage/certificate-repository";
import { acmeRecord } from "../helpers/certificate-state";
import { cliSession, runProgram } from "../helpers/cli-program";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

let redis: TestRedis;
let gw: TestGateway;
let apiUrl = "";
const home = tempDir("cli-home");
const admin = cliSession(() => apiUrl, GATEWAY_ADMIN, home);
/** A second user's token, made in beforeAll. */
let alice = "";
let bob = "";

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis);
  apiUrl = `http://127.0.0.1:${gw.gateway.apiPort}`;
  alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token;
});

afterAll(async () => {
  await gw.stop();
  await redis.stop();
});

const as = (token: string, ...args: string[]) => runProgram(apiUrl, token, args, home);

describe("global flags in any position", () => {
  test("--format after the subcommand and its argument, before it, and on a command group", async () => {
    await admin.ok("route", "create", "/flags/", "url", "http://127.0.0.1:4000", "--id", "flags");
    const after = JSON.parse(await admin.ok("route", "show", "flags", "--format", "json"));
    expect(after).toMatchObject({ route_id: "flags", path_pattern: "/flags/" });
    expect(JSON.parse(await admin.ok("--format", "json", "route", "show", "flags"))).toEqual(after);
    expect(parseYaml(await admin.ok("route", "--format", "yaml", "show", "flags"))).toEqual(after);
    expect((await admin.ok("route", "list", "--format", "csv")).split("\n")[0]).toBe("Priority,ID,Path,Methods,Target,Scope,Enabled,Description");
  });

  test("--token after the subcommand is the caller: bob sees only his own proxies", async () => {
    await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: "alice-flags.test", target_url: "http://127.0.0.1:4001" });
    const bobs = await runProgram(apiUrl, undefined, ["proxy", "list", "--format", "json", "--token", bob], home);
    expect(bobs).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(bobs.stdout)).toEqual([]);
    const alices = await runProgram(apiUrl, undefined, ["proxy", "list", "--token", alice, "--format", "json"], home);
    expect(JSON.parse(alices.stdout).map((p: { hostname: string }) => p.hostname)).toEqual(["alice-flags.test"]);
  });

  test("--api-url/--base-url after the subcommand pick the API", async () => {
    const wrong = "http://127.0.0.1:1";
    const viaFlag = await runProgram(wrong, GATEWAY_ADMIN, ["route", "show", "flags", "--api-url", apiUrl, "--format", "json"], home);
    expect(viaFlag.code).toBe(0);
    const unreachable = await runProgram(apiUrl, GATEWAY_ADMIN, ["route", "show", "flags", "--base-url", wrong], home);
    expect(unreachable.stderr).toContain(`cannot reach the API at ${wrong}`);
  });

  test("a subcommand's own option of the same name keeps its meaning (logs audit --token filters by token name)", async () => {
    const run = await admin.cli("logs", "audit", "--token", "alice", "--format", "json");
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const entries = JSON.parse(run.stdout) as { token_name?: string }[];
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e) => JSON.stringify(e).includes("alice"))).toBe(true);
  });

  test("an action never sees the global flags among its own options (they could end up in a query string)", async () => {
    const program = new Command("p").enablePositionalOptions().exitOverride();
    for (const option of globalOptions()) program.addOption(option);
    let seen: Record<string, unknown> = {};
    let flags = {};
    let active: Command | undefined;
    program.hook("preAction", (_, command) => {
      active = command;
      detachGlobalCopies(program, command);
    });
    program
      .command("group")
      .command("leaf")
      .option("--filter <x>")
      .action((options: Record<string, unknown>) => {
        seen = { ...options };
        flags = globalFlagsOf(program, active);
      });
    spreadGlobalOptions(program);
    await program.parseAsync(["--format", "csv", "group", "--format", "yaml", "leaf", "--token", "secret-1", "--filter", "f", "--api-url", "http://x"], { from: "user" });
    expect(seen).toEqual({ filter: "f" });
    expect(flags).toEqual({ token: "secret-1", baseUrl: "http://x", format: "yaml" });
  });

  test("a bad --format value in any position lists the allowed ones", async () => {
    const run = await admin.cli("route", "list", "--format", "xml");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("argument 'xml' is invalid. Allowed choices are table, json, yaml, csv.");
  });
});

describe("create and update print one line; --format prints the object", () => {
  test("proxy create/update", async () => {
    const line = await admin.ok("proxy", "create", "mcp.test", "http://127.0.0.1:3000");
    const shown = JSON.parse(await admin.ok("proxy", "show", "mcp.test", "--format", "json"));
    expect(line).toBe(`created proxy mcp.test → ${shown.target_url}\n`);
    expect(await admin.ok("proxy", "update", "mcp.test", "--disable")).toBe(`updated proxy mcp.test → ${shown.target_url} (disabled)\n`);
    const full = JSON.parse(await admin.ok("proxy", "update", "mcp.test", "--enable", "--format", "json"));
    expect(full).toMatchObject({ hostname: "mcp.test", enabled: true, enable_https: true });
    const yaml = parseYaml(await admin.ok("proxy", "create", "yaml.test", "http://127.0.0.1:3001", "--format", "yaml"));
    expect(yaml).toMatchObject({ hostname: "yaml.test", enabled: true });
  });

  test("route create/update", async () => {
    const line = await admin.ok("route", "create", "/api/", "url", "http://127.0.0.1:4000", "--id", "api", "--priority", "90");
    expect(line).toMatch(/^created route api: \/api\/ → url:http:\/\/127\.0\.0\.1:4000\/? \(priority 90, global\)\n$/);
    expect(await admin.ok("route", "update", "api", "--priority", "80", "--disable")).toMatch(/^updated route api: .* \(priority 80, global, disabled\)\n$/);
    expect(JSON.parse(await admin.ok("route", "update", "api", "--enable", "--format", "json"))).toMatchObject({ route_id: "api", enabled: true, priority: 80 });
  });

  test("resource register/update", async () => {
    expect(await admin.ok("resource", "register", "https://mcp.test/mcp", "--proxy", "mcp.test")).toBe("registered resource https://mcp.test/mcp (proxy mcp.test)\n");
    expect(await admin.ok("resource", "update", "https://mcp.test/mcp", "--name", "MCP")).toBe("updated resource https://mcp.test/mcp (proxy mcp.test)\n");
    expect(JSON.parse(await admin.ok("resource", "update", "https://mcp.test/mcp", "--name", "MCP 2", "--format", "json"))).toMatchObject({ uri: "https://mcp.test/mcp", name: "MCP 2" });
  });
});

describe("enum validation errors list the allowed values", () => {
  test("the API names the field, the allowed values and what was sent", async () => {
    const scope = await gw.api("POST", "/api/v1/routes/", { path_pattern: "/e/", target_type: "url", target_value: "http://127.0.0.1:1", scope: "everywhere" });
    expect(scope).toEqual({ status: 422, json: { error: "invalid_request", detail: 'scope: expected one of "global", "proxy" (got "everywhere")' } });
    const type = await gw.api("POST", "/api/v1/routes/", { path_pattern: "/e/", target_type: "link", target_value: "x" });
    expect(type.json.detail).toBe('target_type: expected one of "url", "service", "hostname" (got "link")');
    const long = await gw.api("POST", "/api/v1/routes/", { path_pattern: "/e/", target_type: "x".repeat(5000), target_value: "x" });
    expect(long.json.detail).toBe(`target_type: expected one of "url", "service", "hostname" (got "${"x".repeat(99)}…)`);
  });

  test("the CLI shows the API's message", async () => {
    const run = await admin.cli("route", "create", "/e/", "link", "http://127.0.0.1:1");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('422 invalid_request: target_type: expected one of "url", "service", "hostname" (got "link")');
  });

  test("allowedValues: literal unions, enums and nullable unions; other schemas keep TypeBox's message", () => {
    expect(allowedValues({ anyOf: [{ const: "a", type: "string" }, { const: 2, type: "number" }] })).toEqual(['"a"', "2"]);
    expect(allowedValues({ anyOf: [{ const: "a" }, { type: "null" }] })).toEqual(['"a"', "null"]);
    expect(allowedValues({ enum: ["x", "y"] })).toEqual(['"x"', '"y"']);
    expect(allowedValues({ anyOf: [{ type: "string" }, { type: "number" }] })).toBeUndefined();
    expect(allowedValues({ type: "string" })).toBeUndefined();
  });
});

describe("a route naming a hostname no proxy serves is warned about", () => {
  test("served: exact, or the wildcard one label up", () => {
    const proxies = new Set(["app.test", "*.wild.test"]);
    expect(served("APP.test", proxies)).toBe(true);
    expect(served("a.wild.test", proxies)).toBe(true);
    expect(served("a.b.wild.test", proxies)).toBe(false);
    expect(served("wild.test", proxies)).toBe(false);
    const route = { route_id: "r", scope: "proxy", proxy_hostnames: ["app.test", "ghost.test"], target_type: "hostname", target_value: "other.test" };
    expect(unservedHostnames(route, proxies)).toEqual(["ghost.test", "other.test"]);
    expect(unservedHostnames({ ...route, scope: "global", target_type: "url" }, proxies)).toEqual([]);
  });

  test("route create --proxies with an unknown hostname warns on stderr and still creates the route", async () => {
    const run = await admin.cli("route", "create", "/ghost/", "url", "http://127.0.0.1:1", "--id", "ghosted", "--proxies", "mcp.test,ghost.test");
    expect(run.code).toBe(0);
    expect(run.stdout).toStartWith("created route ghosted:");
    expect(run.stderr).toBe("warning: no proxy serves ghost.test, so route ghosted does nothing for it yet (create one: portcullis proxy create ghost.test <target-url>)\n");
    expect((await gw.api("GET", "/api/v1/routes/ghosted")).status).toBe(200);
  });

  test("no warning once every hostname is served (wildcards count), nor for a global route", async () => {
    await admin.ok("proxy", "create", "*.wild.test", "http://127.0.0.1:3002");
    const served = await admin.cli("route", "update", "ghosted", "--proxies", "mcp.test,a.wild.test");
    expect(served).toMatchObject({ code: 0, stderr: "" });
    const global = await admin.cli("route", "create", "/g/", "url", "http://127.0.0.1:1", "--id", "g");
    expect(global).toMatchObject({ code: 0, stderr: "" });
    const byHostname = await admin.cli("route", "update", "g", "--target-type", "hostname", "--target-value", "nowhere.test");
    expect(byHostname.stderr).toContain("warning: no proxy serves nowhere.test");
  });
});

describe("token delete of a token that owns resources", () => {
  test("without --yes and nobody to ask: lists what would go, refuses, deletes nothing", async () => {
    const carol = (await gw.api("POST", "/api/v1/tokens/", { name: "carol" })).json.token;
    await gw.apiAs(carol, "POST", "/api/v1/proxy/targets/", { hostname: "carol.test", target_url: "http://127.0.0.1:4002" });
    await gw.apiAs(carol, "POST", "/api/v1/routes/", { route_id: "carol-r", path_pattern: "/c/", target_type: "url", target_value: "http://127.0.0.1:1", scope: "proxy", proxy_hostnames: ["carol.test"] });
    const run = await admin.cli("token", "delete", "carol");
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      [
        "Token carol owns these resources; deleting it deletes them too:",
        "  proxy carol.test",
        "  route carol-r",
        "portcullis: token delete: carol owns 2 resource(s), listed above; pass --yes to delete them with it",
        "",
      ].join("\n"),
    );
    expect((await gw.api("GET", "/api/v1/tokens/carol")).status).toBe(200);
    expect((await gw.api("GET", "/api/v1/proxy/targets/carol.test")).status).toBe(200);
  });

  test("asked on a terminal: no keeps everything, yes deletes the token and what it owns", async () => {
    const questions: string[] = [];
    const run = async (answer: boolean) => {
      const out: string[] = [];
      const err: string[] = [];
      const program = buildProgram(
        { API_URL: apiUrl, TOKEN: GATEWAY_ADMIN, HOME: home, PORTCULLIS_DATA_DIR: "/nonexistent" },
        { print: (t) => out.push(t), note: (t) => err.push(t), confirm: async (q) => (questions.push(q), answer) },
      );
      const quiet = (c: Command) => {
        c.exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
        c.commands.forEach(quiet);
      };
      quiet(program);
      try {
        await program.parseAsync(["token", "delete", "carol"], { from: "user" });
        return { code: 0, out, err };
      } catch (e) {
        if (e instanceof CliError || e instanceof CommanderError) return { code: e.exitCode, out, err, message: e.message };
        throw e;
      }
    };
    expect(await run(false)).toMatchObject({ code: 1, message: "token delete: nothing deleted" });
    expect((await gw.api("GET", "/api/v1/tokens/carol")).status).toBe(200);
    const yes = await run(true);
    expect(yes).toMatchObject({ code: 0, out: ["deleted token carol and what it owned: 1 proxy, 1 route"] });
    expect(questions).toEqual(["Delete token carol and these 2 resource(s)?", "Delete token carol and these 2 resource(s)?"]);
    expect((await gw.api("GET", "/api/v1/proxy/targets/carol.test")).status).toBe(404);
    expect((await gw.api("GET", "/api/v1/routes/carol-r")).status).toBe(404);
  });

  test("--yes deletes without asking; a token that owns nothing is deleted without asking", async () => {
    const dave = (await gw.api("POST", "/api/v1/tokens/", { name: "dave" })).json.token;
    await gw.apiAs(dave, "POST", "/api/v1/proxy/targets/", { hostname: "dave.test", target_url: "http://127.0.0.1:4003" });
    expect(await admin.ok("token", "delete", "dave", "--yes")).toBe("deleted token dave and what it owned: 1 proxy\n");
    await gw.api("POST", "/api/v1/tokens/", { name: "empty" });
    expect(await admin.ok("token", "delete", "empty")).toBe("deleted token empty\n");
    expect(JSON.parse(await admin.ok("token", "delete", "alice-gone", "--yes", "--format", "json").catch(() => "null"))).toBeNull();
  });

  test("what a token owns is visible to its owner and the admin only", async () => {
    const own = await gw.apiAs(alice, "GET", "/api/v1/tokens/alice/owned");
    expect(own).toEqual({ status: 200, json: { name: "alice", owned: [{ kind: "proxy", id: "alice-flags.test" }] } });
    expect((await gw.api("GET", "/api/v1/tokens/alice/owned")).json.owned).toHaveLength(1);
    expect((await gw.apiAs(bob, "GET", "/api/v1/tokens/alice/owned")).status).toBe(404);
    const bobDeletes = await as(bob, "token", "delete", "alice", "--yes");
    expect(bobDeletes.code).toBe(1);
    expect(bobDeletes.stderr).toContain('404 not_found: token "alice" not found');
    expect((await gw.api("GET", "/api/v1/tokens/alice")).status).toBe(200);
  });
});

describe("mistakes get a short answer", () => {
  test("a mistyped command suggests the closest one without dumping the whole help", async () => {
    const top = await admin.cli("proxi", "list");
    expect(top.code).toBe(1);
    expect(top.stderr).toBe("error: unknown command 'proxi'\n(Did you mean proxy?)\n(add --help for usage)\n");
    const nested = await admin.cli("route", "shwo", "api");
    expect(nested.stderr).toContain("(Did you mean show?)");
    expect(nested.stderr).not.toContain("Commands:");
    const missing = await admin.cli("route", "show");
    expect(missing.stderr).toBe("error: missing required argument 'id'\n(add --help for usage)\n");
  });
});

describe("status", () => {
  test("byExpiry: soonest first, certificates without an expiry last", () => {
    const c = (cert_name: string, expires_at: string | null) => ({ cert_name, domains: [], status: "active", expires_at });
    expect(byExpiry([c("none", null), c("late", "2030-01-01T00:00:00Z"), c("soon", "2027-01-01T00:00:00Z")]).map((x) => x.cert_name)).toEqual(["soon", "late", "none"]);
  });

  test("health, the counts the caller can see and certificate expiries, soonest first", async () => {
    const certificates = new CertificateRepository(redis.client);
    const day = 86_400_000;
    await certificates.create(await acmeRecord("later", ["later.test"], { directory: "https://acme.test/dir", expiresAt: new Date(Date.now() + 60 * day) }));
    await certificates.create(await acmeRecord("sooner", ["sooner.test"], { directory: "https://acme.test/dir", expiresAt: new Date(Date.now() + 5 * day) }));
    const view = JSON.parse(await admin.ok("status", "--format", "json"));
    const expected = {
      proxies: (await gw.api("GET", "/api/v1/proxy/targets/")).json.length,
      routes: (await gw.api("GET", "/api/v1/routes/")).json.length,
      tokens: (await gw.api("GET", "/api/v1/tokens/")).json.length,
      services: 0,
      certificates: 2,
    };
    expect(expected.proxies).toBeGreaterThan(2);
    expect(view).toMatchObject({ health: { status: "healthy", redis: "ok" }, counts: expected });
    expect(view.certificates.map((c: { cert_name: string }) => c.cert_name)).toEqual(["sooner", "later"]);
    const table = await admin.ok("status");
    expect(table).toMatch(/^Gateway: {6}healthy \(redis ok\), version \d+\.\d+\.\d+, up \d+s\n/);
    expect(table).toContain(`Proxies:      ${expected.proxies}\n`);
    expect(table).toMatch(/Certificates: 2 \(soonest: sooner, in [45]d\)/);
    expect(table.indexOf("sooner.test")).toBeLessThan(table.indexOf("later.test"));
  });

  test("a user's status counts only what the user can see", async () => {
    const view = JSON.parse((await as(bob, "status", "--format", "json")).stdout);
    expect(view.counts).toEqual({ proxies: 0, routes: expect.any(Number), tokens: 1, services: 0, certificates: 0 });
  });
});

describe("version", () => {
  test("a run from the sources says the commit is unknown", async () => {
    expect(await admin.ok("version")).toMatch(/^\d+\.\d+\.\d+ \(commit unknown\)\n$/);
    expect(JSON.parse(await admin.ok("version", "--format", "json"))).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+$/), commit: "unknown" });
  });
});
