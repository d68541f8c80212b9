/**
 * Legacy MCP sessions across two gateway nodes on one Redis, over TLS, with
 * the real SDK 1.x client and two stateful SDK servers (one session per
 * Mcp-Session-Id, held in the backend process): a session begun on backend
 * 1 through node A keeps reaching backend 1 through node B and node A after
 * the proxy's target_url switches to backend 2, while a new session goes to
 * backend 2; the client never learns a backend's id or address; an id that
 * is forged, altered, another user's or another proxy's never reaches
 * backend 1; DELETE ends the session on backend 1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { servedEverywhere, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { gatewayFetch, type SeenRequest } from "../helpers/mcp-client";
import { startMcpServer, type TestMcpServer } from "../helpers/mcp-server";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

const HOST = "mcp.example.test";
/** Another MCP proxy on the same nodes, in front of backend 1. */
const OTHER = "other.example.test";
const MCP_URL = `https://${HOST}/mcp`;

let redis: TestRedis;
let nodeA: TestGateway;
let nodeB: TestGateway;
let backend1: TestMcpServer;
let backend2: TestMcpServer;
let ca: string;
let alice: string;
let bob: string;
let aliceOnOther: string;

beforeAll(async () => {
  redis = await startTestRedis();
  [backend1, backend2] = await Promise.all([startMcpServer(), startMcpServer()]);
  const env = { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "alice,bob" };
  [nodeA, nodeB] = await Promise.all([startTestGateway(redis, env), startTestGateway(redis, env)]);
  const cert = await nodeA.api("POST", "/api/v1/certificates/multi-domain", { cert_name: "sessions", domains: [HOST, OTHER], acme: false });
  expect(cert.status).toBe(201);
  ca = (await nodeA.api("GET", "/api/v1/certificates/sessions")).json.fullchain_pem as string;
  for (const hostname of [HOST, OTHER]) {
    expect((await nodeA.api("POST", "/api/v1/proxy/targets", { hostname, target_url: backend1.url, enable_https: true, cert_name: "sessions" })).status).toBe(201);
    expect((await nodeA.api("POST", `/api/v1/proxy/targets/${hostname}/resource`, { resource_endpoint: "/mcp", resource_scopes: ["mcp:read"] })).status).toBe(200);
    expect((await nodeA.api("POST", `/api/v1/proxy/targets/${hostname}/auth`, { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  }
  const fingerprint = new X509Certificate(ca).fingerprint256;
  await servedEverywhere([nodeA, nodeB], HOST, fingerprint, 5_000);
  await servedEverywhere([nodeA, nodeB], OTHER, fingerprint, 5_000);
  alice = await mint("alice", MCP_URL);
  bob = await mint("bob", MCP_URL);
  aliceOnOther = await mint("alice", `https://${OTHER}/mcp`);
  // Both nodes know both proxies (with auth on) before the first client comes.
  for (const node of [nodeA, nodeB]) {
    for (const [host, token] of [[HOST, alice], [OTHER, aliceOnOther]] as const) {
      expect(await within(3_000, async () => (await probe(node, host, token)).status === 404)).toBe(true);
    }
  }
});

afterAll(async () => {
  // Backends first: their sessions' event streams end, so the nodes have nothing in flight to wait for.
  await Promise.all([backend1?.stop(), backend2?.stop()]);
  await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  await redis?.stop();
});

async function mint(username: string, resource: string): Promise<string> {
  const res = await nodeA.api("POST", "/api/v1/oauth/test-tokens", { resource, username, scope: "mcp:read" });
  expect(res.status).toBe(201);
  return res.json.access_token;
}

const routeVia = (node: TestGateway) => ({ domainSuffix: ".example.test", httpsPort: node.gateway.httpsPort, ca });

/** A request off the MCP endpoint (the backends answer 404 and record the path): which backend a node sends the proxy to. */
function probe(node: TestGateway, host: string, token: string, path = "/probe"): Promise<Response> {
  return gatewayFetch(routeVia(node))(`https://${host}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

/** The SDK's fetch, through whichever node `via` names at the time of each request: one client, one session, two nodes. */
function switchableFetch(via: { node: TestGateway }, log: SeenRequest[]): FetchLike {
  return (input, init) => gatewayFetch(routeVia(via.node), log)(input, init);
}

/** A POST to the MCP endpoint as the raw bytes a client might send, through `node`. */
function rawPost(node: TestGateway, host: string, headers: Record<string, string>, body: string): Promise<Response> {
  return gatewayFetch(routeVia(node))(`https://${host}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25", ...headers },
    body,
  });
}

const callAdd = (id: number, a: number, b: number) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "add", arguments: { a, b } } });
const textOf = (result: unknown) => (result as { content: Array<{ text?: string }> }).content[0]?.text;
/** The requests a backend got for one of its sessions. */
const sessionRequests = (backend: TestMcpServer, serverId: string) => backend.requests.filter((r) => r.headers["mcp-session-id"] === serverId);

