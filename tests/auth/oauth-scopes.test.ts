/**
 * Scopes through a real gateway: a client's registration does not cap a
 * later step-up to a scope its resource needs (401 → sign-in → 403
 * insufficient_scope → sign-in again → call), operators' own scopes are
 * offered, registered, granted and required, and a scope nobody configured
 * stays refused. Sign-ins go through /authorize → the local GitHub →
 * /callback (→ consent) → /token, as a browser and a client would.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gitHubSignInSettings, startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { AUTH_HOST, authorizePath, edgeRequest, followLogin, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const MCP = "mcp.example.test";
const FILES = "files.example.test";
const MCP_RESOURCE = `https://${MCP}/mcp`;
const FILES_RESOURCE = `https://${FILES}`;
const REDIRECT = "http://127.0.0.1:7777/callback";

let redis: TestRedis;
let github: GitHubTestServer;
let gw: TestGateway;
let backend: ReturnType<typeof namedBackend>;

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.setUser({ id: 7, login: "alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    ...gitHubSignInSettings(github),
    OAUTH_ALLOWED_GITHUB_USERS: "alice",
  });
  backend = namedBackend("mcp");
  for (const hostname of [MCP, FILES]) {
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname, target_url: `http://127.0.0.1:${backend.port}`, enable_https: true })).status).toBe(201);
    expect((await gw.api("POST", `/api/v1/proxy/targets/${hostname}/auth`, { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  }
  expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP}/resource`, { resource_endpoint: "/mcp", resource_scopes: ["mcp:read", "mcp:write"], resource_override_backend: true })).status).toBe(200);
  // An operator's own scopes: before, any scope but mcp:* was a 422 here.
  const files = await gw.api("POST", `/api/v1/proxy/targets/${FILES}/resource`, { resource_scopes: ["files:read", "files:write"], resource_override_backend: true });
  expect([files.status, files.json.resource_scopes]).toEqual([200, ["files:read", "files:write"]]);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${FILES}/auth`, { auth_allowed_scopes: ["files:read"] })).status).toBe(200);
  await untilOffered("files:write");
});

afterAll(async () => {
  await gw?.stop();
  backend?.stop(true);
  await github?.stop();
  await redis?.stop();
});

async function metadataScopes(): Promise<string[]> {
  const doc = (await (await edgeRequest(gw, AUTH_HOST, "/.well-known/oauth-authorization-server")).json()) as { scopes_supported: string[] };
  return doc.scopes_supported;
}

/** Configuration reaches the edge's tables (and so the authorization server's scopes) by event. */
async function untilOffered(scope: string, offered = true): Promise<void> {
  const deadline = Date.now() + 3_000;
  while ((await metadataScopes()).includes(scope) !== offered) {
    if (Date.now() > deadline) throw new Error(`${scope} ${offered ? "never offered" : "still offered"}`);
    await Bun.sleep(25);
  }
}

/** A request to a protected resource over HTTPS, as clients make them. */
const call = (host: string, path: string, token: string) =>
  fetch(`https://127.0.0.1:${gw.gateway.httpsPort}${path}`, {
    headers: { host, authorization: `Bearer ${token}` },
    tls: { rejectUnauthorized: false },
  } as RequestInit);

