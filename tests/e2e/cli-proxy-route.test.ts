/**
 * `portcullis proxy …` and `portcullis route …` black-box: the compiled binary
 * as a client of a running gateway, in every output format, and the just
 * recipes that wrap them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { ensureBinary, ROOT, runCli, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { tempDir } from "../helpers/temp";

const ADMIN_TOKEN = `acm_${"c1".repeat(32)}`;
const home = tempDir("home");
let gateway: RunningGateway;

beforeAll(async () => {
  await ensureBinary();
  gateway = await startGatewayProcess({ dataDir: tempDataDir(), env: { ADMIN_TOKEN } });
  await gateway.waitForHealthy();
}, 120_000);
afterAll(() => gateway?.stop());

const cliEnv = () => ({ API_URL: gateway.apiUrl, HOME: home, ADMIN_TOKEN, PORTCULLIS_DATA_DIR: "/nonexistent" });
const cli = (...args: string[]) => runCli(args, cliEnv());
/** Runs a command that must succeed and returns its stdout. */
async function ok(...args: string[]): Promise<string> {
  const result = await cli(...args);
  expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: "" });
  return result.stdout;
}
const json = async (...args: string[]) => JSON.parse(await ok("--format", "json", ...args));

describe("empty states", () => {
  test("each list says how to create the first item (table only)", async () => {
    expect(await ok("proxy", "list")).toBe("No proxies yet. Create one: portcullis proxy create <hostname> <target-url>\n");
    expect(await ok("route", "list")).toBe("No routes yet. Create one: portcullis route create <path> url <target-url>\n");
    expect(await ok("route", "list", "--scope", "global")).toBe(
      "No global routes. Create one: portcullis route create <path> url <target-url> --scope global\n",
    );
    expect(await json("proxy", "list")).toEqual([]);
    expect(await ok("--format", "csv", "route", "list")).toBe("Priority,ID,Path,Methods,Target,Scope,Enabled,Description\n");
    expect(await ok("route", "formatted")).toBe("No routes. Create one: portcullis route create <path> url <target-url>\n");
  });
});

describe("proxy commands", () => {
  test("create sends the flags given and leaves the rest to the server's defaults", async () => {
    const created = await json(
      "proxy",
      "create",
      "app.example.com",
      "http://127.0.0.1:3000",
      "--no-preserve-host",
      "--no-enable-http",
      "--header",
      "X-Env=prod",
      "--header",
      "X-Query=a=b",
      "--response-header",
      "X-Frame-Options=DENY",
    );
    expect(created).toMatchObject({
      hostname: "app.example.com",
      target_url: "http://127.0.0.1:3000",
      preserve_host_header: false,
      enable_http: false,
      enable_https: true,
      enabled: true,
      custom_headers: { "X-Env": "prod", "X-Query": "a=b" },
      custom_response_headers: { "X-Frame-Options": "DENY" },
      route_mode: "all",
    });

    // A loopback backend gets its own host by default (the server's default, see proxy-target.ts defaultPreserveHost).
    const plain = await json("proxy", "create", "plain.example.com", "http://127.0.0.1:3001", "--disabled");
    expect(plain).toMatchObject({ preserve_host_header: false, enable_http: true, enable_https: true, enabled: false, custom_headers: null });
  });

  test("a duplicate is the API's 409; a bad --header stops before any request", async () => {
    const duplicate = await cli("proxy", "create", "app.example.com", "http://127.0.0.1:4000");
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain("409 conflict");
    expect(duplicate.stderr).toContain("a proxy for app.example.com already exists");

    const badHeader = await cli("proxy", "create", "bad.example.com", "http://127.0.0.1:4000", "--header", "X-Env");
    expect(badHeader.code).toBe(1);
    expect(badHeader.stderr).toBe('portcullis: --header "X-Env": expected NAME=VALUE, e.g. --header X-Env=prod\n');
    expect((await json("proxy", "list")).map((p: { hostname: string }) => p.hostname)).not.toContain("bad.example.com");

    const invalid = await cli("proxy", "create", "bad.example.com", "ftp://x");
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("422 invalid_request: target_url: only http and https URLs are supported");
  });

  test("list in table (with the summary), json, yaml and csv", async () => {
    const table = await ok("proxy", "list");
    expect(table).toMatch(/│ Hostname\s+│ Target\s+│ Status\s+│ Auth\s+│ Certificate\s+│ Routes\s+│ Created\s+│/);
    expect(table).toMatch(/│ app\.example\.com\s+│ http:\/\/127\.0\.0\.1:3000\s+│ HTTPS\s+│ ✗\s+│ —\s+│ all\s+│ just now\s+│/);
    expect(table).toMatch(/│ plain\.example\.com\s+│ http:\/\/127\.0\.0\.1:3001\s+│ HTTP \| HTTPS \| disabled\s+│ ✗/);
    expect(table.trimEnd().split("\n").at(-1)).toBe("Summary: 2 proxies | 0 with auth");

    const fromJson = await json("proxy", "list");
    expect(fromJson.map((p: { hostname: string }) => p.hostname).sort()).toEqual(["app.example.com", "plain.example.com"]);
    expect(fromJson[0]).toHaveProperty("github_client_secret_set", false);

    const yaml = parseYaml(await ok("--format", "yaml", "proxy", "list"));
    expect(yaml).toEqual(fromJson);

    const csv = (await ok("--format", "csv", "proxy", "list")).trimEnd().split("\n");
    expect(csv[0]).toBe("Hostname,Target,Status,Auth,Certificate,Routes,Created");
    expect(csv).toContainEqual(expect.stringMatching(/^app\.example\.com,http:\/\/127\.0\.0\.1:3000,HTTPS,false,,all,\d{4}-\d\d-\d\dT/));
    expect(csv.join("\n")).not.toContain("Summary");
  });

  test("show and update", async () => {
    expect(await ok("proxy", "show", "app.example.com")).toMatch(/│ hostname\s+│ app\.example\.com/);
    expect((await json("proxy", "show", "APP.example.com")).target_url).toBe("http://127.0.0.1:3000");

    const updated = await json(
      "proxy",
      "update",
      "app.example.com",
      "--target",
      "http://127.0.0.1:3999/base",
      "--enable-http",
      "--preserve-host",
      "--disable",
      "--clear-headers",
    );
    expect(updated).toMatchObject({
      target_url: "http://127.0.0.1:3999/base",
      enable_http: true,
      preserve_host_header: true,
      enabled: false,
      custom_headers: null,
      custom_response_headers: { "X-Frame-Options": "DENY" },
    });
    expect((await json("proxy", "update", "app.example.com", "--enable")).enabled).toBe(true);

    const nothing = await cli("proxy", "update", "app.example.com");
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain("proxy update: nothing to change");
    const both = await cli("proxy", "update", "app.example.com", "--enable", "--disable");
    expect(both.code).toBe(1);
    expect(both.stderr).toContain("cannot be used with option '--disable'");
    const missing = await cli("proxy", "update", "ghost.example.com", "--enable");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404 not_found: proxy "ghost.example.com" not found');
  });
});

