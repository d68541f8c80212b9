/**
 * The MCP SDK's clients, 2.x (`@modelcontextprotocol/client` 2.4.0) and 1.x
 * (`@modelcontextprotocol/sdk` 1.32.2), unpatched, through the compiled
 * gateway over TLS, set up as docs/mcp.md says:
 *
 * - SDK 2.x against a 2.x server (it speaks 2026-07-28, so every POST carries
 *   Mcp-Method/Mcp-Name, which the edge holds to the body): dynamic
 *   registration, sign-in with the consent page, tool calls, a per-tool
 *   scope answered with the exact 403 challenge, the step-up that follows it,
 *   a browser-like Origin refused, refresh, a rate-limited tool's 429 and
 *   its answer in the next window.
 * - SDK 1.x against a 1.x server (sessions): a Client ID Metadata Document
 *   as client_id (served over HTTPS from loopback by a CA the gateway trusts
 *   through NODE_EXTRA_CA_CERTS), tool calls, refresh, and what it does with
 *   a per-tool 403: it cannot step up (docs/mcp.md says so); its session
 *   stays on its server after the proxy's target_url moves, through either
 *   of two gateway processes (docs/mcp.md, "Sessions").
 *
 * The user's browser (tests/helpers/mcp-client.ts) follows the sign-in
 * through the GitHub stand-in and clicks Approve on the consent page.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client as Client1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as Transport1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client as Client2, StreamableHTTPClientTransport as Transport2, UnauthorizedError as UnauthorizedError2 } from "@modelcontextprotocol/client";
import { startClientMetadataServer, type ClientMetadataServer } from "../helpers/mcp-client-metadata";
import { gatewayFetch, InMemoryOAuthProvider, LoopbackCallback, TestBrowser, type GatewayRoute, type SeenRequest } from "../helpers/mcp-client";
import { ISSUER, startMcpDeployment, within, type McpDeployment } from "../helpers/mcp-deployment";
import { startMcpHandlerServer, type McpHandlerServer } from "../helpers/mcp-handler-server";
import { startMcpServer, type TestMcpServer } from "../helpers/mcp-server";
import { startGatewayProcess, tempDataDir } from "../helpers/gateway-process";
import { peerCertificate } from "../helpers/test-ca";

/** A 2.x server (2026-07-28 and the legacy fallback) behind this name… */
const HOST_2X = "mcp2.example.test";
/** …and a 1.x server with sessions behind this one. */
const HOST_1X = "mcp1.example.test";
const URL_2X = `https://${HOST_2X}/mcp`;
const URL_1X = `https://${HOST_1X}/mcp`;

let deployment: McpDeployment;
let server2x: McpHandlerServer;
let server1x: TestMcpServer;
let documentServer: ClientMetadataServer;
/** `auto`: the client probes with server/discover and speaks 2026-07-28 to a server that offers it (the default stays 2025). */
const newClient2 = () => new Client2({ name: "portcullis-e2e-sdk-2x", version: "2.4.0" }, { versionNegotiation: { mode: "auto" } });
const callbacks: LoopbackCallback[] = [];

const claimsOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8"));
/** The text of a tool result's first content item (1.x and 2.x results alike). */
const textOf = (result: object) => ((result as { content?: Array<{ text?: string }> }).content?.[0]?.text ?? "");
const calls = (log: SeenRequest[]) => log.map((r) => `${r.method} ${r.url.split("?")[0]} ${r.status}`);

/** A raw JSON-RPC POST to an MCP endpoint through the gateway, as a non-SDK client would send it. */
async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return gatewayFetch(deployment.route)(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(body),
  });
}
const toolCall = (name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name, arguments: args } });

function newCallback(): LoopbackCallback {
  const callback = new LoopbackCallback();
  callbacks.push(callback);
  return callback;
}

beforeAll(async () => {
  deployment = await startMcpDeployment([HOST_2X, HOST_1X]);
  server2x = startMcpHandlerServer({ endpoint: "/mcp" });
  server1x = await startMcpServer();
  await deployment.protect(HOST_2X, server2x.url);
  await deployment.protect(HOST_1X, server1x.url);
}, 120_000);

afterAll(async () => {
  await deployment?.stop();
  server2x?.stop();
  await server1x?.stop();
  documentServer?.stop();
  for (const callback of callbacks) callback.stop();
});

