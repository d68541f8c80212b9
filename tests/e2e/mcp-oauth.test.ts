/**
 * A real MCP client logs in to a real MCP server behind Portcullis.
 *
 * - Backend: a Streamable-HTTP MCP server made with the MCP SDK, on plain
 *   HTTP, knowing nothing about OAuth (tests/helpers/mcp-server.ts).
 * - Gateway: in this process, GitHub sign-in against the local
 *   GitHub-speaking server, `mcp.example.test` → the backend over HTTPS with
 *   a certificate for it and `auth.example.test` made through the
 *   certificates API, then exactly the spec's three steps "to ensure MCP
 *   compliance for any proxy": resource metadata, auth on, check the
 *   metadata URL.
 * - Client: the MCP SDK's `Client` and `StreamableHTTPClientTransport` with
 *   an in-memory `OAuthClientProvider` whose browser follows the sign-in
 *   (tests/helpers/mcp-client.ts). Its fetch only resolves *.example.test to
 *   the gateway and trusts the certificate; whatever the SDK sends is sent.
 *
 * The client discovers everything from the 401, registers, signs in, calls
 * tools, refreshes, and is refused after the session is revoked.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client as Client2, StreamableHTTPClientTransport as StreamableHTTPClientTransport2, UnauthorizedError as UnauthorizedError2 } from "@modelcontextprotocol/client";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { servedEverywhere, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { gatewayFetch, InMemoryOAuthProvider, LoopbackCallback, TestBrowser, type GatewayRoute, type SeenRequest } from "../helpers/mcp-client";
import { startMcpServer, type TestMcpServer } from "../helpers/mcp-server";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const MCP_HOST = "mcp.example.test";
const AUTH_HOST = "auth.example.test";
const MCP_URL = `https://${MCP_HOST}/mcp`;
const ISSUER = `https://${AUTH_HOST}`;
const CERT_NAME = "mcp-example-test";

let redis: TestRedis;
let github: GitHubTestServer;
let mcp: TestMcpServer;
let gw: TestGateway;
let route: GatewayRoute;
let callback: LoopbackCallback;

/** Everything the MCP client sent and got, in order (the browser's loads are in `browser.visited`). */
const sdkLog: SeenRequest[] = [];
let browser: TestBrowser;
let provider: InMemoryOAuthProvider;
let client: Client | undefined;
let transport: StreamableHTTPClientTransport | undefined;

const newTransport = () => new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: gatewayFetch(route, sdkLog) });
const newClient = () => new Client({ name: "portcullis-e2e", version: "1.0.0" });

/** The claims of a JWT, unverified (the gateway verified it; the test only reads). */
function claimsOf(jwt: string): Record<string, any> {
  return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8"));
}

async function until<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${String(last)})` : ""}`);
    await Bun.sleep(20);
  }
}

/** The text of a tool result's first content item. */
function textOf(result: Awaited<ReturnType<Client["callTool"]>>): string {
  const first = (result.content as Array<{ type: string; text?: string }>)[0];
  return first?.type === "text" ? first.text ?? "" : "";
}

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.addApp("portcullis-github-app", "github-app-secret");
  github.setUser({ id: 4242, login: "alice", name: "Alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
  mcp = await startMcpServer();
  callback = new LoopbackCallback();
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    GITHUB_CLIENT_ID: "portcullis-github-app",
    GITHUB_CLIENT_SECRET: "github-app-secret",
    GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
    GITHUB_API_BASE_URL: github.apiBaseUrl,
    OAUTH_ALLOWED_GITHUB_USERS: "alice",
  });

  // A certificate for both names, made through the API (it takes no uploads: a self-signed one, which the client trusts).
  const cert = await gw.api("POST", "/api/v1/certificates/multi-domain", { cert_name: CERT_NAME, domains: [MCP_HOST, AUTH_HOST], acme: false });
  expect(cert.status).toBe(201);
  const chain = (await gw.api("GET", `/api/v1/certificates/${CERT_NAME}`)).json.fullchain_pem as string;
  route = { domainSuffix: ".example.test", httpsPort: gw.gateway.httpsPort, ca: chain };
  const fingerprint = new X509Certificate(chain).fingerprint256;

  const proxy = await gw.api("POST", "/api/v1/proxy/targets", { hostname: MCP_HOST, target_url: mcp.url, enable_https: true, cert_name: CERT_NAME });
  expect(proxy.status).toBe(201);
  // A certificate change reaches every new connection once the previous TLS server has drained.
  for (const name of [MCP_HOST, AUTH_HOST]) await servedEverywhere([gw], name, fingerprint, 5_000);

  browser = new TestBrowser(gatewayFetch(route));
  provider = new InMemoryOAuthProvider(browser, callback);
});

