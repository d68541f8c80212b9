/**
 * The edge at an MCP endpoint, in a running gateway over TLS, in front of a
 * real 2.x SDK server (createMcpHandler: 2026-07-28 and stateless 2025
 * serving) with tokens minted by the admin test-token endpoint:
 * - per-tool scopes: a tools/call the token may not make gets one 403
 *   insufficient_scope challenge naming what it needs; tools/list lists
 *   only what the token may call (JSON answers for 2026-07-28 clients, event
 *   streams for 2025 ones), with the real SDK clients 2.x and 1.x;
 * - Mcp-Method / Mcp-Name held to the body for 2026-07-28 clients (400,
 *   -32020), never trusted for older ones;
 * - Origin refused before auth;
 * - the body the edge read reaches the backend byte for byte; a body it did
 *   not read needs every scope the policy names.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { servedEverywhere, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { gatewayFetch, type GatewayRoute, type SeenRequest } from "../helpers/mcp-client";
import { startMcpHandlerServer, type McpHandlerServer } from "../helpers/mcp-handler-server";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const HOST = "mcp.example.test";
const MCP_URL = `https://${HOST}/mcp`;
const METADATA_URL = `https://${HOST}/.well-known/oauth-protected-resource/mcp`;
const ISSUER = "https://auth.example.test";
const MODERN = "2026-07-28";

let redis: TestRedis;
let gw: TestGateway;
let backend: McpHandlerServer;
let route: GatewayRoute;
/** alice: mcp:read mcp:write. */
let reader: string;
/** bob: mcp:read mcp:write mcp:admin. */
let admin: string;

beforeAll(async () => {
  redis = await startTestRedis();
  backend = startMcpHandlerServer();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "alice,bob" });
  const cert = await gw.api("POST", "/api/v1/certificates/multi-domain", { cert_name: "mcp-edge", domains: [HOST], acme: false });
  expect(cert.status).toBe(201);
  const chain = (await gw.api("GET", "/api/v1/certificates/mcp-edge")).json.fullchain_pem as string;
  route = { domainSuffix: ".example.test", httpsPort: gw.gateway.httpsPort, ca: chain };
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: HOST, target_url: backend.url, enable_https: true, cert_name: "mcp-edge" })).status).toBe(201);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/resource`, { resource_endpoint: "/mcp", resource_scopes: ["mcp:read", "mcp:write", "mcp:admin"] })).status).toBe(200);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  const policy = await gw.api("POST", `/api/v1/proxy/targets/${HOST}/mcp-policy`, { mcp_tool_scopes: { whoami: ["mcp:admin"] }, mcp_filter_tools: true });
  expect(policy.json).toMatchObject({ enforced: true, policy_scopes: ["mcp:admin"] });
  await servedEverywhere([gw], HOST, new X509Certificate(chain).fingerprint256, 5_000);
  reader = await mint("alice", "mcp:read mcp:write");
  admin = await mint("bob", "mcp:read mcp:write mcp:admin");
  await Bun.sleep(300);
});

afterAll(async () => {
  await gw?.stop();
  backend?.stop();
  await redis?.stop();
});

async function mint(username: string, scope: string): Promise<string> {
  const res = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource: MCP_URL, username, scope });
  expect(res.status).toBe(201);
  return res.json.access_token;
}

/** A POST to the MCP endpoint as raw bytes, over TLS to the gateway. */
function post(body: string | Uint8Array | ReadableStream<Uint8Array>, headers: Record<string, string> = {}, path = "/mcp"): Promise<Response> {
  return gatewayFetch(route)(`https://${HOST}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body,
  } as RequestInit);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const rpc = (id: number, method: string, params?: Record<string, unknown>) => JSON.stringify({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });
