/**
 * `portcullis proxy mcp-set --rate-limits` and `just proxy-mcp-set … rate-limits`
 * against a real gateway (in this process, with a private Redis): the
 * flag's syntax, what it sets is what the API shows and the edge enforces.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CliError } from "../../src/cli/cli-error";
import { formatRateLimits, parseRateLimits } from "../../src/cli/commands/proxy-mcp-rate-limits";
import { GATEWAY_ADMIN, namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { ROOT } from "../helpers/gateway-process";
import { justBinary } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { cliSession } from "../helpers/cli-program";

const HOME = tempDir("home");
const HOST = "limits.example.test";
const POLICY = `/api/v1/proxy/targets/${HOST}/mcp-policy`;

let redis: TestRedis;
let gateway: TestGateway;
let apiUrl: string;
let backend: ReturnType<typeof namedBackend>;
const { cli, ok, json } = cliSession(() => apiUrl, GATEWAY_ADMIN, HOME);

beforeAll(async () => {
  redis = await startTestRedis();
  backend = namedBackend("mcp");
  gateway = await startTestGateway(redis, { BASE_DOMAIN: "example.test" });
  apiUrl = `http://127.0.0.1:${gateway.gateway.apiPort}`;
  expect((await gateway.api("POST", "/api/v1/proxy/targets", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}`, resource_endpoint: "/mcp" })).status).toBe(201);
});

afterAll(async () => {
  await gateway?.stop();
  backend?.stop(true);
  await redis?.stop();
});

describe("the flag's syntax", () => {
  test.each([
    ["search=60/minute", [{ tool: "search", per_minute: 60 }]],
    ["search=60/min,1000/hour; delete_*=5/m ;", [{ tool: "search", per_minute: 60, per_hour: 1000 }, { tool: "delete_*", per_minute: 5 }]],
    ["method:resources/read=10/s 100/h", [{ method: "resources/read", per_second: 10, per_hour: 100 }]],
    ['[{"tool":"a=b","per_second":1}]', [{ tool: "a=b", per_second: 1 }]],
    ["", null],
  ])("%s", (text, rules) => {
    expect(parseRateLimits("--rate-limits", text)).toEqual(rules);
  });

  test.each([
    ["search", '"search" is not name=rate'],
    ["search=60", '"60" is not a rate like 60/minute'],
    ["search=60/day", '"60/day" is not a rate'],
    ["search=-1/minute", '"-1/minute" is not a rate'],
    ["[oops", "not valid JSON"],
    ['{"tool":"a"}', "not name=rate"],
  ])("%s is refused before anything is sent", (text, message) => {
    expect(() => parseRateLimits("--rate-limits", text)).toThrow(CliError);
    expect(() => parseRateLimits("--rate-limits", text)).toThrow(message);
  });

  test("a table shows the rules as the flag writes them", () => {
    expect(formatRateLimits([{ tool: "search", per_minute: 60, per_hour: 1000 }, { method: "prompts/*", per_second: 2 }])).toBe("search=60/minute,1000/hour; method:prompts/*=2/second");
    expect(formatRateLimits(null)).toBeNull();
  });
});

describe("commands", () => {
  test("mcp-set --rate-limits sets what the API shows; the table shows one line; the edge enforces it", async () => {
    const view = await json("proxy", "mcp-set", HOST, "--rate-limits", "add=1/minute;method:prompts/*=5/second");
    expect(view.mcp_rate_limits).toEqual([
      { tool: "add", per_minute: 1 },
      { method: "prompts/*", per_second: 5 },
    ]);
    expect(view).toEqual((await gateway.api("GET", POLICY)).json);
    expect(await ok("proxy", "mcp-show", HOST)).toContain("add=1/minute; method:prompts/*=5/second");

    // No auth on this proxy: calls are counted by address.
    const addCall = () =>
      gateway.get(HOST, "/mcp", { method: "POST", headers: { "content-type": "application/json" }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add"}}' });
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline && (await addCall()).status !== 429) await Bun.sleep(20);
    const refused = await addCall();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  test("a refused rule is the API's 422, shown as such; an empty value clears", async () => {
    const refused = await cli("proxy", "mcp-set", HOST, "--rate-limits", '[{"tool":"a","method":"b","per_minute":1}]');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("mcp_rate_limits[0]: name either a tool or a method");
    expect((await cli("proxy", "mcp-set", HOST, "--rate-limits", "add=60")).stderr).toContain('"60" is not a rate like 60/minute');
    expect((await json("proxy", "mcp-set", HOST, "--rate-limits", "")).mcp_rate_limits).toBeNull();
  });
});

describe.skipIf(!justBinary)("just recipe", () => {
  test("proxy-mcp-set with rate-limits", async () => {
    const child = Bun.spawn(
      [justBinary!, "--justfile", join(ROOT, "justfile"), "--set", "cli", `bun '${join(ROOT, "src/main.ts")}'`, "proxy-mcp-set", HOST, "", "", "", "", "search=60/minute,1000/hour"],
      { cwd: HOME, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME, API_URL: apiUrl, TOKEN: GATEWAY_ADMIN, PORTCULLIS_DATA_DIR: "/nonexistent" }, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    );
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect((await gateway.api("GET", POLICY)).json.mcp_rate_limits).toEqual([{ tool: "search", per_minute: 60, per_hour: 1000 }]);
  });
});
