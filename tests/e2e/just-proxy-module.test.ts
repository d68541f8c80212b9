/**
 * `just proxy <command> …` (the proxy-manager docs' spelling, a just module)
 * beside `just proxy-<command> …`: the module has a recipe for every proxy-*
 * recipe, with the same parameters, and runs it — checked against a real
 * gateway with a user's token passed as the last argument, as the docs do.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT } from "../helpers/gateway-process";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { justBinary } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

let redis: TestRedis;
let node: TestGateway;
let alice: string;
let bob: string;
const home = tempDir("just-home");
/** Each recipe runs just twice (the module recipe, then the proxy-* one) and the CLI once. */
const TIMEOUT_MS = 60_000;

async function just(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), ...args], {
    // No ADMIN_TOKEN: the recipes pass their token argument.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, API_URL: `http://127.0.0.1:${node.gateway.apiPort}`, PORTCULLIS_DATA_DIR: "/nonexistent" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

describe.skipIf(!justBinary)("just proxy <command>", () => {
  beforeAll(async () => {
    redis = await startTestRedis();
    node = await startTestGateway(redis);
    for (const name of ["alice", "bob"]) {
      const res = await node.api("POST", "/api/v1/tokens/", { name });
      expect(res.status).toBe(201);
      if (name === "alice") alice = res.json.token;
      else bob = res.json.token;
    }
  });
  afterAll(async () => {
    await node?.stop();
    await redis?.stop();
  }, TIMEOUT_MS);

  test("every proxy-* recipe has a module recipe with the same parameters, and nothing else is in the module", async () => {
    const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), "--dump", "--dump-format", "json"], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home } });
    const dump = JSON.parse(await new Response(child.stdout).text());
    const params = (recipe: any) => recipe.parameters.map((p: any) => [p.name, p.default, p.kind]);
    const hyphenated = Object.entries(dump.recipes as Record<string, any>).filter(([name]) => name.startsWith("proxy-"));
    const module = dump.modules.proxy.recipes as Record<string, any>;
    expect(hyphenated.length).toBeGreaterThan(20);
    expect(Object.keys(module).sort()).toEqual(hyphenated.map(([name]) => name.slice("proxy-".length)).sort());
    for (const [name, recipe] of hyphenated) expect({ name, params: params(module[name.slice("proxy-".length)]) }).toEqual({ name, params: params(recipe) });
  }, TIMEOUT_MS);

  test("create, show, list and delete with the token as the last argument; arguments keep their positions", async () => {
    const created = await just("proxy", "create", "mod.example.com", "http://127.0.0.1:5000", "", "true", "", "false", "", alice);
    expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: "" });
    const stored = await node.api("GET", "/api/v1/proxy/targets/mod.example.com");
    expect(stored.json).toMatchObject({ hostname: "mod.example.com", target_url: "http://127.0.0.1:5000", preserve_host_header: true, enable_https: false, created_by: "alice" });

    const shown = await just("proxy", "show", "mod.example.com", alice);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/│ hostname\s+│ mod\.example\.com/);
    expect((await just("proxy", "list", alice)).stdout).toContain("mod.example.com");

    // The same as the hyphenated spelling, which reads the same record.
    expect((await just("proxy-show", "mod.example.com", alice)).stdout).toBe(shown.stdout);

    const deleted = await just("proxy", "delete", "mod.example.com", "", "", alice);
    expect(deleted.code).toBe(0);
    expect((await node.api("GET", "/api/v1/proxy/targets/mod.example.com")).status).toBe(404);
  }, TIMEOUT_MS);

  test("another user's token cannot see or delete the proxy; a bad boolean stops before any request", async () => {
    expect((await just("proxy", "create", "alices.example.com", "http://127.0.0.1:5000", "", "", "", "", "", alice)).code).toBe(0);
    const peek = await just("proxy", "show", "alices.example.com", bob);
    expect(peek.code).not.toBe(0);
    expect(peek.stderr).toContain("404");
    expect((await just("proxy", "list", bob)).stdout).not.toContain("alices.example.com");
    const remove = await just("proxy", "delete", "alices.example.com", "", "", bob);
    expect(remove.code).not.toBe(0);
    expect((await node.api("GET", "/api/v1/proxy/targets/alices.example.com")).status).toBe(200);

    const badBool = await just("proxy", "create", "nope.example.com", "http://127.0.0.1:5000", "", "yes", "", "", "", alice);
    expect(badBool.code).not.toBe(0);
    expect(badBool.stderr).toContain("preserve-host: expected true or false");
    expect((await node.api("GET", "/api/v1/proxy/targets/nope.example.com")).status).toBe(404);
  }, TIMEOUT_MS);

  test("a sub-resource command: auth-enable then auth-show, as the docs spell them", async () => {
    expect((await just("proxy", "auth-enable", "alices.example.com", "", "forward", "", "", alice)).code).toBe(0);
    expect((await node.api("GET", "/api/v1/proxy/targets/alices.example.com")).json).toMatchObject({ auth_enabled: true, auth_mode: "forward" });
    const shown = await just("proxy", "auth-show", "alices.example.com", alice);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("forward");
  }, TIMEOUT_MS);
});