describe("SDK 2.x (@modelcontextprotocol/client 2.4.0): dynamic registration, step-up, Origin, refresh", () => {
  const log: SeenRequest[] = [];
  let browser: TestBrowser;
  let provider: InMemoryOAuthProvider;
  let client: Client2 | undefined;
  const connect = async () => {
    await client?.close().catch(() => {});
    const transport = new Transport2(new URL(URL_2X), { authProvider: provider as any, fetch: gatewayFetch(deployment.route, log) });
    client = newClient2();
    await client.connect(transport);
    return transport;
  };

  beforeAll(() => {
    browser = new TestBrowser(gatewayFetch(deployment.route));
    provider = new InMemoryOAuthProvider(browser, newCallback(), "SDK 2.x test client");
  });
  afterAll(async () => {
    await client?.close().catch(() => {});
  });

  test("first connect: 401 → metadata → POST /register → sign-in, consent approved → the code comes back with iss; after finishAuth the tools answer as alice", async () => {
    const transport = new Transport2(new URL(URL_2X), { authProvider: provider as any, fetch: gatewayFetch(deployment.route, log) });
    client = newClient2();
    const failure = await client.connect(transport).then(() => null, (err: unknown) => err);
    expect(failure).toBeInstanceOf(UnauthorizedError2);
    expect(calls(log)).toContain(`POST ${ISSUER}/register 201`);
    expect(log[0]!.status).toBe(401);

    const attempt = provider.attempts[0]!;
    expect(attempt.authorizationUrl.searchParams.get("resource")).toBe(URL_2X);
    expect(attempt.callback?.get("iss")).toBe(ISSUER);
    expect(browser.consentPages).toHaveLength(1);
    expect(browser.consentHtml[0]).toContain("SDK 2.x test client");
    await transport.finishAuth(attempt.callback!);
    expect(claimsOf(provider.tokens()!.access_token).aud).toEqual([URL_2X]);

    log.length = 0;
    await connect();
    expect((await client!.listTools()).tools.map((t) => t.name).sort()).toEqual(["add", "whoami"]);
    expect(textOf(await client!.callTool({ name: "whoami", arguments: {} }))).toBe("alice");
    // It spoke 2026-07-28: the routing headers went with each call, and the edge let the honest ones through.
    const call = log.find((r) => r.requestHeaders.get("mcp-method") === "tools/call")!;
    expect(call.requestHeaders.get("mcp-name")).toBe("whoami");
    expect(call.status).toBe(200);
    expect(server2x.requests.at(-1)!.headers["x-auth-user"]).toBe("alice");
  });

  test("per-tool scope: a tools/call of `add` without calc:write gets 403 with one challenge naming the scope it needs; other tools still answer", async () => {
    const policy = await deployment.api("POST", `/api/v1/proxy/targets/${HOST_2X}/mcp-policy`, { mcp_tool_scopes: { add: ["calc:write"] } });
    expect(policy.status).toBe(200);
    expect(policy.json.policy_scopes).toEqual(["calc:write"]);
    const bearer = { authorization: `Bearer ${provider.tokens()!.access_token}` };
    let refused!: Response;
    await within(5_000, "the policy at the edge", async () => (refused = await post(URL_2X, toolCall("add", { a: 1, b: 2 }), bearer)).status === 403);

    expect(refused.headers.get("www-authenticate")).toBe(
      `Bearer realm="${HOST_2X}", error="insufficient_scope", error_description="the tool 'add' needs the scope calc:write", ` +
        `resource_metadata="https://${HOST_2X}/.well-known/oauth-protected-resource/mcp", as_uri="${ISSUER}/.well-known/oauth-authorization-server", ` +
        `resource_uri="https://${HOST_2X}/.well-known/oauth-protected-resource/mcp", scope="calc:write"`,
    );
    expect(await refused.json()).toEqual({ error: "insufficient_scope", error_description: "the tool \"add\" needs the scope calc:write", scope: "calc:write" });
    // The authorization server offers the scope, so a client can ask for it.
    const metadata = await (await gatewayFetch(deployment.route)(`${ISSUER}/.well-known/oauth-authorization-server`)).json();
    expect((metadata as any).scopes_supported).toContain("calc:write");
    expect(textOf(await client!.callTool({ name: "whoami", arguments: {} }))).toBe("alice");
  });

  test("step-up: the SDK answers that 403 with a sign-in for calc:write on the same registration; the user approves the new scope and `add` answers", async () => {
    const signIns = provider.attempts.length;
    const consents = browser.consentPages.length;
    const clientId = (provider.clientInformation() as any).client_id;
    log.length = 0;
    const failure = await client!.callTool({ name: "add", arguments: { a: 20, b: 22 } }).then(() => null, (err: unknown) => err);
    expect(failure).toBeInstanceOf(UnauthorizedError2);
    expect(log.find((r) => r.status === 403)?.responseHeaders.get("www-authenticate")).toContain('error="insufficient_scope"');

    expect(provider.attempts.length).toBe(signIns + 1);
    const attempt = provider.attempts.at(-1)!;
    expect(attempt.authorizationUrl.searchParams.get("client_id")).toBe(clientId);
    expect(attempt.authorizationUrl.searchParams.get("scope")!.split(" ")).toContain("calc:write");
    expect(attempt.callback?.get("error")).toBeNull();
    expect(browser.consentPages.length).toBe(consents + 1);
    expect(browser.consentHtml.at(-1)).toContain("calc:write");
    expect(calls(log).filter((c) => c.includes("/register"))).toEqual([]);

    const transport = new Transport2(new URL(URL_2X), { authProvider: provider as any, fetch: gatewayFetch(deployment.route, log) });
    await transport.finishAuth(attempt.callback!);
    expect(claimsOf(provider.tokens()!.access_token).scope.split(" ")).toContain("calc:write");
    await connect();
    expect(textOf(await client!.callTool({ name: "add", arguments: { a: 20, b: 22 } }))).toBe("42");
  });

  test("Origin: a browser page on another site is refused with 403 before auth (no challenge, token or not); the proxy's own origin is let through", async () => {
    const token = provider.tokens()!.access_token;
    const ping = { jsonrpc: "2.0", id: 1, method: "ping" };
    const foreign: Record<string, string>[] = [{ origin: "https://evil.example" }, { origin: "https://evil.example", authorization: `Bearer ${token}` }, { origin: "null" }];
    for (const headers of foreign) {
      const res = await post(URL_2X, ping, headers);
      expect(res.status).toBe(403);
      expect(res.headers.get("www-authenticate")).toBeNull();
      expect(((await res.json()) as any).error.message).toContain("may not use this MCP server");
    }
    const own = await post(URL_2X, ping, { origin: `https://${HOST_2X}`, authorization: `Bearer ${token}` });
    expect(own.status).toBe(200);
  });

  test("refresh: with its access token refused (a forged signature), the SDK refreshes on the 401 and the call goes through", async () => {
    const before = provider.tokens()!;
    const [header, payload] = before.access_token.split(".");
    provider.replaceAccessToken(`${header}.${payload}.${Buffer.from("forged").toString("base64url")}`);
    log.length = 0;
    expect(textOf(await client!.callTool({ name: "add", arguments: { a: 1, b: 1 } }))).toBe("2");
    const refresh = log.find((r) => r.url === `${ISSUER}/token`)!;
    expect(refresh.status).toBe(200);
    expect(new URLSearchParams(refresh.requestBody ?? "").get("grant_type")).toBe("refresh_token");
    const after = provider.tokens()!;
    expect(after.refresh_token).not.toBe(before.refresh_token);
    // The stepped-up scope survives the refresh.
    expect(claimsOf(after.access_token).scope.split(" ")).toContain("calc:write");
  });

  test("rate limit: the third `add` in a second gets 429 with Retry-After and a JSON-RPC error the SDK shows; the next second it answers again", async () => {
    const policy = await deployment.api("POST", `/api/v1/proxy/targets/${HOST_2X}/mcp-policy`, { mcp_rate_limits: [{ tool: "add", per_second: 2 }] });
    expect(policy.json.mcp_rate_limits).toEqual([{ tool: "add", per_second: 2 }]);
    const bearer = { authorization: `Bearer ${provider.tokens()!.access_token}` };
    await within(5_000, "the limit at the edge", async () => {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(URL_2X, toolCall("add", { a: 1, b: 1 }), bearer)).status);
      return statuses.includes(429);
    });
    // A second's window: start right after one begins, so the three calls share it.
    const nextSecond = () => Bun.sleep(1000 - (Date.now() % 1000) + 20);
    await nextSecond();
    log.length = 0;
    expect(textOf(await client!.callTool({ name: "add", arguments: { a: 1, b: 2 } }))).toBe("3");
    expect(textOf(await client!.callTool({ name: "add", arguments: { a: 2, b: 2 } }))).toBe("4");
    const failure = await client!.callTool({ name: "add", arguments: { a: 3, b: 2 } }).then(() => null, (err: Error) => err);
    expect(failure?.message).toContain('"code":-32005');
    expect(failure?.message).toContain('Too many requests: the tool \\"add\\" allows 2 calls per second');
    const refused = log.filter((r) => r.status === 429);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.responseHeaders.get("retry-after")).toBe("1");
    expect(textOf(await client!.callTool({ name: "whoami", arguments: {} }))).toBe("alice");
    await nextSecond();
    expect(textOf(await client!.callTool({ name: "add", arguments: { a: 3, b: 2 } }))).toBe("5");
  });
});