describe("route commands", () => {
  test("create: given id and generated id, global and proxy scope, regex", async () => {
    const api = await json("route", "create", "/api/", "url", "http://127.0.0.1:4000", "--id", "api", "--priority", "90", "--methods", "get,POST", "--description", "API v1");
    expect(api).toMatchObject({ route_id: "api", priority: 90, methods: ["GET", "POST"], scope: "global", enabled: true, description: "API v1" });

    const generated = await json("route", "create", "^/v[0-9]+/", "service", "billing", "--regex", "--proxies", "app.example.com", "--disabled");
    expect(generated.route_id).toMatch(/^route-[0-9a-f]{8}$/);
    expect(generated).toMatchObject({ is_regex: true, scope: "proxy", proxy_hostnames: ["app.example.com"], enabled: false, priority: 50 });

    await ok("route", "create", "/static/", "url", "http://127.0.0.1:4001", "--id", "static", "--priority", "10");
  });

  test("bad input: a non-integer priority stops here, the rest is the API's answer", async () => {
    const priority = await cli("route", "create", "/x/", "url", "http://127.0.0.1:1", "--priority", "high");
    expect(priority.code).toBe(1);
    expect(priority.stderr).toBe('portcullis: --priority "high": expected an integer\n');

    const duplicate = await cli("route", "create", "/other/", "url", "http://127.0.0.1:1", "--id", "api");
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('409 conflict: a route with route_id "api" already exists');

    const scope = await cli("route", "create", "/x/", "url", "http://127.0.0.1:1", "--scope", "proxy");
    expect(scope.code).toBe(1);
    expect(scope.stderr).toContain("422 invalid_request: proxy_hostnames");

    const badScope = await cli("route", "list", "--scope", "some");
    expect(badScope.code).toBe(1);
    expect(badScope.stderr).toContain("Allowed choices are all, global, proxy");
  });

  test("list in table, json, yaml and csv, and by scope", async () => {
    const table = await ok("route", "list");
    expect(table).toMatch(/│ Priority\s+│ ID\s+│ Path\s+│ Methods\s+│ Target\s+│ Scope\s+│ Enabled\s+│ Description\s+│/);
    expect(table).toMatch(/│ 90\s+│ api\s+│ \/api\/\s+│ GET,POST\s+│ url:http:\/\/127\.0\.0\.1:4000\s+│ global\s+│ ✓\s+│ API v1\s+│/);
    expect(table).toMatch(/│ 50\s+│ route-[0-9a-f]{8}\s+│ ~\^\/v\[0-9\]\+\/\s+│ \*\s+│ service:billing\s+│ proxy:app\.example\.com\s+│ ✗\s+│ —\s+│/);

    const all = await json("route", "list");
    expect(all.map((r: { priority: number }) => r.priority)).toEqual([90, 50, 10]);
    expect(parseYaml(await ok("--format", "yaml", "route", "list"))).toEqual(all);
    const csv = (await ok("--format", "csv", "route", "list")).trimEnd().split("\n");
    expect(csv[0]).toBe("Priority,ID,Path,Methods,Target,Scope,Enabled,Description");
    expect(csv[1]).toBe('90,api,/api/,"GET,POST",url:http://127.0.0.1:4000,global,true,API v1');

    const proxyScoped = await json("route", "list", "--scope", "proxy");
    expect(proxyScoped.map((r: { scope: string }) => r.scope)).toEqual(["proxy"]);
    const global = await json("route", "list", "--scope", "global");
    expect(global.map((r: { route_id: string }) => r.route_id)).toEqual(["api", "static"]);
  });

  test("show, update and formatted", async () => {
    expect(await json("route", "show", "api")).toMatchObject({ route_id: "api", path_pattern: "/api/" });
    const shown = await cli("route", "show", "ghost");
    expect(shown.code).toBe(1);
    expect(shown.stderr).toContain('404 not_found: route "ghost" not found');

    const updated = await json("route", "update", "static", "--priority", "20", "--methods", "GET", "--description", "assets", "--disable");
    expect(updated).toMatchObject({ priority: 20, methods: ["GET"], description: "assets", enabled: false });
    const moved = await json("route", "update", "static", "--path", "/assets/", "--target-value", "http://127.0.0.1:4002", "--methods", "", "--enable");
    expect(moved).toMatchObject({ path_pattern: "/assets/", target_value: "http://127.0.0.1:4002", methods: [], enabled: true });

    const nothing = await cli("route", "update", "static");
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain("route update: nothing to change");

    const formatted = await ok("route", "formatted");
    const lines = formatted.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^PRIORITY\s+ID\s+PATH\s+METHODS\s+TARGET\s+SCOPE\s+ENABLED\s+DESCRIPTION$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual(["api", expect.stringMatching(/^route-/), "static"]);
    // Printed as the server sent it, whatever --format says.
    expect(await ok("--format", "json", "route", "formatted")).toBe(formatted);
  });
});

