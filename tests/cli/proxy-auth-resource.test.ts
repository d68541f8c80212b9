/**
 * `portcullis proxy auth-…`, `proxy resource-…` and `resource …` against a
 * real gateway (in this process, on real ports, with a private Redis): what
 * each command prints, that what it sets is what the API then shows and the
 * edge then does, and the just recipes that wrap them, run for real.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { EMPTY_PROTECTED_PROXIES_HINT } from "../../src/cli/commands/proxy-resource";
import { EMPTY_RESOURCES_HINT } from "../../src/cli/commands/resource";
import { GATEWAY_ADMIN, namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { ROOT } from "../helpers/gateway-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { cliSession, type ProgramRun } from "../helpers/cli-program";
import { justBinary } from "../helpers/just-dry-run";

const HOME = tempDir("home");
const DOMAIN = "example.test";
const AUTH_HOST = `auth.${DOMAIN}`;
const APP_HOST = `app.${DOMAIN}`;
const MCP_HOST = `mcp.${DOMAIN}`;
const MCP_URI = `https://${MCP_HOST}/mcp`;

type Run = ProgramRun;

const childEnv = () => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME, API_URL: apiUrl, TOKEN: GATEWAY_ADMIN, PORTCULLIS_DATA_DIR: "/nonexistent" });

async function collect(child: Bun.Subprocess<"ignore" | Uint8Array, "pipe", "pipe">): Promise<Run> {
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

/** The CLI as a separate process (`bun src/main.ts`), for what needs a real stdin. */
const runProcess = (args: string[], stdin: string) =>
  collect(Bun.spawn(["bun", join(ROOT, "src/main.ts"), ...args], { env: childEnv(), stdin: new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" }));

/** A recipe, run for real against this gateway, with the CLI from the sources (not a possibly older dist/portcullis). */
const runRecipe = (...args: string[]) =>
  collect(
    Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), "--set", "cli", `bun '${join(ROOT, "src/main.ts")}'`, ...args], {
      cwd: HOME,
      env: childEnv(),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    }),
  );

let redis: TestRedis;
let gateway: TestGateway;
let apiUrl: string;
let backend: ReturnType<typeof namedBackend>;
const { cli, ok, json } = cliSession(() => apiUrl, GATEWAY_ADMIN, HOME);
/** Runs a command that must fail; returns its stderr. */
const failing = async (...args: string[]) => {
  const run = await cli(...args);
  expect({ args, code: run.code }).toEqual({ args, code: 1 });
  return run.stderr;
};

/**
 * The edge's answer once it reflects the change just made: gateway nodes apply
 * changes from events, a moment after the API has answered.
 */
async function edgeOnce(host: string, path: string, ready: (res: Response, body: any) => boolean, timeoutMs = 3_000): Promise<{ res: Response; body: any }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const res = await gateway.get(host, path);
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: the text.
    }
    if (ready(res, body) || performance.now() > deadline) return { res, body };
    await Bun.sleep(5);
  }
}

/** An access token for `resource`, minted by the admin API. */
const mint = async (resource: string, scope = "mcp:read mcp:write") => {
  const minted = await gateway.api("POST", "/api/v1/oauth/test-tokens", { resource, scope, username: "carol" });
  expect(minted.status).toBe(201);
  return minted.json as { access_token: string; jti: string; session_id: string };
};

beforeAll(async () => {
  redis = await startTestRedis();
  backend = namedBackend("app");
  gateway = await startTestGateway(redis, {
    BASE_DOMAIN: DOMAIN,
    OAUTH_ALLOWED_GITHUB_USERS: "carol",
    GITHUB_CLIENT_ID: "gh-default-app",
    GITHUB_CLIENT_SECRET: "gh-default-secret",
    // Nothing here logs in; a closed port makes sure nothing could reach github.com.
    GITHUB_OAUTH_BASE_URL: "http://127.0.0.1:1",
    GITHUB_API_BASE_URL: "http://127.0.0.1:1",
  });
  apiUrl = `http://127.0.0.1:${gateway.gateway.apiPort}`;
  const target = `http://127.0.0.1:${backend.port}`;
  for (const hostname of [APP_HOST, MCP_HOST]) {
    expect((await gateway.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: target, enable_https: false })).status).toBe(201);
  }
});
afterAll(async () => {
  await gateway?.stop();
  await redis?.stop();
  backend?.stop(true);
});