/** The 2026-07-28 request envelope a modern client puts in every request. */
const envelope = { _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" }, "io.modelcontextprotocol/clientCapabilities": {} } };
const backendSaw = (marker: string) => backend.requests.some((r) => new TextDecoder().decode(r.body).includes(marker));

const WHOAMI_CHALLENGE =
  `Bearer realm="${HOST}", error="insufficient_scope", error_description="the tool 'whoami' needs the scope mcp:admin", ` +
  `resource_metadata="${METADATA_URL}", as_uri="${ISSUER}/.well-known/oauth-authorization-server", resource_uri="${METADATA_URL}", scope="mcp:admin"`;

function textOf(result: unknown): string {
  return ((result as { content: Array<{ text?: string }> }).content[0]?.text ?? "") as string;
}

describe("per-tool scopes with real SDK clients", () => {
  test("SDK 2.x on 2026-07-28: tools/list shows what the token may call; the refused call gets one insufficient_scope challenge", async () => {
    const log: SeenRequest[] = [];
    const connect = async (token: string) => {
      const client = new ClientV2({ name: "edge-test-v2", version: "1" }, { versionNegotiation: { mode: "auto" } } as ConstructorParameters<typeof ClientV2>[1]);
      await client.connect(new TransportV2(new URL(MCP_URL), { fetch: gatewayFetch(route, log), requestInit: { headers: bearer(token) } }));
      return client;
    };
    const alice = await connect(reader);
    expect((await alice.listTools()).tools.map((t) => t.name)).toEqual(["add"]);
    expect(textOf(await alice.callTool({ name: "add", arguments: { a: 2, b: 3 } }))).toBe("5");
    await expect(alice.callTool({ name: "whoami", arguments: {} })).rejects.toThrow();
    const refused = log.filter((r) => r.status === 403);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.requestHeaders.get("mcp-method")).toBe("tools/call");
    expect(refused[0]!.requestHeaders.get("mcp-name")).toBe("whoami");
    expect(refused[0]!.responseHeaders.get("www-authenticate")).toBe(WHOAMI_CHALLENGE);
    // Every request of this client was a 2026-07-28 one, and the gateway let the honest ones through.
    expect(log.every((r) => r.requestHeaders.get("mcp-protocol-version") === MODERN)).toBe(true);
    await alice.close();

    const bob = await connect(admin);
    expect((await bob.listTools()).tools.map((t) => t.name)).toEqual(["add", "whoami"]);
    expect(textOf(await bob.callTool({ name: "whoami", arguments: {} }))).toBe("bob");
    await bob.close();
  });

  test("SDK 1.x on 2025-11-25 (answers as event streams): the same", async () => {
    const log: SeenRequest[] = [];
    const connect = async (token: string) => {
      const client = new ClientV1({ name: "edge-test-v1", version: "1" });
      await client.connect(new TransportV1(new URL(MCP_URL), { fetch: gatewayFetch(route, log), requestInit: { headers: bearer(token) } }));
      return client;
    };
    const alice = await connect(reader);
    expect((await alice.listTools()).tools.map((t) => t.name)).toEqual(["add"]);
    expect(log.find((r) => r.status === 200 && r.responseHeaders.get("content-type")?.startsWith("text/event-stream"))).toBeDefined();
    expect(textOf(await alice.callTool({ name: "add", arguments: { a: 1, b: 1 } }))).toBe("2");
    await expect(alice.callTool({ name: "whoami", arguments: {} })).rejects.toThrow();
    expect(log.find((r) => r.status === 403)?.responseHeaders.get("www-authenticate")).toBe(WHOAMI_CHALLENGE);
    await alice.close();

    const bob = await connect(admin);
    expect((await bob.listTools()).tools.map((t) => t.name)).toEqual(["add", "whoami"]);
    expect(textOf(await bob.callTool({ name: "whoami", arguments: {} }))).toBe("bob");
    await bob.close();
  });

  test("the refusal is the edge's: the backend never sees the call", async () => {
    const marker = "never-reaches-the-backend";
    const res = await post(rpc(3, "tools/call", { name: "whoami", arguments: { marker } }), bearer(reader));
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: "insufficient_scope", error_description: 'the tool "whoami" needs the scope mcp:admin', scope: "mcp:admin" });
    expect(backendSaw(marker)).toBe(false);
    // Without a token it is still the usual 401: auth runs before the body is read.
    const anonymous = await post(rpc(4, "tools/call", { name: "whoami" }));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).not.toContain("error=");
  });

  test("spellings of the endpoint a backend may accept do not leave the policy behind", async () => {
    for (const path of ["/MCP", "/mcp/", "//mcp", "/%6Dcp"]) {
      const res = await post(rpc(5, "tools/call", { name: "whoami" }), bearer(reader), path);
      expect([path, res.status]).toEqual([path, 403]);
    }
  });
});