afterAll(async () => {
  await client?.close().catch(() => {});
  await gw?.stop();
  await mcp?.stop();
  callback?.stop();
  await github?.stop();
  await redis?.stop();
});

describe("an MCP server behind Portcullis, set up with the spec's three steps", () => {
  test("1. protected resource metadata: POST /api/v1/proxy/targets/{host}/resource", async () => {
    const res = await gw.api("POST", `/api/v1/proxy/targets/${MCP_HOST}/resource`, { resource_endpoint: "/mcp", resource_scopes: ["mcp:read", "mcp:write"] });
    expect(res.status).toBe(200);
    expect(res.json.resource).toBe(MCP_URL);
    expect(res.json.metadata_url).toBe(`https://${MCP_HOST}/.well-known/oauth-protected-resource/mcp`);
  });

  test("2. auth on, forward mode: POST /api/v1/proxy/targets/{host}/auth", async () => {
    const res = await gw.api("POST", `/api/v1/proxy/targets/${MCP_HOST}/auth`, { auth_enabled: true, auth_mode: "forward" });
    expect(res.status).toBe(200);
    expect(res.json.auth_proxy).toBe(AUTH_HOST);
    expect(res.json.effective_users).toEqual(["alice"]);
  });

  test("3. the metadata answers over HTTPS at the path-aware and the root URL", async () => {
    const fetchVia = gatewayFetch(route);
    for (const url of [`https://${MCP_HOST}/.well-known/oauth-protected-resource/mcp`, `https://${MCP_HOST}/.well-known/oauth-protected-resource`]) {
      const doc = await until(`metadata at ${url}`, async () => {
        const res = await fetchVia(url, { redirect: "manual" });
        return res.status === 200 ? ((await res.json()) as Record<string, any>) : undefined;
      });
      expect(doc.resource).toBe(MCP_URL);
      expect(doc.authorization_servers).toEqual([ISSUER]);
      expect(doc.scopes_supported).toEqual(["mcp:read", "mcp:write"]);
    }
    // The edge applies the new auth policy too.
    await until("auth on at the edge", async () => ((await fetchVia(MCP_URL, { method: "POST" })).status === 401 ? true : undefined));
  });
});