describe("proxy auth-enable, auth-config, auth-show, auth-disable", () => {
  test("before: no auth, the default allowlist, and the edge forwards", async () => {
    expect(await json("proxy", "auth-show", APP_HOST)).toMatchObject({
      hostname: APP_HOST,
      auth_enabled: false,
      auth_proxy: null,
      auth_mode: "forward",
      auth_required_users: null,
      effective_users: ["carol"],
      allowed_users_source: "default",
    });
    expect((await gateway.get(APP_HOST, "/x")).status).toBe(200);
  });

  test("auth-enable: on, with the gateway's authorization server, the mode and scopes given; the edge then wants a token", async () => {
    const enabled = await json("proxy", "auth-enable", APP_HOST, "--mode", "forward", "--allowed-scopes", "mcp:read", "--allowed-audiences", `https://${MCP_HOST}`);
    expect(enabled).toMatchObject({
      auth_enabled: true,
      auth_proxy: AUTH_HOST,
      auth_mode: "forward",
      auth_allowed_scopes: ["mcp:read"],
      auth_allowed_audiences: [`https://${MCP_HOST}`],
    });
    const { res } = await edgeOnce(APP_HOST, "/x", (r) => r.status === 401);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toStartWith("Bearer ");
  });

  test("auth-config: only the settings given change; logins are stored lower-case; excluded paths bypass auth", async () => {
    const before = await json("proxy", "auth-show", APP_HOST);
    const configured = await json(
      "proxy", "auth-config", APP_HOST,
      "--users", "Alice,bob",
      "--emails", "*@example.test",
      "--excluded-paths", "/health,/public/*",
      "--no-pass-headers",
      "--forward-bearer",
      "--header-prefix", "X-User-",
      "--cookie-name", "app_session",
    );
    expect(configured).toEqual({
      ...before,
      auth_required_users: ["alice", "bob"],
      auth_required_emails: ["*@example.test"],
      auth_excluded_paths: ["/health", "/public/*"],
      auth_pass_headers: false,
      auth_forward_bearer: true,
      auth_header_prefix: "X-User-",
      auth_cookie_name: "app_session",
      effective_users: ["alice", "bob"],
      allowed_users_source: "proxy",
    });
    expect(await json("proxy", "auth-show", APP_HOST)).toEqual(configured);
    expect((await edgeOnce(APP_HOST, "/public/page", (r) => r.status === 200)).res.status).toBe(200);
    expect((await gateway.get(APP_HOST, "/private")).status).toBe(401);
  });

  test("auth-show as a table (lists joined), yaml as json, csv one row", async () => {
    const table = await ok("proxy", "auth-show", APP_HOST);
    expect(table).toMatch(/│ auth_enabled\s+│ ✓\s+│/);
    expect(table).toMatch(/│ auth_required_users\s+│ alice, bob\s+│/);
    expect(table).toMatch(/│ allowed_users_source\s+│ proxy\s+│/);
    expect(parseYaml(await ok("--format", "yaml", "proxy", "auth-show", APP_HOST))).toEqual(await json("proxy", "auth-show", APP_HOST));
    const csv = (await ok("--format", "csv", "proxy", "auth-show", APP_HOST)).trimEnd().split("\n");
    expect(csv).toHaveLength(2);
    expect(csv[0]).toStartWith("hostname,auth_enabled,auth_proxy,auth_mode,");
  });

  test("auth-disable: off, and every other setting kept; the edge forwards again", async () => {
    const before = await json("proxy", "auth-show", APP_HOST);
    const disabled = await json("proxy", "auth-disable", APP_HOST);
    expect(disabled).toEqual({ ...before, auth_enabled: false });
    expect(disabled.auth_required_users).toEqual(["alice", "bob"]);
    expect((await edgeOnce(APP_HOST, "/private", (r) => r.status === 200)).res.status).toBe(200);
    // Enabling again brings the same policy back.
    expect(await json("proxy", "auth-enable", APP_HOST)).toEqual(before);
  });

  test('auth-config --users "": back to OAUTH_ALLOWED_GITHUB_USERS (sent as null); "*" admits everyone', async () => {
    expect(await json("proxy", "auth-config", APP_HOST, "--users", "")).toMatchObject({ auth_required_users: null, effective_users: ["carol"], allowed_users_source: "default" });
    expect(await json("proxy", "auth-config", APP_HOST, "--users", "*")).toMatchObject({ auth_required_users: ["*"], effective_users: ["*"], allowed_users_source: "proxy" });
    expect(await json("proxy", "auth-config", APP_HOST, "--emails", "", "--excluded-paths", "")).toMatchObject({ auth_required_emails: null, auth_excluded_paths: null, auth_required_users: ["*"] });
  });

  test("auth-disable --reset: every auth_* setting back to its default", async () => {
    expect(await json("proxy", "auth-disable", APP_HOST, "--reset")).toMatchObject({
      auth_enabled: false,
      auth_proxy: null,
      auth_required_users: null,
      auth_allowed_scopes: null,
      auth_pass_headers: true,
      auth_forward_bearer: false,
      auth_header_prefix: "X-Auth-",
      auth_cookie_name: "unified_auth_token",
    });
  });

  test("refusals: nothing to set and a bad mode stop here; the API's 422 and 404 come through, one line", async () => {
    expect(await failing("proxy", "auth-config", APP_HOST)).toContain("nothing to set");
    const mode = await cli("proxy", "auth-enable", APP_HOST, "--mode", "sideways");
    expect(mode.code).not.toBe(0);
    expect(mode.stderr).toContain("Allowed choices are forward, redirect, passthrough");
    expect(await failing("proxy", "auth-config", APP_HOST, "--groups", "admins")).toContain("422 invalid_request: auth_required_groups: not supported");
    expect(await failing("proxy", "auth-config", APP_HOST, "--users", "alice,*")).toContain('"*" admits every user; list it alone');
    // Any RFC 6749 scope token is an operator's scope; one with a quote or backslash is not a scope token.
    expect(await failing("proxy", "auth-enable", APP_HOST, "--allowed-scopes", 'ro"ot')).toContain('422 invalid_request: auth_allowed_scopes: scope "ro\\"ot"');
    expect(await failing("proxy", "auth-show", "ghost.example.test")).toContain('GET /api/v1/proxy/targets/ghost.example.test/auth: 404 not_found: proxy "ghost.example.test" not found');
    expect((await json("proxy", "auth-show", APP_HOST)).auth_enabled).toBe(false);
  });
});

