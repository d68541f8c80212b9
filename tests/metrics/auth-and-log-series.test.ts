/**
 * Edge auth outcomes and the request-log queue on a running gateway: a proxy
 * with auth on (forward mode), tokens from the gateway's own authorization
 * server; a request without a token (401), one by a user off the allowlist
 * (403), two by an allowed user (ok), counted under the proxy's configured
 * hostname; every answered request written to Redis by the request log and
 * counted as written, with nothing dropped or left queued.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { parsePrometheusText, sample, samples, type Families } from "../helpers/prometheus-text";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const HOST = "guarded.example.test";
let redis: TestRedis;
let gw: TestGateway;
const backend = namedBackend("guarded");

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "alice" });
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}`, enable_https: true })).status).toBe(201);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/resource`, { resource_endpoint: "/mcp", resource_scopes: ["mcp:read"] })).status).toBe(200);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  // The edge's host table follows the change through Redis events.
  for (let i = 0; i < 200 && (await call("/mcp")).status !== 401; i++) await Bun.sleep(10);
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});

function call(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`https://127.0.0.1:${gw.gateway.httpsPort}${path}`, { headers: { ...headers, host: HOST }, redirect: "manual", tls: { rejectUnauthorized: false } } as RequestInit);
}

async function mint(username: string): Promise<string> {
  const res = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource: `https://${HOST}/mcp`, username });
  expect(res.status).toBe(201);
  return res.json.access_token;
}

async function scrape(): Promise<Families> {
  return parsePrometheusText(await (await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`)).text());
}

const outcome = (families: Families, value: string) =>
  samples(families, "portcullis_auth_outcomes_total").find((s) => s.labels.host === HOST && s.labels.outcome === value)?.value ?? 0;

describe("portcullis_auth_outcomes_total", () => {
  test("ok, 401 and 403 on a protected proxy, under its configured hostname", async () => {
    const before = await scrape();
    const alice = await mint("alice");
    const mallory = await mint("mallory");
    expect((await call("/mcp")).status).toBe(401);
    expect((await call("/mcp", { authorization: `Bearer ${mallory}` })).status).toBe(403);
    for (let i = 0; i < 2; i++) expect((await call("/mcp", { authorization: `Bearer ${alice}` })).status).toBe(200);

    const after = await scrape();
    expect(outcome(after, "401") - outcome(before, "401")).toBe(1);
    expect(outcome(after, "403") - outcome(before, "403")).toBe(1);
    expect(outcome(after, "ok") - outcome(before, "ok")).toBe(2);
    // Only configured hostnames: the API and auth hostnames never carry an auth outcome here.
    for (const s of samples(after, "portcullis_auth_outcomes_total")) expect(s.labels.host).toBe(HOST);
  });
});

describe("request-log queue", () => {
  test("answered requests are written to Redis and counted; nothing dropped, the queue drains", async () => {
    const read = (families: Families, name: string) => sample(families, name, {}).value!;
    /**
     * Scrapes until the writer is idle: nothing queued and `written` unchanged over more than one
     * flush interval (~100 ms), since a flush in flight has emptied the queue before it counts.
     */
    const settled = async () => {
      let last = await scrape();
      for (let i = 0; i < 50; i++) {
        await Bun.sleep(150);
        const next = await scrape();
        const idle = read(next, "portcullis_request_log_queue_depth") === 0;
        if (idle && read(next, "portcullis_request_log_written_total") === read(last, "portcullis_request_log_written_total")) return next;
        last = next;
      }
      throw new Error("the request log never settled");
    };
    // Scrapes of API_PORT are not recorded: once settled, only the requests below add records.
    const writtenBefore = read(await settled(), "portcullis_request_log_written_total");
    for (let i = 0; i < 5; i++) expect((await call("/mcp")).status).toBe(401);
    const families = await settled();
    expect(read(families, "portcullis_request_log_written_total") - writtenBefore).toBe(5);
    expect(read(families, "portcullis_request_log_queue_depth")).toBe(0);
    expect(read(families, "portcullis_request_log_dropped_total")).toBe(0);
  });
});