describe("one session, two nodes, a blue/green switch", () => {
  const via = { node: undefined as unknown as TestGateway };
  const log: SeenRequest[] = [];
  let client: Client;
  let transport: StreamableHTTPClientTransport;
  /** Backend 1's own id for the session, and what the client holds instead. */
  let serverId: string;
  let shown: string;

  test("a client initializes through node A: the session lives on backend 1, and the client sees a sealed id", async () => {
    via.node = nodeA;
    client = new Client({ name: "session-test", version: "1" });
    transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { fetch: switchableFetch(via, log), requestInit: { headers: { authorization: `Bearer ${alice}` } } });
    await client.connect(transport);
    expect(textOf(await client.callTool({ name: "add", arguments: { a: 1, b: 2 } }))).toBe("3");
    expect([...backend1.sessions.keys()]).toHaveLength(1);
    expect(backend2.sessions.size).toBe(0);
    serverId = [...backend1.sessions.keys()][0]!;
    shown = transport.sessionId!;
    expect(shown).toBeDefined();
    expect(shown).not.toBe(serverId);
    expect(shown).not.toContain(backend1.url.slice("http://".length));
    // No answer ever showed the client the backend's own id.
    expect(log.every((r) => r.responseHeaders.get("mcp-session-id") !== serverId)).toBe(true);
    expect(log.filter((r) => r.responseHeaders.has("mcp-session-id")).every((r) => r.responseHeaders.get("mcp-session-id") === shown)).toBe(true);
    // The backend got its own id back on every request of the session.
    expect(sessionRequests(backend1, serverId).length).toBeGreaterThanOrEqual(2);
    expect(backend1.requests.some((r) => r.headers["mcp-session-id"] === shown)).toBe(false);
  });

  test("target_url switches to backend 2: the same session continues through node B and node A on backend 1; backend 2 never sees it", async () => {
    expect((await nodeB.api("PUT", `/api/v1/proxy/targets/${HOST}`, { target_url: backend2.url })).status).toBe(200);
    for (const [node, path] of [[nodeA, "/probe-a"], [nodeB, "/probe-b"]] as const) {
      expect(await within(3_000, async () => (await probe(node, HOST, alice, path)).status === 404 && backend2.requests.some((r) => r.path === path))).toBe(true);
    }
    const before = sessionRequests(backend1, serverId).length;
    via.node = nodeB;
    expect(textOf(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } }))).toBe("5");
    expect((await client.listTools()).tools.map((t) => t.name)).toContain("add");
    via.node = nodeA;
    expect(textOf(await client.callTool({ name: "add", arguments: { a: 4, b: 5 } }))).toBe("9");
    const after = sessionRequests(backend1, serverId);
    expect(after.length - before).toBeGreaterThanOrEqual(3);
    expect(after.slice(before).every((r) => r.method === "POST" && r.path === "/mcp")).toBe(true);
    expect(sessionRequests(backend2, serverId)).toHaveLength(0);
    expect(backend2.requests.some((r) => r.headers["mcp-session-id"] === shown)).toBe(false);
    expect(transport.sessionId).toBe(shown);
  });

  test("a new session, through either node, goes to backend 2", async () => {
    for (const node of [nodeB, nodeA]) {
      const fresh = new Client({ name: "session-test-new", version: "1" });
      const freshTransport = new StreamableHTTPClientTransport(new URL(MCP_URL), { fetch: switchableFetch({ node }, []), requestInit: { headers: { authorization: `Bearer ${alice}` } } });
      await fresh.connect(freshTransport);
      expect(textOf(await fresh.callTool({ name: "add", arguments: { a: 10, b: 1 } }))).toBe("11");
      expect(backend2.sessions.size).toBe(1);
      expect(backend2.sessions.has(freshTransport.sessionId!)).toBe(false);
      await freshTransport.terminateSession();
      await fresh.close();
    }
    expect(backend1.sessions.size).toBe(1);
  });

  describe("ids that must not reach backend 1", () => {
    const posts = (backend: TestMcpServer) => backend.requests.filter((r) => r.method === "POST").length;

    /** Sends a tools/call with `id` through both nodes: the current target (backend 2) answers 404 for a session it does not know. */
    async function refused(host: string, token: string, id: string) {
      // POSTs only: a client's event stream (a GET) may reach backend 1 at any moment.
      const seen = posts(backend1);
      for (const node of [nodeA, nodeB]) {
        const res = await rawPost(node, host, { authorization: `Bearer ${token}`, "mcp-session-id": id }, callAdd(7, 1, 1));
        expect(res.status).toBe(404);
        await res.body?.cancel();
      }
      expect(posts(backend1)).toBe(seen);
      const reachedBackend2 = backend2.requests.filter((r) => r.headers["mcp-session-id"] === id).length;
      await reachesBackend1();
      return reachedBackend2;
    }

    /** The control: alice's genuine id, with her token, through both nodes, is a call on backend 1. */
    async function reachesBackend1() {
      const seen = sessionRequests(backend1, serverId).length;
      for (const node of [nodeA, nodeB]) {
        const res = await rawPost(node, HOST, { authorization: `Bearer ${alice}`, "mcp-session-id": shown }, callAdd(6, 20, 22));
        expect(res.status).toBe(200);
        expect(await res.text()).toContain('"text":"42"');
      }
      expect(sessionRequests(backend1, serverId).length).toBe(seen + 2);
    }

    test("the client's own id, altered in any one place", async () => {
      const body = shown.slice(3);
      for (const at of [0, Math.floor(body.length / 2), body.length - 1]) {
        const altered = shown.slice(0, 3 + at) + (body[at] === "A" ? "B" : "A") + body.slice(at + 1);
        // Forwarded as the client sent it, to the current target only.
        expect(await refused(HOST, alice, altered)).toBe(2);
      }
    });

    test("backend 1's own id (a client that learnt it elsewhere) or garbage", async () => {
      expect(await refused(HOST, alice, serverId)).toBe(2);
      expect(await refused(HOST, alice, "s1." + "A".repeat(100))).toBe(2);
    });

    test("alice's session with bob's valid token", async () => {
      expect(await refused(HOST, bob, shown)).toBe(2);
    });

    test("an id sealed for another proxy (whose own target is backend 1)", async () => {
      const other = new Client({ name: "session-test-other", version: "1" });
      const otherTransport = new StreamableHTTPClientTransport(new URL(`https://${OTHER}/mcp`), { fetch: switchableFetch({ node: nodeA }, []), requestInit: { headers: { authorization: `Bearer ${aliceOnOther}` } } });
      await other.connect(otherTransport);
      const otherId = otherTransport.sessionId!;
      expect(backend1.sessions.size).toBe(2);
      expect(await refused(HOST, alice, otherId)).toBe(2);
      await otherTransport.terminateSession();
      await other.close();
    });

    test("without a token it is the usual 401, before any routing", async () => {
      const seen = backend1.requests.length + backend2.requests.length;
      const res = await rawPost(nodeB, HOST, { "mcp-session-id": shown }, callAdd(8, 1, 1));
      expect(res.status).toBe(401);
      expect(backend1.requests.length + backend2.requests.length).toBe(seen);
      await reachesBackend1();
    });
  });

  test("DELETE through node B ends the session on backend 1; the id then gets backend 1's 404", async () => {
    via.node = nodeB;
    await transport.terminateSession();
    expect(backend1.sessions.has(serverId)).toBe(false);
    expect(sessionRequests(backend1, serverId).at(-1)?.method).toBe("DELETE");
    const res = await rawPost(nodeA, HOST, { authorization: `Bearer ${alice}`, "mcp-session-id": shown }, callAdd(9, 1, 1));
    expect(res.status).toBe(404);
    expect(sessionRequests(backend1, serverId).at(-1)?.method).toBe("POST");
    await client.close();
  });
});