describe.skipIf(!justBinary)("proxy-auth-* recipes, run", () => {
  test("proxy-auth-enable with a mode, then proxy-auth-config users, then all empty: back to the default allowlist", async () => {
    const enable = await runRecipe("proxy-auth-enable", APP_HOST, "", "passthrough", "mcp:read");
    expect({ code: enable.code, stderr: enable.stderr }).toEqual({ code: 0, stderr: "" });
    expect(await json("proxy", "auth-show", APP_HOST)).toMatchObject({ auth_enabled: true, auth_mode: "passthrough", auth_allowed_scopes: ["mcp:read"] });

    expect((await runRecipe("proxy-auth-config", APP_HOST, "alice,bob,charlie", "", "", "", "")).code).toBe(0);
    expect(await json("proxy", "auth-show", APP_HOST)).toMatchObject({ auth_required_users: ["alice", "bob", "charlie"], allowed_users_source: "proxy" });

    // Another argument alone leaves the users as they are.
    expect((await runRecipe("proxy-auth-config", APP_HOST, "", "*@example.test")).code).toBe(0);
    expect(await json("proxy", "auth-show", APP_HOST)).toMatchObject({ auth_required_users: ["alice", "bob", "charlie"], auth_required_emails: ["*@example.test"] });

    // The spec's "use global default": every argument empty.
    const reset = await runRecipe("proxy-auth-config", APP_HOST, "", "", "", "", "", GATEWAY_ADMIN);
    expect({ code: reset.code, stderr: reset.stderr }).toEqual({ code: 0, stderr: "" });
    expect(await json("proxy", "auth-show", APP_HOST)).toMatchObject({
      auth_required_users: null,
      effective_users: ["carol"],
      allowed_users_source: "default",
      auth_required_emails: ["*@example.test"],
    });

    const shown = await runRecipe("proxy-auth-show", APP_HOST);
    expect(shown.stdout).toMatch(/│ allowed_users_source\s+│ default\s+│/);
    expect((await runRecipe("proxy-auth-disable", APP_HOST)).code).toBe(0);
    expect(await json("proxy", "auth-show", APP_HOST)).toMatchObject({ auth_enabled: false, auth_mode: "passthrough" });
    await ok("proxy", "auth-disable", APP_HOST, "--reset");
  });

  test("an API refusal fails the recipe with the CLI's one line", async () => {
    const run = await runRecipe("proxy-auth-show", "ghost.example.test");
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('portcullis: GET /api/v1/proxy/targets/ghost.example.test/auth: 404 not_found: proxy "ghost.example.test" not found');
  });
});

