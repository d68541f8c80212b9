/**
 * docs/mcp.md: a proxy created with its resource and auth settings in one call
 * serves with auth on from its first request — no request reaches the MCP
 * server without a token, not even in the moment the proxy goes live.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const HOST = "mcp.example.test";

let redis: TestRedis;
let gw: TestGateway;
const reached: string[] = [];
const backend = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    reached.push(new URL(request.url).pathname);
    return Response.json({ jsonrpc: "2.0", id: 1, result: {} });
  },
});

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test" });
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});

test("created with auth in the same call, its first answer is the 401 and the backend never sees a request", async () => {
  const created = await gw.api("POST", "/api/v1/proxy/targets/", {
    hostname: HOST,
    target_url: `http://127.0.0.1:${backend.port}`,
    enable_https: false,
    resource_endpoint: "/mcp",
    resource_scopes: ["mcp:read", "mcp:write"],
    auth_enabled: true,
    auth_mode: "forward",
  });
  expect(created.status).toBe(201);
  expect([created.json.auth_enabled, created.json.auth_mode, created.json.resource_endpoint]).toEqual([true, "forward", "/mcp"]);

  // Ask as fast as the edge answers until the proxy is live: every answer is the 404 of an unknown host, then 401s.
  const statuses: number[] = [];
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
    const res = await gw.get(HOST, "/mcp", { method: "POST", headers: { "content-type": "application/json" }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });
    statuses.push(res.status);
    if (res.status !== 404) {
      expect(res.headers.get("www-authenticate")).toContain("resource_metadata=");
      await res.body?.cancel();
      break;
    }
    await res.body?.cancel();
  }
  expect(statuses.at(-1)).toBe(401);
  expect(statuses.slice(0, -1).every((status) => status === 404)).toBe(true);
  expect(reached).toEqual([]);
});