describe("SDK 1.x (@modelcontextprotocol/sdk 1.32.2): a client metadata document as client_id", () => {
  const log: SeenRequest[] = [];
  let browser: TestBrowser;
  let provider: InMemoryOAuthProvider;
  let client: Client1 | undefined;
  let callback: LoopbackCallback;
  /** The gateway node the client's requests go to; the deployment's unless a test says otherwise. */
  let via: GatewayRoute | undefined;
  const newTransport = () => new Transport1(new URL(URL_1X), { authProvider: provider, fetch: (input, init) => gatewayFetch(via ?? deployment.route, log)(input, init) });

  beforeAll(async () => {
    callback = newCallback();
    documentServer = await startClientMetadataServer(deployment.clientSideCa, {
      client_name: "SDK 1.x document client",
      redirect_uris: [callback.url],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    });
    browser = new TestBrowser(gatewayFetch(deployment.route));
    provider = new InMemoryOAuthProvider(browser, callback, "SDK 1.x document client", documentServer.clientId);
  });
  afterAll(async () => {
    await client?.close().catch(() => {});
  });

  test("sign-in without registering: the client_id is the document's URL, the gateway fetches it, the consent page names the client and the host that publishes it", async () => {
    let transport = newTransport();
    client = new Client1({ name: "portcullis-e2e-sdk-1x", version: "1.32.2" });
    const failure = await client.connect(transport).then(() => null, (err: unknown) => err);
    expect((failure as Error)?.constructor?.name).toBe("UnauthorizedError");
    expect(calls(log).filter((c) => c.includes("/register"))).toEqual([]);
    const metadata = log.find((r) => r.url === `${ISSUER}/.well-known/oauth-authorization-server`)!;
    expect(metadata.status).toBe(200);

    const attempt = provider.attempts[0]!;
    expect(attempt.authorizationUrl.searchParams.get("client_id")).toBe(documentServer.clientId);
    expect(attempt.callback?.get("code")).toBeString();
    expect(documentServer.fetches()).toBeGreaterThanOrEqual(1);
    const consent = browser.consentHtml.at(-1)!;
    expect(consent).toContain("SDK 1.x document client");
    expect(consent).toContain(`identified by a document published at <strong>${new URL(documentServer.clientId).host}</strong>`);

    await transport.finishAuth(provider.latestCode());
    const claims = claimsOf(provider.tokens()!.access_token);
    expect(claims.client_id).toBe(documentServer.clientId);
    expect(claims.aud).toEqual([URL_1X]);

    transport = newTransport();
    client = new Client1({ name: "portcullis-e2e-sdk-1x", version: "1.32.2" });
    await client.connect(transport);
    expect(textOf(await client.callTool({ name: "add", arguments: { a: 2, b: 40 } }))).toBe("42");
    expect(textOf(await client.callTool({ name: "whoami", arguments: {} }))).toBe("alice");
    expect(server1x.requests.at(-1)!.headers["x-auth-client-id"]).toBe(documentServer.clientId);
  });

  test("refresh: a refused access token is refreshed with the document client's id and the call goes through", async () => {
    const before = provider.tokens()!;
    const [header, payload] = before.access_token.split(".");
    provider.replaceAccessToken(`${header}.${payload}.${Buffer.from("forged").toString("base64url")}`);
    log.length = 0;
    expect(textOf(await client!.callTool({ name: "add", arguments: { a: 3, b: 4 } }))).toBe("7");
    const refresh = log.find((r) => r.url === `${ISSUER}/token`)!;
    expect(refresh.status).toBe(200);
    expect(new URLSearchParams(refresh.requestBody ?? "").get("client_id")).toBe(documentServer.clientId);
    expect(provider.tokens()!.refresh_token).not.toBe(before.refresh_token);
  });

  test("a per-tool 403 is a dead end for SDK 1.x: it refreshes for the same scope, gets the 403 again and gives up without a new sign-in (docs/mcp.md: use SDK 2.x to step up)", async () => {
    expect((await deployment.api("POST", `/api/v1/proxy/targets/${HOST_1X}/mcp-policy`, { mcp_tool_scopes: { add: ["calc:write"] } })).status).toBe(200);
    const bearer = { authorization: `Bearer ${provider.tokens()!.access_token}` };
    await within(5_000, "the policy at the edge", async () => (await post(URL_1X, toolCall("add", { a: 1, b: 2 }), bearer)).status === 403);
    const signIns = provider.attempts.length;
    log.length = 0;
    const failure = await client!.callTool({ name: "add", arguments: { a: 1, b: 2 } }).then(() => null, (err: unknown) => err);
    expect(failure).toBeInstanceOf(Error);
    expect(log.filter((r) => r.url === URL_1X && r.status === 403).length).toBeGreaterThanOrEqual(1);
    expect(provider.attempts.length).toBe(signIns);
    // The session itself is unharmed: the other tools still answer.
    expect(textOf(await client!.callTool({ name: "whoami", arguments: {} }))).toBe("alice");
  });

  test("session continuity: after HOST_1X's target_url moves to a second server, this client's session keeps reaching the first through either of two gateway processes (separate data dirs, one Redis); a new session goes to the second", async () => {
    const transport = client!.transport as Transport1;
    const shown = transport.sessionId!;
    const serverIds = new Set(server1x.sessions.keys());
    expect([...serverIds].some((id) => id === shown)).toBe(false);
    const server1xB = await startMcpServer();
    const nodeB = await startGatewayProcess({ dataDir: tempDataDir(), env: { ...deployment.gateway.env, PORTCULLIS_DATA_DIR: tempDataDir() } });
    try {
      await nodeB.waitForHealthy(30_000);
      const routeB: GatewayRoute = { ...deployment.route, httpsPort: nodeB.httpsPort };
      const fingerprint = (await peerCertificate(deployment.gateway.httpsPort, HOST_1X)).fingerprint256;
      await within(15_000, "node B serving the certificate", async () => (await peerCertificate(nodeB.httpsPort, HOST_1X)).fingerprint256 === fingerprint);
      expect((await deployment.api("PUT", `/api/v1/proxy/targets/${HOST_1X}`, { target_url: server1xB.url })).status).toBe(200);
      const bearer = { authorization: `Bearer ${provider.tokens()!.access_token}` };
      for (const [route, path] of [[deployment.route, "/moved-a"], [routeB, "/moved-b"]] as const) {
        await within(10_000, `the switch on ${path}`, async () => {
          const res = await gatewayFetch(route)(`https://${HOST_1X}${path}`, { headers: bearer });
          await res.body?.cancel();
          return server1xB.requests.some((r) => r.path === path);
        });
      }

      const sessionCalls = () => server1x.requests.filter((r) => r.method === "POST" && serverIds.has(String(r.headers["mcp-session-id"]))).length;
      const before = sessionCalls();
      via = routeB;
      expect(textOf(await client!.callTool({ name: "whoami", arguments: {} }))).toBe("alice");
      via = deployment.route;
      expect(textOf(await client!.callTool({ name: "whoami", arguments: {} }))).toBe("alice");
      expect(sessionCalls()).toBe(before + 2);
      expect(transport.sessionId).toBe(shown);
      expect(server1xB.requests.some((r) => r.method === "POST" && serverIds.has(String(r.headers["mcp-session-id"])))).toBe(false);

      via = routeB;
      const fresh = new Client1({ name: "portcullis-e2e-sdk-1x-new", version: "1.32.2" });
      await fresh.connect(newTransport());
      expect(textOf(await fresh.callTool({ name: "whoami", arguments: {} }))).toBe("alice");
      expect(server1xB.sessions.size).toBe(1);
      await fresh.close();
    } finally {
      via = undefined;
      await deployment.api("PUT", `/api/v1/proxy/targets/${HOST_1X}`, { target_url: server1x.url });
      await server1xB.stop();
      await nodeB.stop();
    }
  });
});