describe("proxy resource-set, resource-show, resource-clear, resource-list", () => {
  test("resource-list: none yet", async () => {
    expect(await ok("proxy", "resource-list")).toBe(`${EMPTY_PROTECTED_PROXIES_HINT}\n`);
    expect(await json("proxy", "resource-list")).toEqual([]);
  });

  test("resource-set: the resource URI, the metadata URLs and the document; the edge serves it", async () => {
    const set = await json(
      "proxy", "resource-set", MCP_HOST,
      "--endpoint", "/mcp",
      "--scopes", "mcp:read,mcp:write",
      "--stateful",
      "--override-backend",
      "--bearer-methods", "header",
      "--doc-suffix", "/docs",
      "--versions", "2025-06-18",
      "--server-info", '{"name":"Tools","version":"1.0"}',
      "--custom-metadata", '{"x_vendor":"acme"}',
    );
    expect(set).toMatchObject({
      hostname: MCP_HOST,
      resource_endpoint: "/mcp",
      resource_scopes: ["mcp:read", "mcp:write"],
      resource_stateful: true,
      resource_override_backend: true,
      resource_bearer_methods: ["header"],
      resource_documentation_suffix: "/docs",
      resource_versions: ["2025-06-18"],
      resource_server_info: { name: "Tools", version: "1.0" },
      resource_custom_metadata: { x_vendor: "acme" },
      resource: MCP_URI,
      metadata_url: `https://${MCP_HOST}/.well-known/oauth-protected-resource/mcp`,
      metadata_url_root: `https://${MCP_HOST}/.well-known/oauth-protected-resource`,
      metadata_preview: {
        resource: MCP_URI,
        authorization_servers: [`https://${AUTH_HOST}`],
        scopes_supported: ["mcp:read", "mcp:write"],
        bearer_methods_supported: ["header"],
        resource_documentation: `${MCP_URI}/docs`,
        resource_name: "Tools",
        stateful: true,
        x_vendor: "acme",
      },
    });
    expect(await json("proxy", "resource-show", MCP_HOST)).toEqual(set);

    const served = await edgeOnce(MCP_HOST, "/.well-known/oauth-protected-resource/mcp", (_, body) => body?.resource_name === "Tools");
    expect(served.res.status).toBe(200);
    expect(served.body).toMatchObject({ scopes_supported: ["mcp:read", "mcp:write"], resource_name: "Tools", x_vendor: "acme" });
  });

  test("--no-override-backend: a backend that publishes its own document keeps it", async () => {
    expect(await json("proxy", "resource-set", MCP_HOST, "--no-override-backend")).toMatchObject({ resource_override_backend: false, resource_scopes: ["mcp:read", "mcp:write"] });
    expect((await edgeOnce(MCP_HOST, "/.well-known/oauth-protected-resource/mcp", (_, body) => body?.backend === "app")).body).toMatchObject({ backend: "app" });
  });

  test("a later set changes only what it names; \"\" resets a field", async () => {
    const changed = await json("proxy", "resource-set", MCP_HOST, "--no-stateful", "--doc-suffix", "", "--custom-metadata", "");
    expect(changed).toMatchObject({ resource_stateful: false, resource_documentation_suffix: null, resource_custom_metadata: null, resource_scopes: ["mcp:read", "mcp:write"], resource_endpoint: "/mcp" });
    expect(changed.metadata_preview).not.toHaveProperty("resource_documentation");
    expect(changed.metadata_preview).not.toHaveProperty("x_vendor");
  });

  test("resource-show as a table: the settings, then where the document is served and what it says", async () => {
    const table = await ok("proxy", "resource-show", MCP_HOST);
    expect(table).toMatch(/│ resource_scopes\s+│ mcp:read, mcp:write\s+│/);
    expect(table).toMatch(/│ resource\s+│ https:\/\/mcp\.example\.test\/mcp\s+│/);
    expect(table).toContain(`Metadata served at https://${MCP_HOST}/.well-known/oauth-protected-resource/mcp (and https://${MCP_HOST}/.well-known/oauth-protected-resource):`);
    expect(table).toMatch(/│ authorization_servers\s+│ https:\/\/auth\.example\.test\s+│/);
    expect(table).not.toContain("metadata_preview");
  });

  test("resource-list: the proxies serving metadata — by endpoint, or by auth alone", async () => {
    await ok("proxy", "auth-enable", APP_HOST, "--allowed-scopes", "mcp:read");
    const rows = await json("proxy", "resource-list");
    expect(rows).toEqual([
      { hostname: APP_HOST, resource: `https://${APP_HOST}`, resource_endpoint: null, scopes_supported: ["mcp:read"], auth_enabled: true, metadata_url: `https://${APP_HOST}/.well-known/oauth-protected-resource` },
      { hostname: MCP_HOST, resource: MCP_URI, resource_endpoint: "/mcp", scopes_supported: ["mcp:read", "mcp:write"], auth_enabled: false, metadata_url: `https://${MCP_HOST}/.well-known/oauth-protected-resource/mcp` },
    ]);
    const table = await ok("proxy", "resource-list");
    expect(table).toMatch(/│ Hostname\s+│ Endpoint\s+│ Scopes\s+│ Auth\s+│ Metadata URL\s+│/);
    expect(table).toMatch(/│ mcp\.example\.test\s+│ \/mcp\s+│ mcp:read, mcp:write\s+│ ✗\s+│ https:\/\/mcp\.example\.test\/\.well-known\/oauth-protected-resource\/mcp\s+│/);
    expect(table).toMatch(/│ app\.example\.test\s+│ \/\s+│ mcp:read\s+│ ✓\s+│/);
    expect((await ok("--format", "csv", "proxy", "resource-list")).split("\n")[0]).toBe("Hostname,Endpoint,Scopes,Auth,Metadata URL");
    await ok("proxy", "auth-disable", APP_HOST, "--reset");
  });

  test("--hacker-one-research: the X-HackerOne-Research header on the proxy's responses; \"\" removes it, other headers kept", async () => {
    await ok("proxy", "update", MCP_HOST, "--response-header", "X-Keep=1");
    const run = await cli("--format", "json", "proxy", "resource-set", MCP_HOST, "--hacker-one-research", "researcher@example.test");
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(`${MCP_HOST}: forwarded responses now carry X-HackerOne-Research: researcher@example.test\n`);
    expect(JSON.parse(run.stdout)).toMatchObject({ resource_endpoint: "/mcp" });
    expect((await json("proxy", "show", MCP_HOST)).custom_response_headers).toEqual({ "X-Keep": "1", "X-HackerOne-Research": "researcher@example.test" });
    const { res } = await edgeOnce(MCP_HOST, "/anything", (r) => r.headers.has("x-hackerone-research"));
    expect(res.headers.get("x-hackerone-research")).toBe("researcher@example.test");

    const removed = await cli("proxy", "resource-set", MCP_HOST, "--hacker-one-research", "", "--scopes", "mcp:read");
    expect(removed.code).toBe(0);
    expect(removed.stderr).toBe(`${MCP_HOST}: X-HackerOne-Research removed\n`);
    expect((await json("proxy", "show", MCP_HOST)).custom_response_headers).toEqual({ "X-Keep": "1" });
    expect((await json("proxy", "resource-show", MCP_HOST)).resource_scopes).toEqual(["mcp:read"]);
    await ok("proxy", "update", MCP_HOST, "--clear-response-headers");
  });

  test("refusals: nothing to set and bad JSON stop here; the API's 422 changes nothing; an unknown proxy is a 404", async () => {
    const before = await json("proxy", "resource-show", MCP_HOST);
    expect(await failing("proxy", "resource-set", MCP_HOST)).toContain("nothing to set");
    expect(await failing("proxy", "resource-set", MCP_HOST, "--server-info", "{nope")).toContain("--server-info: not valid JSON");
    expect(await failing("proxy", "resource-set", MCP_HOST, "--custom-metadata", "[1]")).toContain("--custom-metadata: expected a JSON object");
    expect(await failing("proxy", "resource-set", MCP_HOST, "--bearer-methods", "query")).toContain('422 invalid_request: resource_bearer_methods: "query" is refused');
    expect(await failing("proxy", "resource-set", MCP_HOST, "--custom-metadata", '{"resource":"https://evil.example"}')).toContain("is an RFC 9728 field");
    // A refused resource field: the header is not touched either.
    expect(await failing("proxy", "resource-set", MCP_HOST, "--endpoint", "/a?b", "--hacker-one-research", "me")).toContain("resource_endpoint");
    expect((await json("proxy", "show", MCP_HOST)).custom_response_headers).toBeNull();
    expect(await json("proxy", "resource-show", MCP_HOST)).toEqual(before);
    expect(await failing("proxy", "resource-show", "ghost.example.test")).toContain('404 not_found: proxy "ghost.example.test" not found');
  });

  test("resource-clear: every field back to its default; the proxy leaves resource-list and the edge stops serving the document", async () => {
    await ok("proxy", "resource-set", MCP_HOST, "--override-backend");
    // The edge serves it over plain HTTP here, so the resource it states is http://.
    const served = await edgeOnce(MCP_HOST, "/.well-known/oauth-protected-resource/mcp", (_, body) => typeof body?.jwks_uri === "string");
    expect(served.body).toMatchObject({ resource: `http://${MCP_HOST}/mcp`, authorization_servers: [`https://${AUTH_HOST}`] });
    const cleared = await json("proxy", "resource-clear", MCP_HOST);
    expect(cleared).toMatchObject({ resource_endpoint: null, resource_scopes: null, resource_stateful: false, resource_server_info: null, resource: `https://${MCP_HOST}` });
    expect(await json("proxy", "resource-show", MCP_HOST)).toEqual(cleared);
    expect(await json("proxy", "resource-list")).toEqual([]);
    expect(await ok("proxy", "resource-show", MCP_HOST)).toContain(`while auth is on (portcullis proxy auth-enable ${MCP_HOST}); set --endpoint to serve it regardless:`);
    const after = await edgeOnce(MCP_HOST, "/.well-known/oauth-protected-resource/mcp", (_, body) => body?.backend === "app");
    expect(after.res.status).toBe(200);
    expect(after.body).toMatchObject({ backend: "app" });
  });
});

