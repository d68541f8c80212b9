/**
 * With resource_override_backend off, a backend that publishes its own
 * protected resource metadata keeps it; one that does not gets the gateway's.
 * "Does not" is a 404, or a 405 from a server that takes every path but
 * answers only POST (an MCP SDK 2.x handler mounted at the root): passing that
 * 405 on leaves SDK 2.x clients without metadata, and they then take the MCP
 * host for the authorization server and stop with an issuer mismatch.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let gw: TestGateway;
const backends = {
  "own.example.test": Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ resource: "https://own.example.test/mcp", from: "backend" }) }),
  "missing.example.test": Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("not found", { status: 404 }) }),
  "post-only.example.test": Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => (r.method === "POST" ? Response.json({}) : new Response(null, { status: 405, headers: { allow: "POST" } })) }),
};

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test" });
  for (const [hostname, server] of Object.entries(backends)) {
    expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: `http://127.0.0.1:${server.port}` })).status).toBe(201);
    const resource = { resource_endpoint: "/mcp", resource_scopes: ["mcp:read"], resource_override_backend: false };
    expect((await gw.api("POST", `/api/v1/proxy/targets/${hostname}/resource`, resource)).status).toBe(200);
  }
  for (let i = 0; i < 100 && (await gw.get("own.example.test", "/.well-known/oauth-protected-resource/mcp")).status !== 200; i++) await Bun.sleep(20);
});
afterAll(async () => {
  await gw?.stop();
  for (const server of Object.values(backends)) server.stop(true);
  await redis?.stop();
});

const metadata = async (host: string) => {
  const res = await gw.get(host, "/.well-known/oauth-protected-resource/mcp");
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test("a backend's own document is kept", async () => {
  expect(await metadata("own.example.test")).toEqual({ status: 200, body: { resource: "https://own.example.test/mcp", from: "backend" } });
});

test("a backend that answers 404 or 405 gets the gateway's document", async () => {
  for (const host of ["missing.example.test", "post-only.example.test"]) {
    const { status, body } = await metadata(host);
    expect({ host, status, resource: body.resource }).toEqual({ host, status: 200, resource: `http://${host}/mcp` });
  }
});