describe("a proxy's routes", () => {
  test("routes shows the mode and the effective routes; routes-set changes them", async () => {
    const before = await json("proxy", "routes", "app.example.com");
    expect(before.route_mode).toBe("all");
    expect(before.effective_routes.map((r: { route_id: string }) => r.route_id)).toEqual(["api", "static"]);

    const table = await ok("proxy", "routes", "app.example.com");
    expect(table).toMatch(/│ route_mode\s+│ all/);
    expect(table).toContain("Effective routes, in evaluation order:");
    expect(table).toMatch(/│ 90\s+│ api\s+│/);

    const proxyRoute = (await json("route", "list", "--scope", "proxy"))[0].route_id;
    await ok("route", "update", proxyRoute, "--enable");
    const selective = await json("proxy", "routes-set", "app.example.com", "--mode", "selective", "--enable-route", `api,${proxyRoute}`);
    expect(selective).toMatchObject({ route_mode: "selective", enabled_routes: ["api", proxyRoute] });
    expect(selective.effective_routes.map((r: { route_id: string }) => r.route_id)).toEqual(["api", proxyRoute]);

    const csv = (await ok("--format", "csv", "proxy", "routes", "app.example.com")).trimEnd().split("\n");
    expect(csv).toHaveLength(3);

    const none = await ok("proxy", "routes-set", "app.example.com", "--mode", "none", "--enable-route", "");
    expect(none).toContain("No routes apply to app.example.com: its target_url gets every request.");
    expect(await json("proxy", "routes", "app.example.com")).toMatchObject({ route_mode: "none", enabled_routes: [], effective_routes: [] });

    const bad = await cli("proxy", "routes-set", "app.example.com", "--mode", "some");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("422 invalid_request: route_mode");
    const nothing = await cli("proxy", "routes-set", "app.example.com");
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain("nothing to set");
  });
});

describe("delete", () => {
  test("route and proxy delete, then they are gone", async () => {
    expect(await json("route", "delete", "static")).toEqual({ deleted: "static" });
    expect(await ok("proxy", "delete", "plain.example.com")).toMatch(/│ deleted\s+│ plain\.example\.com/);
    const gone = await cli("proxy", "show", "plain.example.com");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("404 not_found");
    const again = await cli("route", "delete", "static");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('404 not_found: route "static" not found');
  });
});

