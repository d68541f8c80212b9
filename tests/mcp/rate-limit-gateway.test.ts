/**
 * Per-identity, per-tool rate limits at an MCP endpoint, in a running
 * gateway over TLS, in front of a real SDK MCP server with sessions
 * (Mcp-Session-Id), with tokens minted by the admin test-token endpoint and
 * the real SDK 1.x client:
 * - a call past its limit gets 429, Retry-After and a JSON-RPC error, and
 *   never reaches the backend; other tools and other users are unaffected;
 * - neither a new MCP session nor a new token starts a fresh budget;
 * - after the window the tool answers again;
 * - a batch counts each call, and a refused batch spends nothing;
 * - without a token, calls are counted by the client's address, which a
 *   client cannot change with X-Forwarded-For.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { servedEverywhere, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { gatewayFetch, type GatewayRoute, type SeenRequest } from "../helpers/mcp-client";
import { startMcpServer, type TestMcpServer } from "../helpers/mcp-server";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { MINUTE, outsideWindowEdge } from "../helpers/rate-windows";

const HOST = "limited.example.test";
const OPEN_HOST = "open.example.test";
const MCP_URL = `https://${HOST}/mcp`;

let redis: TestRedis;
let gw: TestGateway;
let backend: TestMcpServer;
let route: GatewayRoute;

beforeAll(async () => {
  redis = await startTestRedis();
  backend = await startMcpServer();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "alice,bob,carol,dave,erin" });
  const cert = await gw.api("POST", "/api/v1/certificates/multi-domain", { cert_name: "limits", domains: [HOST, OPEN_HOST], acme: false });
  expect(cert.status).toBe(201);
  const chain = (await gw.api("GET", "/api/v1/certificates/limits")).json.fullchain_pem as string;
  route = { domainSuffix: ".example.test", httpsPort: gw.gateway.httpsPort, ca: chain };
  const limits = [
    { tool: "add", per_minute: 3 },
    { tool: "whoami", per_second: 2 },
    { tool: "echo_*", per_minute: 3 },
  ];
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: HOST, target_url: backend.url, cert_name: "limits", resource_endpoint: "/mcp" })).status).toBe(201);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/mcp-policy`, { mcp_rate_limits: limits })).json.mcp_rate_limits).toEqual(limits);
  // No auth: calls are counted by address.
  const open = { hostname: OPEN_HOST, target_url: backend.url, cert_name: "limits", resource_endpoint: "/mcp", mcp_rate_limits: [{ tool: "add", per_minute: 2 }] };
  expect((await gw.api("POST", "/api/v1/proxy/targets", open)).status).toBe(201);
  await servedEverywhere([gw], HOST, new X509Certificate(chain).fingerprint256, 5_000);
  await Bun.sleep(200);
});

afterAll(async () => {
  await gw?.stop();
  await backend?.stop();
  await redis?.stop();
});

async function mint(username: string): Promise<string> {
  const res = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource: MCP_URL, username, scope: "mcp:read mcp:write" });
  expect(res.status).toBe(201);
  return res.json.access_token;
}

async function connect(token: string, log?: SeenRequest[]): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: "rate-limit-test", version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { fetch: gatewayFetch(route, log), requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return { client, transport };
}

const textOf = (result: unknown) => (result as { content: Array<{ text?: string }> }).content[0]?.text;
const add = (client: Client, a = 1, b = 2) => client.callTool({ name: "add", arguments: { a, b } }).then(textOf);

/** A POST to an MCP endpoint as raw bytes over TLS. */
function post(body: string, headers: Record<string, string> = {}, host = HOST): Promise<Response> {
  return gatewayFetch(route)(`https://${host}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body,
  } as RequestInit);
}
const rpc = (id: number | null, name: string, args: Record<string, unknown> = {}) =>
  id === null ? { jsonrpc: "2.0", method: "tools/call", params: { name, arguments: args } } : { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } };
const backendPosts = () => backend.requests.filter((r) => r.method === "POST").length;

/** Waits until the next wall-clock second has just begun, so that a few quick calls share one per-second window. */
async function startOfSecond(): Promise<void> {
  await Bun.sleep(1000 - (Date.now() % 1000) + 20);
}

// Limits per minute: no test's calls (each well under 4 s) may straddle two windows; the hook may wait that long.
beforeEach(() => outsideWindowEdge(MINUTE, 4_000), 10_000);

describe("with the real SDK client", () => {
  test("the fourth add in a minute is refused with 429, Retry-After and a JSON-RPC error; other tools and users are unaffected", async () => {
    const log: SeenRequest[] = [];
    const alice = await connect(await mint("alice"), log);
    expect(await add(alice.client, 1, 1)).toBe("2");
    expect(await add(alice.client, 1, 2)).toBe("3");
    expect(await add(alice.client, 1, 3)).toBe("4");
    const before = backendPosts();
    const refusal = await add(alice.client, 1, 4).then(
      () => null,
      (err: Error) => err.message,
    );
    // What the SDK shows its user: the JSON-RPC error the edge answered with.
    expect(refusal).toContain('"code":-32005');
    expect(refusal).toContain('Too many requests: the tool \\"add\\" allows 3 calls per minute');
    expect(backendPosts()).toBe(before);
    const refused = log.filter((r) => r.status === 429);
    expect(refused).toHaveLength(1);
    const retryAfter = Number(refused[0]!.responseHeaders.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // Another tool has its own budget; another user has their own.
    expect(await alice.client.callTool({ name: "whoami", arguments: {} }).then(textOf)).toBe("alice");
    const bob = await connect(await mint("bob"));
    expect(await add(bob.client, 2, 2)).toBe("4");
    await Promise.all([alice.client.close(), bob.client.close()]);
  });

  test("neither a new MCP session nor a new token starts a fresh budget", async () => {
    const first = await connect(await mint("carol"));
    for (let i = 0; i < 3; i++) expect(await add(first.client)).toBe("3");
    await expect(add(first.client)).rejects.toThrow(/Too many requests/);
    const again = await connect(await mint("carol"));
    expect(again.transport.sessionId).toBeString();
    expect(again.transport.sessionId).not.toBe(first.transport.sessionId);
    await expect(add(again.client)).rejects.toThrow(/Too many requests/);
    await Promise.all([first.client.close(), again.client.close()]);
  });

  test("after the window the tool answers again", async () => {
    const log: SeenRequest[] = [];
    const bob = await connect(await mint("bob"), log);
    await startOfSecond();
    const whoami = () => bob.client.callTool({ name: "whoami", arguments: {} }).then(textOf);
    expect(await whoami()).toBe("bob");
    expect(await whoami()).toBe("bob");
    await expect(whoami()).rejects.toThrow(/Too many requests/);
    expect(log.find((r) => r.status === 429)?.responseHeaders.get("retry-after")).toBe("1");
    await startOfSecond();
    expect(await whoami()).toBe("bob");
    await bob.client.close();
  });
});

describe("what the edge answers", () => {
  test("429 with Retry-After and a JSON-RPC error answering the request's id; the backend never sees the call", async () => {
    const token = await mint("dave");
    const headers = { authorization: `Bearer ${token}`, "mcp-protocol-version": "2025-06-18" };
    for (let i = 0; i < 3; i++) expect((await post(JSON.stringify(rpc(i, "add", { a: 1, b: 1 })), headers)).status).not.toBe(429);
    const before = backendPosts();
    const res = await post(JSON.stringify(rpc(7, "add", { a: 1, b: 1 })), headers);
    expect(res.status).toBe(429);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: 7,
      error: {
        code: -32005,
        message: `Too many requests: the tool "add" allows 3 calls per minute for each user and client (each address without a token); retry in ${retryAfter} s`,
        data: { retry_after: retryAfter, limit: 3, per: "minute" },
      },
    });
    expect(backendPosts()).toBe(before);
  });

  test("a batch counts each call, and a refused batch spends nothing", async () => {
    // A 2025-03-26 client (no MCP-Protocol-Version header) may send batches.
    const headers = { authorization: `Bearer ${await mint("erin")}` };
    const batch = (...ids: number[]) => JSON.stringify(ids.map((id) => rpc(id, `echo_${id}`)));
    expect((await post(batch(1, 2), headers)).status).not.toBe(429);
    const refused = await post(batch(3, 4), headers);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { id: unknown }).id).toBeNull();
    // The refused batch took nothing: one call is left, and a notification of the tool counts too.
    expect((await post(JSON.stringify(rpc(null, "echo_5")), headers)).status).not.toBe(429);
    expect((await post(JSON.stringify(rpc(6, "echo_6")), headers)).status).toBe(429);
  });

  test("without a token: counted by address, which X-Forwarded-For or X-Real-IP from the client cannot change", async () => {
    const call = (headers: Record<string, string> = {}) => post(JSON.stringify(rpc(1, "add", { a: 1, b: 1 })), { "mcp-protocol-version": "2025-06-18", ...headers }, OPEN_HOST);
    expect((await call()).status).not.toBe(429);
    expect((await call()).status).not.toBe(429);
    expect((await call()).status).toBe(429);
    expect((await call({ "x-forwarded-for": "198.51.100.7", "x-real-ip": "198.51.100.7" })).status).toBe(429);
    // Other tools are not limited there.
    expect((await post(JSON.stringify(rpc(2, "whoami")), { "mcp-protocol-version": "2025-06-18" }, OPEN_HOST)).status).not.toBe(429);
  });
});
