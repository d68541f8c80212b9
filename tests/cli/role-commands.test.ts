/**
 * `portcullis token create --role …` and `portcullis cluster key …` against a
 * real gateway (in this process, private Redis), and their just recipes'
 * command lines.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { cliSession, runProgram } from "../helpers/cli-program";
import { justBinary, justDryRun } from "../helpers/just-dry-run";

const HOME = tempDir("role-commands");
let redis: TestRedis;
let gw: TestGateway;
const apiUrl = () => `http://127.0.0.1:${gw.gateway.apiPort}`;
const admin = cliSession(apiUrl, GATEWAY_ADMIN, HOME);

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { CLUSTER_NAME: "cli" });
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

describe("token create --role", () => {
  test("each role, the former name user, and the default", async () => {
    expect((await admin.json("token", "create", "v", "--role", "viewer")).role).toBe("viewer");
    expect((await admin.json("token", "create", "so", "--role", "user", "--email", "so@example.test")).role).toBe("service-owner");
    expect((await admin.json("token", "create", "plain")).role).toBe("service-owner");
    expect((await admin.json("token", "generate", "ops", "--role", "admin")).role).toBe("admin");
    const list = await admin.json("token", "list");
    expect(list.map((t: any) => [t.name, t.role])).toEqual([["admin", "admin"], ["ops", "admin"], ["plain", "service-owner"], ["so", "service-owner"], ["v", "viewer"]]);
  });

  test("an unknown role fails with the server's reason; a viewer cannot create tokens", async () => {
    const bad = await admin.cli("token", "create", "x", "--role", "root");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("viewer");
    const viewer = (await admin.json("token", "create", "viewer-2", "--role", "viewer")).token;
    const refused = await runProgram(apiUrl(), viewer, ["token", "create", "y"], HOME);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("403");
  });
});

describe("cluster key create|list|delete", () => {
  test("create prints the key once; list shows previews; the key works until deleted", async () => {
    const created = await admin.json("cluster", "key", "create", "node-1");
    expect(created).toMatchObject({ name: "node-1", cluster: "cli" });
    expect(created.key).toMatch(/^pck_/);
    const table = await admin.ok("cluster", "key", "create", "node-2", "--cluster", "other");
    expect(table).toContain("Save this key now");

    const listed = await admin.ok("cluster", "key", "list");
    expect(listed).toContain("node-1");
    expect(listed).toContain("other");
    expect(listed).not.toContain(created.key);
    expect(await admin.ok("--format", "csv", "cluster", "key", "list")).toStartWith("Name,Cluster,Created,Created By,Key");

    const asKey = cliSession(apiUrl, created.key, HOME);
    expect((await asKey.cli("proxy", "list")).code).toBe(0);
    expect((await asKey.cli("token", "list")).code).not.toBe(0);
    expect((await asKey.cli("cluster", "key", "list")).code).not.toBe(0);

    const status = await asKey.ok("status");
    expect(status).toContain("Tokens:       — (a cluster key sees no tokens)");
    expect((await asKey.json("status")).counts.tokens).toBeNull();
    expect(await admin.ok("cluster", "key", "delete", "node-1")).toContain("deleted cluster key node-1");
    expect((await asKey.cli("proxy", "list")).stderr).toContain("401");
    expect((await admin.cli("cluster", "key", "delete", "node-1")).code).not.toBe(0);
  });
});

describe("export as a viewer or a cluster key", () => {
  test("both export every owner's proxies (as the admin does); a service-owner only its own", async () => {
    const owner = (await admin.json("token", "create", "export-owner")).token;
    expect((await gw.apiAs(owner, "POST", "/api/v1/proxy/targets/", { hostname: "owned-export.example.test", target_url: "http://127.0.0.1:7000" })).status).toBe(201);
    expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "admin-export.example.test", target_url: "http://127.0.0.1:7000" })).status).toBe(201);
    const viewer = (await admin.json("token", "create", "export-viewer", "--role", "viewer")).token;
    const key = (await admin.json("cluster", "key", "create", "export-key")).key;
    const hostnames = async (token: string) => (parseYaml(await cliSession(apiUrl, token, HOME).ok("export")).proxies ?? []).map((p: any) => p.hostname).sort();
    const everything = await hostnames(GATEWAY_ADMIN);
    expect(everything).toEqual(["admin-export.example.test", "owned-export.example.test"]);
    expect(await hostnames(viewer)).toEqual(everything);
    expect(await hostnames(key)).toEqual(everything);
    expect(await hostnames(owner)).toEqual(["owned-export.example.test"]);
  });
});

describe.skipIf(!justBinary)("recipes (dry run)", () => {
  const dryRun = (...args: string[]) => justDryRun(HOME, ["token", "cluster"], ...args);
  const cases: [string[], string][] = [
    [["token-create", "ci"], "token create 'ci' --role 'service-owner'"],
    [["token-create", "ci", "viewer", "ci@example.test", "tok"], "--token 'tok' token create 'ci' --role 'viewer' --email 'ci@example.test'"],
    [["cluster-key-create", "node-1"], "cluster key create 'node-1'"],
    [["cluster-key-create", "node-1", "eu", "tok"], "--token 'tok' cluster key create 'node-1' --cluster 'eu'"],
    [["cluster-key-list"], "cluster key list"],
    [["cluster-key-delete", "node-1"], "cluster key delete 'node-1'"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await dryRun(...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }

  test("token-create role=root stops before running anything", async () => {
    const { code, stderr } = await dryRun("token-create", "ci", "root");
    expect(code).not.toBe(0);
    expect(stderr).toContain("role: expected admin, service-owner or viewer, got 'root'");
  });
});
