/**
 * `portcullis proxy mcp-set|mcp-show|mcp-clear` and their just recipes
 * against a real gateway (in this process, with a private Redis): what they
 * print, that what they set is what the API shows and the edge enforces.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseScopeMap } from "../../src/cli/commands/proxy-mcp";
import { GATEWAY_ADMIN, namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { ROOT } from "../helpers/gateway-process";
import { justBinary } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { cliSession } from "../helpers/cli-program";

const HOME = tempDir("home");
const HOST = "mcp.example.test";

let redis: TestRedis;
let gateway: TestGateway;
let apiUrl: string;
let backend: ReturnType<typeof namedBackend>;
const { cli, ok, json } = cliSession(() => apiUrl, GATEWAY_ADMIN, HOME);

beforeAll(async () => {
  redis = await startTestRedis();
  backend = namedBackend("mcp");
  gateway = await startTestGateway(redis, { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "alice" });
  apiUrl = `http://127.0.0.1:${gateway.gateway.apiPort}`;
  expect((await gateway.api("POST", "/api/v1/proxy/targets", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}` })).status).toBe(201);
});

afterAll(async () => {
  await gateway?.stop();
  backend?.stop(true);
  await redis?.stop();
});

describe("scope maps on the command line", () => {
  test.each([
    ["whoami=mcp:admin", { whoami: ["mcp:admin"] }],
    ["whoami=mcp:admin;delete_*=files:write, files:admin ; ", { whoami: ["mcp:admin"], "delete_*": ["files:write", "files:admin"] }],
    ['{"a=b":["s"]}', { "a=b": ["s"] }],
    ["", null],
  ])("%s", (text, map) => {
    expect(parseScopeMap("--tool-scopes", text)).toEqual(map);
  });
});

describe("commands", () => {
  test("mcp-set without an endpoint says the policy is not enforced yet, then sets and shows it", async () => {
    const first = await ok("proxy", "mcp-set", HOST, "--tool-scopes", "whoami=mcp:admin", "--filter-tools");
    expect(first).toContain(`Not enforced: ${HOST} names no MCP endpoint. Name it: portcullis proxy resource-set ${HOST} --endpoint /mcp`);
    await ok("proxy", "resource-set", HOST, "--endpoint", "/mcp");
    const shown = await ok("proxy", "mcp-show", HOST);
    expect(shown).toContain(`Enforced at https://${HOST}/mcp and the paths under it. Tokens need these scopes for the calls that name them: mcp:admin.`);
    const view = await json("proxy", "mcp-set", HOST, "--method-scopes", "resources/read=mcp:read", "--allowed-origins", "http://localhost:6274");
    expect(view).toMatchObject({
      mcp_tool_scopes: { whoami: ["mcp:admin"] },
      mcp_method_scopes: { "resources/read": ["mcp:read"] },
      mcp_filter_tools: true,
      mcp_allowed_origins: ["http://localhost:6274"],
      enforced: true,
    });
    expect(view).toEqual((await gateway.api("GET", `/api/v1/proxy/targets/${HOST}/mcp-policy`)).json);
  });

  test("what mcp-set sets, the edge enforces: the origin it allows passes, another is refused", async () => {
    const from = async (origin: string) => (await gateway.get(HOST, "/mcp", { method: "POST", headers: { origin }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' })).status;
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline && (await from("http://evil.example")) !== 403) await Bun.sleep(20);
    expect(await from("http://evil.example")).toBe(403);
    expect(await from("http://localhost:6274")).toBe(200);
  });

  test("bad input: nothing to set, a malformed map, a refused scope", async () => {
    expect((await cli("proxy", "mcp-set", HOST)).stderr).toContain("nothing to set");
    expect((await cli("proxy", "mcp-set", HOST, "--tool-scopes", "noequals")).stderr).toContain('"noequals" is not name=scopes');
    const refused = await cli("proxy", "mcp-set", HOST, "--tool-scopes", 'x=a"b');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("mcp_tool_scopes:");
  });

  test("mcp-clear resets every field", async () => {
    const view = await json("proxy", "mcp-clear", HOST);
    expect(view).toMatchObject({ mcp_tool_scopes: null, mcp_method_scopes: null, mcp_filter_tools: false, mcp_allowed_origins: null });
  });
});

describe.skipIf(!justBinary)("just recipes", () => {
  const runRecipe = async (...args: string[]) => {
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

  test("proxy-mcp-set, proxy-mcp-show, proxy-mcp-clear", async () => {
    const set = await runRecipe("proxy-mcp-set", HOST, "whoami=mcp:admin", "", "true", "http://localhost:6274");
    expect({ code: set.code, stderr: set.stderr }).toEqual({ code: 0, stderr: "" });
    expect((await gateway.api("GET", `/api/v1/proxy/targets/${HOST}/mcp-policy`)).json).toMatchObject({
      mcp_tool_scopes: { whoami: ["mcp:admin"] },
      mcp_filter_tools: true,
      mcp_allowed_origins: ["http://localhost:6274"],
    });
    expect((await runRecipe("proxy-mcp-show", HOST)).stdout).toContain("mcp_tool_scopes.whoami");
    expect((await runRecipe("proxy-mcp-clear", HOST)).code).toBe(0);
    expect((await gateway.api("GET", `/api/v1/proxy/targets/${HOST}/mcp-policy`)).json.mcp_tool_scopes).toBeNull();
    expect((await runRecipe("proxy-mcp-set", HOST, "", "", "maybe")).stderr).toContain("filter-tools: expected true or false");
  });
});