describe("the MCP SDK client", () => {
  test("connect: 401 → metadata → registration → sign-in in the browser; no request reaches the MCP endpoint", async () => {
    sdkLog.length = 0;
    transport = newTransport();
    client = newClient();
    const failure = await client.connect(transport).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(UnauthorizedError);

    // What the SDK did, from the wire.
    const first = sdkLog[0]!;
    expect(`${first.method} ${first.url} ${first.status}`).toBe(`POST ${MCP_URL} 401`);
    const challenge = first.responseHeaders.get("www-authenticate")!;
    expect(challenge).toStartWith("Bearer ");
    expect(challenge).toContain(`resource_metadata="https://${MCP_HOST}/.well-known/oauth-protected-resource/mcp"`);
    expect(challenge).not.toContain("error=");
    const calls = sdkLog.map((r) => `${r.method} ${r.url} ${r.status}`);
    expect(calls).toContain(`GET https://${MCP_HOST}/.well-known/oauth-protected-resource/mcp 200`);
    expect(calls).toContain(`GET ${ISSUER}/.well-known/oauth-authorization-server 200`);
    expect(calls).toContain(`POST ${ISSUER}/register 201`);

    // Dynamic registration: a public client with the loopback redirect URI.
    const registered = provider.clientInformation() as Record<string, any>;
    expect(registered.client_id).toBeString();
    expect(registered.client_secret).toBeUndefined();
    expect(registered.token_endpoint_auth_method).toBe("none");
    expect(registered.redirect_uris).toEqual([callback.url]);

    // The authorization request the SDK built, and the browser's way through GitHub and back.
    const attempt = provider.attempts[0]!;
    expect(attempt.authorizationUrl.origin + attempt.authorizationUrl.pathname).toBe(`${ISSUER}/authorize`);
    const query = attempt.authorizationUrl.searchParams;
    expect(query.get("resource")).toBe(MCP_URL);
    expect(query.get("code_challenge_method")).toBe("S256");
    expect(query.get("scope")).toBe("mcp:read mcp:write");
    expect(query.get("client_id")).toBe(registered.client_id);
    expect(browser.visited.some((u) => u.startsWith(`${github.oauthBaseUrl}/login/oauth/authorize?`))).toBe(true);
    expect(browser.visited.some((u) => u.startsWith(`${ISSUER}/callback?`))).toBe(true);
    // The sign-in binding cookie set by /authorize went back to /callback.
    const binding = browser.cookieLog.find((c) => c.set?.startsWith("portcullis_login_") && c.url.startsWith(`${ISSUER}/authorize`));
    expect(binding).toBeDefined();
    const bindingName = binding!.set!.split("=")[0]!;
    expect(browser.cookieLog.some((c) => c.url.startsWith(`${ISSUER}/callback?`) && c.sent?.includes(bindingName))).toBe(true);
    expect(attempt.callback?.get("code")).toBeString();
    expect(attempt.callback?.get("state")).toBe(query.get("state"));
    expect(attempt.callback?.get("iss")).toBe(ISSUER);

    expect(mcp.requests.filter((r) => r.path === "/mcp")).toEqual([]);
  });

  test("finishAuth exchanges the code for a token whose aud is the MCP server's URL", async () => {
    await transport!.finishAuth(provider.latestCode());
    const tokens = provider.tokens()!;
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.refresh_token).toBeString();
    const claims = claimsOf(tokens.access_token);
    expect(claims.aud).toEqual([MCP_URL]);
    expect(claims.iss).toBe(ISSUER);
    expect(claims.login).toBe("alice");
    expect(claims.sub).toBe("github-4242");
    expect(claims.client_id).toBe((provider.clientInformation() as any).client_id);
    expect(claims.scope.split(" ").sort()).toEqual(["mcp:read", "mcp:write"]);
  });

  test("connected: listTools and callTool work; the backend sees the user, never the token", async () => {
    await client!.close();
    transport = newTransport();
    client = newClient();
    await client.connect(transport);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name).sort()).toEqual(["add", "whoami"]);
    expect(textOf(await client.callTool({ name: "add", arguments: { a: 2, b: 40 } }))).toBe("42");
    expect(textOf(await client.callTool({ name: "whoami", arguments: {} }))).toBe("alice");

    const seen = mcp.requests.filter((r) => r.path === "/mcp");
    expect(seen.length).toBeGreaterThanOrEqual(4); // initialize, initialized, tools/list, 2 × tools/call (and the SSE GET)
    for (const request of seen) {
      expect(request.headers.authorization).toBeUndefined();
      expect(request.headers["x-auth-user-name"]).toBe("alice");
      expect(request.headers["x-auth-client-id"]).toBe((provider.clientInformation() as any).client_id);
      expect(request.headers["x-auth-user-id"]).toBe("github-4242");
      expect(request.headers["x-auth-email"]).toBe("alice@example.test");
      expect(request.headers["x-auth-scopes"]).toBe("mcp:read mcp:write");
    }
  });

  test("refresh: with its access token no longer accepted, the SDK refreshes on the 401 and the call goes through", async () => {
    const before = provider.tokens()!;
    // A token the edge cannot accept (a forged signature), with the real refresh token.
    const [header, payload] = before.access_token.split(".");
    provider.replaceAccessToken(`${header}.${payload}.${Buffer.from("not the signature").toString("base64url")}`);
    sdkLog.length = 0;

    expect(textOf(await client!.callTool({ name: "add", arguments: { a: 1, b: 1 } }))).toBe("2");

    const rejected = sdkLog.find((r) => r.url === MCP_URL && r.status === 401)!;
    expect(rejected.responseHeaders.get("www-authenticate")).toContain('error="invalid_token"');
    const refresh = sdkLog.find((r) => r.url === `${ISSUER}/token`)!;
    expect(refresh.status).toBe(200);
    expect(new URLSearchParams(refresh.requestBody ?? "").get("grant_type")).toBe("refresh_token");
    expect(new URLSearchParams(refresh.requestBody ?? "").get("resource")).toBe(MCP_URL);

    const after = provider.tokens()!;
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).toBeString();
    expect(after.refresh_token).not.toBe(before.refresh_token); // rotated
    expect(claimsOf(after.access_token).aud).toEqual([MCP_URL]);
    expect(claimsOf(after.access_token).jti).not.toBe(claimsOf(before.access_token).jti);
    expect(sdkLog.at(-1)!.status).toBe(200);
  });

  test("revocation: the admin ends the session; the token is refused within a second, the refresh too, and the SDK asks the user to sign in again", async () => {
    const clientId = (provider.clientInformation() as any).client_id;
    const sessions = await gw.api("GET", "/api/v1/oauth/sessions");
    expect(sessions.status).toBe(200);
    const session = (sessions.json as any[]).find((s) => s.client_id === clientId);
    expect(session).toBeDefined();
    expect(session.username).toBe("alice");
    expect(session.resources).toEqual([MCP_URL]);

    // The current access token, presented as the SDK presents it: accepted now, refused within a second of the revocation.
    const accessToken = provider.tokens()!.access_token;
    const fetchVia = gatewayFetch(route);
    const probe = async () => {
      const res = await fetchVia(MCP_URL, {
        method: "POST",
        headers: {
          authorization: `Bearer ${accessToken}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-session-id": transport!.sessionId!,
          "mcp-protocol-version": transport!.protocolVersion!,
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: "probe", method: "ping" }),
      });
      await res.body?.cancel();
      return res;
    };
    expect((await probe()).status).toBe(200);

    const revoked = await gw.api("DELETE", `/api/v1/oauth/sessions/${session.session_id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.json.access_tokens_revoked).toContain(claimsOf(accessToken).jti);
    const started = performance.now();
    const refused = await until(
      "the revoked token refused",
      async () => {
        const res = await probe();
        return res.status === 401 ? res : undefined;
      },
      1_000,
    );
    const refusedAfterMs = performance.now() - started;
    expect(refusedAfterMs).toBeLessThan(1_000);
    expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token", error_description="token revoked"');

    // The SDK: 401 → refresh → invalid_grant → drops its tokens → starts a new sign-in → UnauthorizedError.
    sdkLog.length = 0;
    const signInsBefore = provider.attempts.length;
    const failure = await client!.callTool({ name: "add", arguments: { a: 3, b: 4 } }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(UnauthorizedError);
    expect(`${sdkLog[0]!.method} ${sdkLog[0]!.url} ${sdkLog[0]!.status}`).toBe(`POST ${MCP_URL} 401`);
    const refresh = sdkLog.find((r) => r.url === `${ISSUER}/token`)!;
    expect(refresh.status).toBe(400);
    expect(new URLSearchParams(refresh.requestBody ?? "").get("grant_type")).toBe("refresh_token");
    expect(provider.invalidated).toContain("tokens");
    expect(provider.tokens()).toBeUndefined();
    expect(provider.attempts.length).toBe(signInsBefore + 1);
  });

  test("after signing in again, the same client works with a new session", async () => {
    await transport!.finishAuth(provider.latestCode());
    await client!.close();
    transport = newTransport();
    client = newClient();
    await client.connect(transport);
    expect(textOf(await client.callTool({ name: "add", arguments: { a: 3, b: 4 } }))).toBe("7");
    // Registered once: the client information survived the revocation.
    expect(sdkLog.filter((r) => r.url === `${ISSUER}/register`)).toEqual([]);
  });

  // SDK 1.x answers a 403 insufficient_scope with a refresh (same scope) and gives up; SDK 2.x signs in again for the union of scopes.
  test("step-up with SDK 2.x: once the proxy requires mcp:admin, the 403 insufficient_scope leads to a sign-in asking for it with the same registration, approved on the consent page, and the call goes through", async () => {
    const clientId = (provider.clientInformation() as any).client_id;
    expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP_HOST}/auth`, { auth_allowed_scopes: ["mcp:admin"] })).status).toBe(200);
    const held = provider.tokens()!.access_token;
    await until("the edge requires mcp:admin", async () => {
      const res = await gatewayFetch(route)(MCP_URL, { method: "POST", headers: { authorization: `Bearer ${held}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
      return res.status === 403 ? true : undefined;
    });
    sdkLog.length = 0;
    const signInsBefore = provider.attempts.length;
    const consentPagesBefore = browser.consentPages.length;
    await client!.close();
    const newTransport2 = () => new StreamableHTTPClientTransport2(new URL(MCP_URL), { authProvider: provider as any, fetch: gatewayFetch(route, sdkLog) });
    let transport2 = newTransport2();
    let client2 = new Client2({ name: "portcullis-e2e-2x", version: "1.0.0" });
    const failure = await client2.connect(transport2).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(UnauthorizedError2);
    const refused = sdkLog.find((r) => r.status === 403)!;
    expect(refused.responseHeaders.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect(provider.attempts.length).toBe(signInsBefore + 1);
    const attempt = provider.attempts.at(-1)!;
    expect(attempt.authorizationUrl.searchParams.get("client_id")).toBe(clientId);
    expect(attempt.authorizationUrl.searchParams.get("scope")!.split(" ")).toContain("mcp:admin");
    // Not refused with invalid_scope: the code came back, after the user approved the new scope.
    expect(attempt.callback?.get("error")).toBeNull();
    expect(browser.consentPages.length).toBe(consentPagesBefore + 1);
    expect(sdkLog.filter((r) => r.url === `${ISSUER}/register`)).toEqual([]);

    // SDK 2.x checks the callback's iss (RFC 9207), which the metadata says is always sent.
    await transport2.finishAuth(attempt.callback!);
    expect(claimsOf(provider.tokens()!.access_token).scope.split(" ")).toContain("mcp:admin");
    transport2 = newTransport2();
    client2 = new Client2({ name: "portcullis-e2e-2x", version: "1.0.0" });
    await client2.connect(transport2);
    const result = await client2.callTool({ name: "add", arguments: { a: 20, b: 22 } });
    expect((result.content as Array<{ text?: string }>)[0]?.text).toBe("42");
    await client2.close();
    expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP_HOST}/auth`, { auth_allowed_scopes: null })).status).toBe(200);
  });
});
