/**
 * End to end: real requests through a real gateway's edge (to a real
 * backend, to a closed port, to an unknown host) are recorded by the
 * gateway's own writer and found again through /api/v1/logs — by each
 * token only for its own proxies — and through the live tail.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { RequestRecord } from "../../src/consumers/request-log/record";
import { GATEWAY_ADMIN, namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { closedPort } from "../helpers/ports";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let gw: TestGateway;
const backend = namedBackend("logs-e2e");
const tokens: Record<"alice" | "bob", string> = { alice: "", bob: "" };
const sent: Record<string, string> = {};

const apiUrl = (path: string) => `http://127.0.0.1:${gw.gateway.apiPort}${path}`;
async function asToken(token: string, path: string, init: RequestInit = {}) {
  const res = await fetch(apiUrl(path), { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers as Record<string, string>) } });
  return { status: res.status, json: (await res.json()) as any };
}
const ids = (json: { records: RequestRecord[] }) => json.records.map((r) => r.request_id);

/** Polls the search API until every id is found (the writer flushes about every 100 ms). */
async function searchUntil(path: string, wanted: string[]): Promise<{ records: RequestRecord[] }> {
  for (let i = 0; i < 100; i++) {
    const res = await asToken(GATEWAY_ADMIN, path);
    if (wanted.every((id) => ids(res.json).includes(id))) return res.json;
    await Bun.sleep(30);
  }
  throw new Error(`${wanted.join(", ")} not found by ${path}`);
}

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis);
  tokens.alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  tokens.bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token;
  const proxies: ["alice" | "bob", string, string][] = [
    ["alice", "shop.logs.test", `http://127.0.0.1:${backend.port}`],
    ["bob", "down.logs.test", `http://127.0.0.1:${closedPort()}`],
  ];
  for (const [owner, hostname, target_url] of proxies) {
    expect((await asToken(tokens[owner], "/api/v1/proxy/targets/", { method: "POST", body: JSON.stringify({ hostname, target_url, enable_https: false }) })).status).toBe(201);
  }
  // No wait here: an API write answers once this gateway serves it (src/api/applied-here.ts).
  const send = async (name: string, host: string, path: string, method = "GET") => {
    const res = await gw.get(host, path, { method });
    await res.arrayBuffer();
    sent[name] = res.headers.get("x-request-id")!;
    expect(sent[name]).toBeTruthy();
    return res.status;
  };
  expect(await send("ok", "shop.logs.test", "/api/items")).toBe(200);
  expect(await send("post", "shop.logs.test", "/api/orders", "POST")).toBe(200);
  expect(await send("bad-gateway", "down.logs.test", "/health")).toBe(502);
  expect(await send("unknown", "nobody.logs.test", "/x")).toBe(404);
  await searchUntil("/api/v1/logs/search", Object.values(sent));
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});

test("real requests are found by every query, with what the edge knew", async () => {
  const all = await searchUntil("/api/v1/logs/search?hours=1", Object.values(sent));
  const byId = new Map(all.records.map((r) => [r.request_id, r]));
  expect(byId.get(sent.ok!)).toMatchObject({ ip: "127.0.0.1", method: "GET", host: "shop.logs.test", path: "/api/items", status: 200, proxy: "shop.logs.test" });
  expect(byId.get(sent["bad-gateway"]!)).toMatchObject({ host: "down.logs.test", status: 502, proxy: "down.logs.test" });
  expect(byId.get(sent.unknown!)).toMatchObject({ host: "nobody.logs.test", status: 404 });
  expect(byId.get(sent.unknown!)!.proxy).toBeUndefined();

  const cases: [string, string[]][] = [
    ["/api/v1/logs/host/shop.logs.test", [sent.post!, sent.ok!]],
    ["/api/v1/logs/search?status=5xx", [sent["bad-gateway"]!]],
    ["/api/v1/logs/errors?host=nobody.logs.test", [sent.unknown!]],
    ["/api/v1/logs/search?method=POST", [sent.post!]],
    ["/api/v1/logs/search?path=/api/*&host=shop.logs.test", [sent.post!, sent.ok!]],
    ["/api/v1/logs/ip/127.0.0.1?host=down.logs.test", [sent["bad-gateway"]!]],
  ];
  for (const [path, expected] of cases) {
    const records = (await asToken(GATEWAY_ADMIN, path)).json.records as { request_id: string; ts: number }[];
    const got = records.map((r) => r.request_id).filter((id) => Object.values(sent).includes(id));
    // Newest first; two requests sent within the same millisecond may come in either order.
    expect({ path, got: [...got].sort() }).toEqual({ path, got: [...expected].sort() });
    for (let i = 1; i < records.length; i++) expect(records[i - 1]!.ts).toBeGreaterThanOrEqual(records[i]!.ts);
  }
});

test("each token finds only its own proxies' requests", async () => {
  const mine = (who: "alice" | "bob") => asToken(tokens[who], "/api/v1/logs/search").then((r) => ids(r.json).sort());
  expect(await mine("alice")).toEqual([sent.ok!, sent.post!].sort());
  expect(await mine("bob")).toEqual([sent["bad-gateway"]!]);
  expect((await asToken(tokens.bob, "/api/v1/logs/events")).json).toMatchObject({ total: 1, errors: 1, by_host: { "down.logs.test": 1 } });
  expect((await asToken(tokens.alice, "/api/v1/logs", { method: "DELETE" })).status).toBe(403);
});

test("events count the real traffic", async () => {
  const events = (await asToken(GATEWAY_ADMIN, "/api/v1/logs/events?hours=1")).json;
  expect(events.by_host).toMatchObject({ "shop.logs.test": 2, "down.logs.test": 1, "nobody.logs.test": 1 });
  expect(events.duration_ms_by_proxy["shop.logs.test"].count).toBe(2);
  expect(events.hourly.reduce((n: number, h: { requests: number }) => n + h.requests, 0)).toBeGreaterThanOrEqual(4);
  expect(events.unique_ips_by_host["shop.logs.test"]).toBe(1);
});

test("the live tail delivers a real request made after it opened", async () => {
  const controller = new AbortController();
  const res = await fetch(apiUrl("/api/v1/logs/follow?host=shop.logs.test"), { headers: { authorization: `Bearer ${tokens.alice}` }, signal: controller.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes(": following")) text += decoder.decode((await reader.read()).value, { stream: true });
  const made = await gw.get("shop.logs.test", "/after-open");
  await made.arrayBuffer();
  const id = made.headers.get("x-request-id")!;
  const deadline = Date.now() + 5000;
  while (!text.includes(`"request_id":"${id}"`) && Date.now() < deadline) text += decoder.decode((await reader.read()).value, { stream: true });
  controller.abort();
  const event = text.split("\n\n").find((block) => block.includes(`"request_id":"${id}"`))!;
  expect(event.startsWith("event: request\n")).toBe(true);
  expect(JSON.parse(event.split("\n").find((l) => l.startsWith("data: "))!.slice(6))).toMatchObject({ request_id: id, path: "/after-open", status: 200, host: "shop.logs.test" });
});