describe.skipIf(!justBinary)("proxy-resource-* recipes, run", () => {
  test("set with positional arguments (booleans, JSON), show, list, clear", async () => {
    const set = await runRecipe("proxy-resource-set", MCP_HOST, "/mcp", "mcp:read,mcp:write", "true", "false", "header", "/docs", '{"name":"Tools"}', '{"x_team":"tools"}', "");
    expect({ code: set.code, stderr: set.stderr }).toEqual({ code: 0, stderr: "" });
    expect(await json("proxy", "resource-show", MCP_HOST)).toMatchObject({
      resource_endpoint: "/mcp",
      resource_scopes: ["mcp:read", "mcp:write"],
      resource_stateful: true,
      resource_override_backend: false,
      resource_documentation_suffix: "/docs",
      resource_server_info: { name: "Tools" },
      resource_custom_metadata: { x_team: "tools" },
    });
    expect((await runRecipe("proxy-resource-show", MCP_HOST)).stdout).toContain("Metadata served at https://mcp.example.test/.well-known/oauth-protected-resource/mcp");
    expect((await runRecipe("proxy-resource-list")).stdout).toMatch(/│ mcp\.example\.test\s+│ \/mcp\s+│/);

    const bad = await runRecipe("proxy-resource-set", MCP_HOST, "", "", "yes");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("stateful: expected true or false, got 'yes'");

    expect((await runRecipe("proxy-resource-clear", MCP_HOST, GATEWAY_ADMIN)).code).toBe(0);
    expect((await runRecipe("proxy-resource-list")).stdout).toBe(`${EMPTY_PROTECTED_PROXIES_HINT}\n`);
  });
});