describe("Mcp-Method and Mcp-Name", () => {
  test("2026-07-28: a header that lies about the body is 400 -32020 with the request's id, and nothing is forwarded", async () => {
    const marker = "lying-header-2026";
    const body = rpc(41, "tools/call", { name: "whoami", arguments: { marker }, ...envelope });
    const cases: Record<string, string>[] = [
      { "mcp-method": "tools/list" },
      { "mcp-method": "tools/call", "mcp-name": "add" },
      { "mcp-method": "tools/call" },
    ];
    for (const headers of cases) {
      // Even the admin token: the request is malformed before it is unauthorized.
      const res = await post(body, { ...bearer(admin), "mcp-protocol-version": MODERN, ...headers });
      expect([headers, res.status]).toEqual([headers, 400]);
      const answer = (await res.json()) as { id: number; error: { code: number; message: string } };
      expect(answer.id).toBe(41);
      expect(answer.error.code).toBe(-32020);
    }
    expect(backendSaw(marker)).toBe(false);
    // The same call with headers that agree (the name in its Base64 form) goes through.
    const honest = rpc(42, "tools/call", { name: "add", arguments: { a: 20, b: 22 }, ...envelope });
    const res = await post(honest, { ...bearer(reader), "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": `=?base64?${btoa("add")}?=` });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain('"text":"42"');
  });

  test("an older client's headers are never trusted: the body decides, whatever they claim", async () => {
    const marker = "lying-header-2025";
    const body = rpc(43, "tools/call", { name: "whoami", arguments: { marker } });
    const lies = { "mcp-method": "tools/list", "mcp-name": "add" };
    for (const version of ["2025-06-18", "2025-11-25", "DRAFT-2026-v1"]) {
      const res = await post(body, { ...bearer(reader), "mcp-protocol-version": version, ...lies });
      expect([version, res.status]).toEqual([version, 403]);
      expect(res.headers.get("www-authenticate")).toContain('scope="mcp:admin"');
    }
    expect(backendSaw(marker)).toBe(false);
    // Without the header at all (a 2025-03-26 client), a batch may hide the call among others: still refused.
    const batch = `[${rpc(44, "tools/list")},${rpc(45, "tools/call", { name: "whoami", arguments: { marker } })}]`;
    expect((await post(batch, { ...bearer(reader), ...lies })).status).toBe(403);
    expect(backendSaw(marker)).toBe(false);
  });

  test("a body naming its method twice is refused (400), whichever one a backend would read", async () => {
    const marker = "duplicate-method";
    const body = `{"jsonrpc":"2.0","id":46,"method":"tools/call","params":{"name":"whoami","arguments":{"marker":"${marker}"}},"method":"tools/list"}`;
    const res = await post(body, bearer(admin));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600);
    expect(backendSaw(marker)).toBe(false);
  });

  test("a batch from a client whose revision has none is refused; broken JSON is a parse error", async () => {
    const batch = `[${rpc(47, "tools/list")}]`;
    const res = await post(batch, { ...bearer(reader), "mcp-protocol-version": "2025-06-18" });
    expect([res.status, ((await res.json()) as { error: { code: number } }).error.code]).toEqual([400, -32600]);
    const broken = await post('{"jsonrpc":"2.0","id":48,', bearer(reader));
    expect([broken.status, ((await broken.json()) as { error: { code: number } }).error.code]).toEqual([400, -32700]);
  });
});

