/**
 * `portcullis cluster nodes` / `cluster node <id>` against a real gateway
 * (table, json, yaml, csv; admin only, checked with a second token), and the
 * `just cluster-nodes` recipe that wraps them (dry run).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cliSession, runProgram } from "../helpers/cli-program";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const home = tempDir("cli-cluster-home");
let redis: TestRedis;
let gw: TestGateway;
let apiUrl = "";
const admin = cliSession(() => apiUrl, GATEWAY_ADMIN, home);

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { NODE_ID: "gw-cli" });
  apiUrl = `http://127.0.0.1:${gw.gateway.apiPort}`;
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

describe("portcullis cluster", () => {
  test("nodes: a table with the node, its state and its listeners", async () => {
    const out = await admin.ok("cluster", "nodes");
    expect(out).toContain("Node");
    expect(out).toMatch(/gw-cli\s.*\bup\b/);
    expect(out).toContain(`http:${gw.gateway.httpPort}`);
    expect(out).toMatch(/\d+ MiB/);
  });

  test("nodes: json, yaml and csv carry the API's fields", async () => {
    const nodes = await admin.json("cluster", "nodes");
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({ node_id: "gw-cli", state: "up", pid: process.pid });
    expect(await admin.ok("--format", "yaml", "cluster", "nodes")).toContain("node_id: gw-cli");
    const csv = (await admin.ok("--format", "csv", "cluster", "nodes")).trim().split("\n");
    expect(csv[0]).toBe("Node,State,Host,PID,Version,Started,Heartbeat,Listeners,Behind,Req/s,In flight,Memory");
    expect(csv[1]).toMatch(/^gw-cli,up,/);
    // csv keeps raw bytes, not the table's MiB.
    expect(csv[1]).toMatch(/,\d{6,}$/);
  });

  test("node <id>: the whole entry; an unknown id is the API's 404", async () => {
    const node = await admin.json("cluster", "node", "gw-cli");
    expect(node.listeners.map((l: { name: string }) => l.name)).toContain("https");
    const missing = await admin.cli("cluster", "node", "nobody");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("not found");
  });

  test("a user token is refused (admin only)", async () => {
    const { json } = await gw.api("POST", "/api/v1/tokens/", { name: "alice" });
    const run = await runProgram(apiUrl, json.token, ["cluster", "nodes"], home);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("admin token");
    expect(run.stdout).not.toContain("gw-cli");
  });
});

describe.skipIf(!justBinary)("just cluster-nodes (dry run)", () => {
  const justHome = tempDir("just-home");
  const cases: [string[], string][] = [
    [["cluster-nodes"], "cluster nodes"],
    [["cluster-nodes", "edge-1"], "cluster node 'edge-1'"],
    [["cluster-nodes", "", "tok"], "--token 'tok' cluster nodes"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await justDryRun(justHome, ["cluster"], ...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }
});