describe("resource registry", () => {
  let mcpToken: { access_token: string; jti: string; session_id: string };

  test("list: none yet", async () => {
    expect(await ok("resource", "list")).toBe(`${EMPTY_RESOURCES_HINT}\n`);
    expect(await json("resource", "list")).toEqual([]);
  });

  test("register: stored in canonical form with the fields given and the defaults; list and show find it", async () => {
    const registered = await json("resource", "register", "HTTPS://MCP.example.test/mcp/", "--name", "Tools", "--proxy", MCP_HOST, "--scopes", "mcp:read,mcp:write", "--description", "the tools server");
    expect(registered).toMatchObject({
      uri: MCP_URI,
      name: "Tools",
      proxy_target: MCP_HOST,
      scopes: ["mcp:read", "mcp:write"],
      metadata_url: `https://${MCP_HOST}/.well-known/oauth-protected-resource/mcp`,
      description: "the tools server",
      created_by: "admin",
    });
    expect(await json("resource", "list")).toEqual([registered]);
    expect(await json("resource", "show", MCP_URI)).toEqual(registered);
    const table = await ok("resource", "list");
    expect(table).toMatch(/│ URI\s+│ Name\s+│ Proxy\s+│ Scopes\s+│ Metadata URL\s+│ Created\s+│/);
    expect(table).toMatch(/│ https:\/\/mcp\.example\.test\/mcp\s+│ Tools\s+│ mcp\.example\.test\s+│ mcp:read, mcp:write\s+│ https:\/\/mcp\.example\.test\/\.well-known\/oauth-protected-resource\/mcp\s+│ just now\s+│/);
    expect(await ok("resource", "show", MCP_URI)).toMatch(/│ scopes\s+│ mcp:read, mcp:write\s+│/);
    expect(await failing("resource", "register", MCP_URI)).toContain(`POST /api/v1/resources/: 409 conflict: a resource ${MCP_URI} is already registered`);
  });

  test("validate-token: a token minted for the resource is valid (exit 0, its claims); one for another resource is not (exit 1, the reason)", async () => {
    mcpToken = await mint(MCP_URI);
    const good = await json("resource", "validate-token", MCP_URI, mcpToken.access_token);
    expect(good).toMatchObject({ valid: true, resource: MCP_URI, claims: { aud: [MCP_URI], jti: mcpToken.jti, login: "carol", scope: "mcp:read mcp:write" } });
    const table = await ok("resource", "validate-token", MCP_URI, mcpToken.access_token);
    expect(table).toMatch(/│ valid\s+│ ✓\s+│/);
    expect(table).toMatch(/│ claims\.exp\s+│ \d{4}-\d\d-\d\dT/);
    expect(table).not.toContain(mcpToken.access_token);

    const other = await mint(`https://${APP_HOST}`);
    const bad = await cli("--format", "json", "resource", "validate-token", MCP_URI, other.access_token);
    expect(bad.code).toBe(1);
    const result = JSON.parse(bad.stdout);
    expect(structuredClone(result)).toMatchObject({ valid: false, resource: MCP_URI, reason: expect.any(String) });
    expect(result).not.toHaveProperty("claims");
    expect(bad.stderr).toBe(`portcullis: the token is not valid for ${MCP_URI}: ${result.reason}\n`);

    const garbage = await cli("resource", "validate-token", MCP_URI, "not-a-jwt");
    expect(garbage.code).toBe(1);
    expect(garbage.stdout).toMatch(/│ valid\s+│ ✗\s+│/);
  });

  test("validate-token after the token's session is revoked: not valid", async () => {
    expect((await gateway.api("DELETE", `/api/v1/oauth/sessions/${mcpToken.session_id}`)).status).toBe(200);
    const run = await cli("resource", "validate-token", MCP_URI, mcpToken.access_token);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`portcullis: the token is not valid for ${MCP_URI}: token revoked\n`);
  });

  test("validate-token with - reads the token from stdin (a separate process)", async () => {
    const fresh = await mint(MCP_URI);
    const run = await runProcess(["--format", "json", "resource", "validate-token", MCP_URI, "-"], `${fresh.access_token}\n`);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(run.stdout)).toMatchObject({ valid: true, claims: { jti: fresh.jti } });
    const empty = await runProcess(["resource", "validate-token", MCP_URI, "-"], "");
    expect(empty).toMatchObject({ code: 1, stderr: "portcullis: resource validate-token: stdin gave no token\n" });
  });

  test("update changes the fields given; delete removes it; then show is a 404", async () => {
    expect(await json("resource", "update", MCP_URI, "--name", "Tools v2", "--proxy", "")).toMatchObject({ uri: MCP_URI, name: "Tools v2", proxy_target: null, scopes: ["mcp:read", "mcp:write"] });
    expect(await failing("resource", "update", MCP_URI)).toContain("nothing to change");
    expect(await json("resource", "delete", MCP_URI)).toEqual({ deleted: MCP_URI });
    expect(await failing("resource", "show", MCP_URI)).toContain(`GET /api/v1/resources/${encodeURIComponent(MCP_URI)}: 404 not_found`);
    expect(await failing("resource", "register", "http://plain.example.test")).toContain("422 invalid_request: uri:");
  });

  test("auto-register: one resource per proxy with an endpoint or auth; again: unchanged; a table with a summary", async () => {
    expect(await ok("resource", "auto-register")).toBe("No proxy protects anything yet (none has a resource endpoint or auth on): nothing to register.\n");
    await ok("proxy", "resource-set", MCP_HOST, "--endpoint", "/mcp", "--scopes", "mcp:read", "--server-info", '{"name":"Tools"}');
    await ok("proxy", "auth-enable", APP_HOST);

    expect(await json("resource", "auto-register")).toEqual({ created: [`https://${APP_HOST}`, MCP_URI], updated: [], unchanged: [], skipped: [] });
    expect(await json("resource", "show", MCP_URI)).toMatchObject({ name: "Tools", proxy_target: MCP_HOST, scopes: ["mcp:read"] });

    await ok("proxy", "resource-set", MCP_HOST, "--scopes", "mcp:read,mcp:write");
    const table = await ok("resource", "auto-register");
    expect(table).toMatch(/│ Result\s+│ Resource \(or proxy\)\s+│ Reason\s+│/);
    expect(table).toMatch(/│ updated\s+│ https:\/\/mcp\.example\.test\/mcp\s+│ —\s+│/);
    expect(table).toMatch(/│ unchanged\s+│ https:\/\/app\.example\.test\s+│ —\s+│/);
    expect(table.trimEnd().split("\n").at(-1)).toBe("Auto-register: 0 created, 1 updated, 1 unchanged, 0 skipped.");
    expect(await json("resource", "auto-register")).toEqual({ created: [], updated: [], unchanged: [`https://${APP_HOST}`, MCP_URI], skipped: [] });
  });
});

