/**
 * Two non-admin tokens on one gateway: what bob creates never reaches,
 * reads or changes alice's things — through the API or through the edge.
 * Each case is tried with bob's token against alice's objects.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const ALICE_HOST = "alice.example.test";
const BOB_HOST = "bob.example.test";
let redis: TestRedis;
let gw: TestGateway;
let alice: string;
let bob: string;
const aliceBackend = namedBackend("alice");
const bobBackend = namedBackend("bob");

async function as(token: string, method: string, path: string, body?: unknown) {
  const port = gw.gateway.apiPort;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function until(check: () => Promise<boolean>) {
  for (let i = 0; i < 200 && !(await check()); i++) await Bun.sleep(10);
}

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test", API_HOSTNAME: "api.example.test" });
  alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token;
  expect((await as(alice, "POST", "/api/v1/proxy/targets/", { hostname: ALICE_HOST, target_url: `http://127.0.0.1:${aliceBackend.port}` })).status).toBe(201);
  expect((await as(alice, "POST", `/api/v1/proxy/targets/${ALICE_HOST}/auth`, { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  expect((await as(bob, "POST", "/api/v1/proxy/targets/", { hostname: BOB_HOST, target_url: `http://127.0.0.1:${bobBackend.port}` })).status).toBe(201);
  await until(async () => (await gw.get(ALICE_HOST, "/echo")).status === 401 && (await gw.get(BOB_HOST, "/")).status === 200);
});
afterAll(async () => {
  await gw?.stop();
  aliceBackend.stop(true);
  bobBackend.stop(true);
  await redis?.stop();
});

const bobRoute = (target_type: string, target_value: string) => ({
  path_pattern: "/",
  target_type,
  target_value,
  priority: 999,
  scope: "proxy",
  proxy_hostnames: [BOB_HOST],
});

describe("routes", () => {
  test("bob cannot aim a route on his proxy at alice's protected proxy", async () => {
    const res = await as(bob, "POST", "/api/v1/routes/", bobRoute("hostname", ALICE_HOST));
    expect(res.status).toBe(404);
    expect(res.json.detail).toContain(ALICE_HOST);
    expect((await gw.api("GET", "/api/v1/routes/")).json).toEqual([]);
  });

  test("nor change an existing route of his to point there", async () => {
    const own = await as(bob, "POST", "/api/v1/routes/", { ...bobRoute("url", `http://127.0.0.1:${bobBackend.port}`), route_id: "bob-own" });
    expect(own.status).toBe(201);
    const changed = await as(bob, "PUT", "/api/v1/routes/bob-own", { target_type: "hostname", target_value: ALICE_HOST });
    expect(changed.status).toBe(404);
    expect((await gw.api("GET", "/api/v1/routes/bob-own")).json.target_type).toBe("url");
    await gw.api("DELETE", "/api/v1/routes/bob-own");
  });

  test("nor at the API or a service; the authorization server is public", async () => {
    expect((await as(bob, "POST", "/api/v1/routes/", bobRoute("hostname", "api.example.test"))).status).toBe(403);
    expect((await as(bob, "POST", "/api/v1/routes/", bobRoute("service", "api"))).status).toBe(403);
    const toAuth = await as(bob, "POST", "/api/v1/routes/", { ...bobRoute("hostname", "auth.example.test"), path_pattern: "/login-help" });
    expect(toAuth.status).toBe(201);
    await gw.api("DELETE", `/api/v1/routes/${toAuth.json.route_id}`);
  });

  test("a hostname route made by the admin still passes the routed-to proxy's auth", async () => {
    const made = await gw.api("POST", "/api/v1/routes/", bobRoute("hostname", ALICE_HOST));
    expect(made.status).toBe(201);
    await until(async () => (await gw.get(BOB_HOST, "/echo")).status !== 200);
    const res = await gw.get(BOB_HOST, "/echo");
    expect(res.status).toBe(401);
    expect((await gw.get(ALICE_HOST, "/echo")).status).toBe(401);
    await gw.api("DELETE", `/api/v1/routes/${made.json.route_id}`);
  });
});

describe("proxies, certificates and resources", () => {
  test("bob neither sees nor changes alice's proxy or its settings", async () => {
    expect((await as(bob, "GET", "/api/v1/proxy/targets/")).json.map((p: any) => p.hostname)).toEqual([BOB_HOST]);
    expect((await as(bob, "GET", `/api/v1/proxy/targets/${ALICE_HOST}`)).status).toBe(404);
    expect((await as(bob, "PUT", `/api/v1/proxy/targets/${ALICE_HOST}`, { target_url: `http://127.0.0.1:${bobBackend.port}` })).status).toBe(404);
    expect((await as(bob, "POST", `/api/v1/proxy/targets/${ALICE_HOST}/auth`, { auth_enabled: false })).status).toBe(404);
    expect((await as(bob, "DELETE", `/api/v1/proxy/targets/${ALICE_HOST}/auth`)).status).toBe(404);
    expect((await as(bob, "POST", `/api/v1/proxy/targets/${ALICE_HOST}/resource`, { resource_endpoint: "/mcp" })).status).toBe(404);
    expect((await as(bob, "GET", `/api/v1/proxy/targets/${ALICE_HOST}/resource`)).status).toBe(404);
    expect((await as(bob, "DELETE", `/api/v1/proxy/targets/${ALICE_HOST}`)).status).toBe(404);
    expect((await gw.get(ALICE_HOST, "/echo")).status).toBe(401);
  });

  test("bob cannot take alice's hostname", async () => {
    expect((await as(bob, "POST", "/api/v1/proxy/targets/", { hostname: ALICE_HOST, target_url: "http://127.0.0.1:1" })).status).toBe(409);
    expect((await gw.get(ALICE_HOST, "/echo")).status).toBe(401);
  });

  test("bob sees no certificate of alice's", async () => {
    const mine = (await as(bob, "GET", "/api/v1/certificates/")).json;
    expect(JSON.stringify(mine)).not.toContain(ALICE_HOST);
  });
});