describe("bodies", () => {
  test("a body the edge read reaches the backend byte for byte", async () => {
    const spelled = (tool: string) => `{ "jsonrpc" : "2.0",\r\n\t"id":49 , "method":"tools/call","params":{"name":"${tool}","arguments":{"a":1,"b":2},"note":"h\\u00e9 ✓ \\" \\\\ 🚀"}}   `;
    // The edge reads such a body: spelled this way, a call of whoami is refused...
    expect((await post(spelled("\\u0077hoami"), bearer(reader))).status).toBe(403);
    // ...and a call it lets through arrives as the very bytes the client sent.
    const bytes = new TextEncoder().encode(spelled("add"));
    const before = backend.requests.length;
    const res = await post(bytes, bearer(reader));
    expect(res.status).toBe(200);
    const seen = backend.requests.slice(before).find((r) => r.method === "POST");
    expect(seen).toBeDefined();
    expect(Buffer.from(seen!.body).equals(Buffer.from(bytes))).toBe(true);
    expect(seen!.headers["content-length"]).toBe(String(bytes.length));
  });

  test("a streamed body is not read: it needs every scope the policy names, then goes through as it came", async () => {
    const marker = "streamed-body";
    const stream = () => {
      const parts = [rpc(50, "tools/call", { name: "add", arguments: { a: 1, b: 2, marker } })];
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = parts.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(next));
        },
      });
    };
    const refused = await post(stream(), bearer(reader));
    expect(refused.status).toBe(403);
    expect(refused.headers.get("www-authenticate")).toContain('scope="mcp:admin"');
    expect(backendSaw(marker)).toBe(false);
    const allowed = await post(stream(), bearer(admin));
    expect(allowed.status).toBe(200);
    expect(backendSaw(marker)).toBe(true);
  });
});

describe("Origin", () => {
  test("a foreign Origin is refused with 403 before auth, not a challenge; the proxy's own origins pass to auth", async () => {
    const marker = "from-a-rebound-page";
    const foreign = await post(rpc(60, "tools/call", { name: "add", arguments: { a: 1, b: 2, marker } }), { ...bearer(admin), origin: "http://evil.example" });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("www-authenticate")).toBeNull();
    expect(((await foreign.json()) as { error: { code: number; message: string } }).error).toMatchObject({ code: -32000, message: expect.stringContaining("http://evil.example") });
    expect(backendSaw(marker)).toBe(false);
    // Without a token: still the Origin refusal, never a sign-in invitation.
    expect((await post(rpc(61, "tools/list"), { origin: "http://evil.example" })).status).toBe(403);
    // The proxy's own origins, and no Origin at all, are for auth to decide.
    for (const origin of [`https://${HOST}`, `http://${HOST}`]) expect((await post(rpc(62, "tools/list"), { origin })).status).toBe(401);
    expect((await post(rpc(63, "tools/list"), { ...bearer(reader), origin: `https://${HOST}` })).status).toBe(200);
  });

  test("mcp_allowed_origins admits a listed origin; a preflight is never the one refused", async () => {
    expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/mcp-policy`, { mcp_allowed_origins: ["http://localhost:6274"] })).status).toBe(200);
    await Bun.sleep(300);
    expect((await post(rpc(64, "tools/list"), { ...bearer(reader), origin: "http://localhost:6274" })).status).toBe(200);
    expect((await post(rpc(65, "tools/list"), { ...bearer(reader), origin: "http://localhost:6275" })).status).toBe(403);
    const preflight = await gatewayFetch(route)(MCP_URL, { method: "OPTIONS", headers: { origin: "http://evil.example", "access-control-request-method": "POST" } });
    expect(preflight.status).not.toBe(403);
    await preflight.body?.cancel();
  });
});