describe.skipIf(!justBinary)("resource-* recipes, run", () => {
  test("register, list, validate-token (valid and not), delete, auto-register", async () => {
    const uri = `https://${MCP_HOST}/tools`;
    const registered = await runRecipe("resource-register", uri, "Tool Box", MCP_HOST, "mcp:read");
    expect({ code: registered.code, stderr: registered.stderr }).toEqual({ code: 0, stderr: "" });
    expect(await json("resource", "show", uri)).toMatchObject({ name: "Tool Box", proxy_target: MCP_HOST, scopes: ["mcp:read"] });
    expect((await runRecipe("resource-list")).stdout).toMatch(/│ https:\/\/mcp\.example\.test\/tools\s+│ Tool Box\s+│/);
    expect((await runRecipe("resource-show", uri)).stdout).toMatch(/│ name\s+│ Tool Box\s+│/);

    const token = await mint(uri);
    expect((await runRecipe("resource-validate-token", uri, token.access_token)).code).toBe(0);
    const wrong = await runRecipe("resource-validate-token", uri, (await mint(MCP_URI)).access_token);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(`portcullis: the token is not valid for ${uri}:`);

    expect((await runRecipe("resource-delete", uri)).code).toBe(0);
    expect(await failing("resource", "show", uri)).toContain("404");
    const auto = await runRecipe("resource-auto-register", GATEWAY_ADMIN);
    expect(auto.code).toBe(0);
    expect(auto.stdout).toContain("Auto-register: 0 created, 0 updated, 2 unchanged, 0 skipped.");
  });
});

describe("proxy create --auth --resource-endpoint --resource-scopes", () => {
  const host = `guarded.${DOMAIN}`;

  test("the proxy is created protected: the API shows the settings and the edge answers 401 with the metadata URL", async () => {
    const created = await json("proxy", "create", host, `http://127.0.0.1:${backend.port}`, "--no-enable-https", "--auth", "forward", "--resource-endpoint", "/mcp", "--resource-scopes", "mcp:read,mcp:write");
    expect(created).toMatchObject({ hostname: host, auth_enabled: true, auth_mode: "forward", resource_endpoint: "/mcp", resource_scopes: ["mcp:read", "mcp:write"] });
    const { res } = await edgeOnce(host, "/mcp", (r) => r.status !== 404);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain(`resource_metadata="http://${host}/.well-known/oauth-protected-resource/mcp"`);
  });

  test("a mode outside forward, redirect and passthrough is refused before anything is sent", async () => {
    expect(await failing("proxy", "create", `bad.${DOMAIN}`, "http://127.0.0.1:1", "--auth", "on")).toContain("forward, redirect, passthrough");
    expect((await gateway.api("GET", `/api/v1/proxy/targets/bad.${DOMAIN}`)).status).toBe(404);
  });
});
