/**
 * Roles and cluster keys in the compiled executable (module order and
 * minified names differ from `bun run`): CLUSTER_API_KEY and a created key
 * authenticate, are refused /tokens, and a viewer is refused writes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ensureBinary, runCli, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { tempDir } from "../helpers/temp";

const ADMIN = "acm_binary_roles_admin_token_0123456789";
const DEFAULT_KEY = "binary-roles-default-cluster-key-0123456789";
let gateway: RunningGateway;
const home = tempDir("home");

beforeAll(async () => {
  await ensureBinary();
  gateway = await startGatewayProcess({ dataDir: tempDataDir(), env: { ADMIN_TOKEN: ADMIN, CLUSTER_API_KEY: DEFAULT_KEY, CLUSTER_NAME: "bin" } });
  await gateway.waitForHealthy();
}, 180_000);
afterAll(() => gateway?.stop());

const call = (token: string, method: string, path: string, body?: unknown) =>
  fetch(gateway.apiUrl + path, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });

test("cluster keys and roles, end to end through the binary and its CLI", async () => {
  const cli = (token: string, ...args: string[]) => runCli(["--format", "json", ...args], { API_URL: gateway.apiUrl, TOKEN: token, HOME: home, PORTCULLIS_DATA_DIR: "/nonexistent" });
  const created = await cli(ADMIN, "cluster", "key", "create", "node-1");
  expect(created.code).toBe(0);
  const key = JSON.parse(created.stdout).key as string;
  const viewer = JSON.parse((await cli(ADMIN, "token", "create", "watch", "--role", "viewer")).stdout).token as string;

  for (const credential of [key, DEFAULT_KEY]) {
    expect((await call(credential, "GET", "/api/v1/proxy/targets/")).status).toBe(200);
    expect((await call(credential, "GET", "/api/v1/tokens/")).status).toBe(403);
  }
  expect((await call(key, "POST", "/api/v1/proxy/targets/", { hostname: "bin.example.test", target_url: "http://127.0.0.1:9" })).status).toBe(201);
  expect((await call(viewer, "GET", "/api/v1/proxy/targets/bin.example.test")).status).toBe(200);
  expect((await call(viewer, "DELETE", "/api/v1/proxy/targets/bin.example.test")).status).toBe(403);
  expect((await cli(ADMIN, "cluster", "key", "delete", "node-1")).code).toBe(0);
  expect((await call(key, "GET", "/api/v1/proxy/targets/")).status).toBe(401);
  expect(gateway.output()).not.toContain(key);
  expect(gateway.output()).not.toContain(DEFAULT_KEY);
}, 60_000);