/** Sign-in to the client's redirect URI; the query it gets (code, or error). */
async function signIn(clientId: string, scope: string, resource: string): Promise<{ query: URLSearchParams; verifier: string }> {
  const pkce = pkcePair();
  const path = authorizePath({ client_id: clientId, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", state: "s", scope, resource: [resource] });
  const { final, response } = await followLogin(gw, path, AUTH_HOST, REDIRECT);
  if (!final) throw new Error(`sign-in stopped at ${response.status}: ${await response.text()}`);
  return { query: final.searchParams, verifier: pkce.verifier };
}

async function accessToken(clientId: string, scope: string, resource: string): Promise<{ token: string; scope: string }> {
  const { query, verifier } = await signIn(clientId, scope, resource);
  expect(query.get("error_description")).toBeNull();
  const res = await tokenRequest(gw, { grant_type: "authorization_code", client_id: clientId, code: query.get("code")!, code_verifier: verifier, redirect_uri: REDIRECT });
  expect(res.status).toBe(200);
  return { token: res.body.access_token, scope: res.body.scope };
}

describe("step-up", () => {
  test("a client registered with mcp:read mcp:write gets mcp:admin once its resource requires it", async () => {
    const client = await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", scope: "mcp:read mcp:write" });
    expect(client.scope).toBe("mcp:read mcp:write");
    const first = await accessToken(client.client_id, "mcp:read mcp:write", MCP_RESOURCE);
    expect((await call(MCP, "/mcp", first.token)).status).toBe(200);

    // The operator now requires mcp:admin: the signed-in client gets the step-up challenge.
    expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP}/auth`, { auth_allowed_scopes: ["mcp:admin"] })).status).toBe(200);
    let refused: Response;
    const deadline = Date.now() + 3_000;
    while ((refused = await call(MCP, "/mcp", first.token)).status !== 403) {
      if (Date.now() > deadline) throw new Error("the new requirement never reached the edge");
      await Bun.sleep(25);
    }
    const challenge = refused.headers.get("www-authenticate")!;
    expect(challenge).toContain('error="insufficient_scope"');
    const needed = /scope="([^"]*)"/.exec(challenge)![1]!;
    expect(needed.split(" ")).toContain("mcp:admin");

    // The client signs in again asking for what the challenge named, with the same registration.
    const stepped = await accessToken(client.client_id, [...new Set(["mcp:read", "mcp:write", ...needed.split(" ")])].join(" "), MCP_RESOURCE);
    expect(stepped.scope.split(" ").sort()).toEqual(["mcp:admin", "mcp:read", "mcp:write"]);
    const res = await call(MCP, "/mcp", stepped.token);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).backend).toBe("mcp");
    expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP}/auth`, { auth_allowed_scopes: null })).status).toBe(200);
  });

  test("a scope the requested resource does not use and the client did not register stays refused", async () => {
    const client = await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", scope: "mcp:read" });
    // files:read is offered (another proxy uses it), but not by the MCP resource this sign-in is for.
    const { query } = await signIn(client.client_id, "mcp:read files:read", MCP_RESOURCE);
    expect(query.get("error")).toBe("invalid_scope");
    expect(query.get("error_description")).toContain("files:read");
    expect(query.get("code")).toBeNull();
  });
});

describe("an operator's own scopes", () => {
  test("are offered in the metadata beside the MCP scopes, and leave it when no longer configured", async () => {
    const offered = await metadataScopes();
    expect(offered.slice(0, 3)).toEqual(["mcp:read", "mcp:write", "mcp:admin"]);
    expect(offered).toContain("files:read");
    expect(offered).toContain("files:write");
    await gw.api("POST", `/api/v1/proxy/targets/${FILES}/resource`, { resource_scopes: ["files:read", "files:write", "files:audit"] });
    await untilOffered("files:audit");
    await gw.api("POST", `/api/v1/proxy/targets/${FILES}/resource`, { resource_scopes: ["files:read", "files:write"] });
    await untilOffered("files:audit", false);
  });

  test("an MCP endpoint's per-tool scopes are offered too, and granted for its resource", async () => {
    const policy = await gw.api("POST", `/api/v1/proxy/targets/${MCP}/mcp-policy`, { mcp_tool_scopes: { "delete_*": ["files:purge"] } });
    expect(policy.status).toBe(200);
    await untilOffered("files:purge");
    const client = await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", scope: "mcp:read" });
    const { scope } = await accessToken(client.client_id, "mcp:read files:purge", MCP_RESOURCE);
    expect(scope).toBe("mcp:read files:purge");
    expect((await gw.api("POST", `/api/v1/proxy/targets/${MCP}/mcp-policy`, { mcp_tool_scopes: null })).status).toBe(200);
  });

  test("are registered, granted, and let the token through the proxy that requires them", async () => {
    const client = await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", scope: "files:read files:write" });
    expect(client.scope).toBe("files:read files:write");
    const { token, scope } = await accessToken(client.client_id, "files:read", FILES_RESOURCE);
    expect(scope).toBe("files:read");
    expect((await call(FILES, "/", token)).status).toBe(200);
    // The MCP proxy's audience is another one: the scope alone opens nothing there.
    expect((await call(MCP, "/mcp", token)).status).toBe(401);
  });

  test("a client that registered only MCP scopes can ask for the scopes of the resource it signs in to", async () => {
    const client = await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" });
    expect(client.scope).toBe("mcp:read mcp:write mcp:admin");
    const { scope } = await accessToken(client.client_id, "files:read", FILES_RESOURCE);
    expect(scope).toBe("files:read");
  });

  test("a scope nobody configured: refused at registration and at /authorize", async () => {
    const refused = await edgeRequest(gw, AUTH_HOST, "/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", scope: "files:read nobody:knows" }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as any).error).toBe("invalid_client_metadata");
    const client = await register(gw, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" });
    const { query } = await signIn(client.client_id, "files:read nobody:knows", FILES_RESOURCE);
    expect(query.get("error")).toBe("invalid_scope");
    expect(query.get("error_description")).toContain('"nobody:knows" is not supported');
  });
});