const justBinary = Bun.which("just");

/** The just recipes: arguments by position, the trailing token passed as --token. */
describe.skipIf(!justBinary)("just recipes", () => {
  const just = async (...args: string[]) => {
    const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), ...args], {
      // No ADMIN_TOKEN here: the recipes must pass their token argument.
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, API_URL: gateway.apiUrl, PORTCULLIS_DATA_DIR: "/nonexistent" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    return { code, stdout, stderr };
  };
  const api = (path: string) =>
    fetch(`${gateway.apiUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.json() as Promise<any>);

  test("proxy recipes: booleans, certificate arguments passed through", async () => {
    // staging and email reach the API (tests/e2e/cli-cert.test.ts shows their effect); no certificate is requested here.
    const created = await just("proxy-create", "just.example.com", "http://127.0.0.1:5000", "true", "true", "", "false", "ops@example.com", ADMIN_TOKEN);
    expect(created.code).toBe(0);
    expect(created.stderr).toBe("");
    expect(await api("/api/v1/proxy/targets/just.example.com")).toMatchObject({
      preserve_host_header: true,
      enable_http: true,
      enable_https: false,
    });

    const badBool = await just("proxy-create", "nope.example.com", "http://127.0.0.1:5000", "", "yes", "", "", "", ADMIN_TOKEN);
    expect(badBool.code).not.toBe(0);
    expect(badBool.stderr).toContain("preserve-host: expected true or false, got 'yes'");

    const noToken = await just("proxy-list");
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain("401 unauthorized");
    expect((await just("proxy-list", ADMIN_TOKEN)).stdout).toMatch(/just\.example\.com[\s\S]*Summary: 2 proxies/);
    expect((await just("proxy-show", "just.example.com", ADMIN_TOKEN)).stdout).toMatch(/│ hostname\s+│ just\.example\.com/);

    const badEmail = await just("proxy-create", "mail.example.com", "http://127.0.0.1:5000", "", "", "", "", "not-an-email", ADMIN_TOKEN);
    expect(badEmail.code).toBe(1);
    expect(badEmail.stderr).toContain("422 invalid_request: cert_email");

    const deleted = await just("proxy-delete", "just.example.com", "true", "", ADMIN_TOKEN);
    expect(deleted.code).toBe(0);
    expect(deleted.stderr).toBe("");
    expect(deleted.stdout).toMatch(/│ deleted\s+│ just\.example\.com/);
    // It had no certificate, so there was none to delete.
    expect(deleted.stdout).not.toContain("certificate_deleted");
  });

  test("route recipes: create (plain, global, proxy), list, list by scope, show in JSON, delete", async () => {
    const plain = await just("route-create", "/plain/", "url", "http://127.0.0.1:5001", "70", "GET,HEAD", "false", "plain one", ADMIN_TOKEN);
    expect(plain.code).toBe(0);
    const global = await just("route-create-global", "^/g/[a-z]+$", "service", "svc", "", "", "true", "", ADMIN_TOKEN);
    expect(global.code).toBe(0);
    const scoped = await just("route-create-proxy", "/p/", "url", "http://127.0.0.1:5002", "app.example.com", "60", "", "false", "for app", ADMIN_TOKEN);
    expect(scoped.code).toBe(0);

    const routes: any[] = await api("/api/v1/routes/");
    const byPath = Object.fromEntries(routes.map((r) => [r.path_pattern, r]));
    expect(byPath["/plain/"]).toMatchObject({ priority: 70, methods: ["GET", "HEAD"], is_regex: false, scope: "global", description: "plain one" });
    expect(byPath["^/g/[a-z]+$"]).toMatchObject({ priority: 50, methods: [], is_regex: true, scope: "global", target_value: "svc" });
    expect(byPath["/p/"]).toMatchObject({ priority: 60, scope: "proxy", proxy_hostnames: ["app.example.com"], description: "for app" });

    const list = await just("route-list", ADMIN_TOKEN);
    expect(list.stdout).toMatch(/│ 70\s+│ route-[0-9a-f]{8}\s+│ \/plain\/\s+│ GET,HEAD/);
    const proxyOnly = await just("route-list-by-scope", "proxy", ADMIN_TOKEN);
    expect(proxyOnly.stdout).toContain("/p/");
    expect(proxyOnly.stdout).not.toContain("/plain/");

    const id = byPath["/plain/"].route_id;
    expect(JSON.parse((await just("route-show", id, ADMIN_TOKEN)).stdout)).toMatchObject({ route_id: id, path_pattern: "/plain/" });
    expect((await just("route-delete", id, ADMIN_TOKEN)).code).toBe(0);
    expect((await just("route-show", id, ADMIN_TOKEN)).stderr).toContain("404 not_found");
  });
});
