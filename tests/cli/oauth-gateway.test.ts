/**
 * `portcullis oauth …` and `portcullis proxy oauth-server-…|github-oauth-…`
 * against a real gateway (in this process, on real ports, with a private
 * Redis): what each command prints, and that what it set up works at the
 * edge — the routes reach the authorization server, a registered secret
 * authenticates at /token, a test token verifies against the published JWKS.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from "jose";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { EMPTY_GITHUB_OAUTH_HINT } from "../../src/cli/commands/oauth-proxy";
import { EMPTY_CLIENTS_HINT } from "../../src/cli/commands/oauth-output";
import { GATEWAY_ADMIN, namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { ROOT } from "../helpers/gateway-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { cliSession, runProgram as runCli, type ProgramRun } from "../helpers/cli-program";

const HOME = tempDir("home");
const DOMAIN = "example.test";
const AUTH_HOST = `auth.${DOMAIN}`;
const APP_HOST = `app.${DOMAIN}`;
const MCP_HOST = `mcp.${DOMAIN}`;

type Run = ProgramRun;
const runProgram = (apiUrl: string, token: string | undefined, args: string[]): Promise<Run> => runCli(apiUrl, token, args, HOME);

/** The CLI as a separate process (`bun src/main.ts`), for what needs a real stdin. */
async function runProcess(apiUrl: string, args: string[], stdin: string): Promise<Run> {
  const child = Bun.spawn(["bun", join(ROOT, "src/main.ts"), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME, API_URL: apiUrl, TOKEN: GATEWAY_ADMIN, PORTCULLIS_DATA_DIR: "/nonexistent" },
    stdin: new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

let redis: TestRedis;
let gateway: TestGateway;
let apiUrl: string;
let backend: ReturnType<typeof namedBackend>;
const { cli, ok, json } = cliSession(() => apiUrl, GATEWAY_ADMIN, HOME);
/** Runs a command that must fail; returns its stderr. */
const failing = async (...args: string[]) => {
  const run = await cli(...args);
  expect({ args, code: run.code }).toEqual({ args, code: 1 });
  return run.stderr;
};

/** POST /token at the edge for `host`, with HTTP Basic client authentication and a code nobody issued. */
const tokenRequest = (host: string, clientId: string, secret: string) =>
  gateway.get(host, "/token", {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code: "never-issued", redirect_uri: "https://client.example.test/cb", code_verifier: "x".repeat(43) }),
  });

beforeAll(async () => {
  redis = await startTestRedis();
  backend = namedBackend("app");
  gateway = await startTestGateway(redis, {
    BASE_DOMAIN: DOMAIN,
    GITHUB_CLIENT_ID: "gh-default-app",
    GITHUB_CLIENT_SECRET: "gh-default-secret",
    // Nothing here logs in; a closed port makes sure nothing could reach github.com.
    GITHUB_OAUTH_BASE_URL: "http://127.0.0.1:1",
    GITHUB_API_BASE_URL: "http://127.0.0.1:1",
  });
  apiUrl = `http://127.0.0.1:${gateway.gateway.apiPort}`;
  const target = `http://127.0.0.1:${backend.port}`;
  for (const hostname of [APP_HOST, MCP_HOST]) {
    expect((await gateway.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: target, enable_https: false })).status).toBe(201);
  }
});
afterAll(async () => {
  await gateway?.stop();
  await redis?.stop();
  backend?.stop(true);
});

describe("oauth routes-setup", () => {
  test("before: a proxy's /token goes to its backend", async () => {
    expect(await (await gateway.get(APP_HOST, "/token")).json()).toMatchObject({ backend: "app", path: "/token" });
  });

  test("creates the nine global routes to auth.<domain> at priority 95, and they reach the authorization server", async () => {
    const rows = await json("oauth", "routes-setup", DOMAIN);
    expect(rows.map((r: { status: string }) => r.status)).toEqual(Array(9).fill("created"));
    const routes = (await gateway.api("GET", "/api/v1/routes/")).json as { route_id: string; path_pattern: string; target_type: string; target_value: string; priority: number; scope: string }[];
    expect(routes.map((r) => r.path_pattern).sort()).toEqual(
      ["/.well-known/oauth-authorization-server", "/authorize", "/callback", "/introspect", "/jwks", "/register", "/revoke", "/token", "/verify"].sort(),
    );
    for (const r of routes) expect(r).toMatchObject({ target_type: "hostname", target_value: AUTH_HOST, priority: 95, scope: "global" });
    expect(routes.find((r) => r.path_pattern === "/token")?.route_id).toBe("oauth-token");

    // On any proxy, the OAuth paths now answer from the authorization server.
    const metadata = await gateway.get(APP_HOST, "/.well-known/oauth-authorization-server");
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({ token_endpoint: expect.stringMatching(/\/token$/), code_challenge_methods_supported: ["S256"] });
    const jwks = (await (await gateway.get(APP_HOST, "/jwks")).json()) as JSONWebKeySet;
    expect(jwks.keys.length).toBeGreaterThan(0);
    // Other paths still reach the backend.
    expect(await (await gateway.get(APP_HOST, "/api/x")).json()).toMatchObject({ backend: "app", path: "/api/x" });
  });

  test("run again: nothing new, every route reported present (table with its summary)", async () => {
    const table = await ok("oauth", "routes-setup", DOMAIN);
    expect(table).toMatch(/│ \/token\s+│ present\s+│ oauth-token\s+│ hostname:auth\.example\.test\s+│/);
    expect(table.trimEnd().split("\n").at(-1)).toBe("OAuth routes to auth.example.test at priority 95: 0 created, 9 already present.");
    expect((await gateway.api("GET", "/api/v1/routes/")).json).toHaveLength(9);
  });

  test("a path held at priority 95 by another route: reported, the rest kept, exit 1; a disabled one says how to enable it", async () => {
    expect((await gateway.api("DELETE", "/api/v1/routes/oauth-jwks")).status).toBe(200);
    const other = await gateway.api("POST", "/api/v1/routes/", { route_id: "my-jwks", path_pattern: "/jwks", target_type: "url", target_value: "http://127.0.0.1:1", priority: 95 });
    expect(other.status).toBe(201);
    expect((await gateway.api("PUT", "/api/v1/routes/oauth-revoke", { enabled: false })).status).toBe(200);

    const run = await cli("--format", "json", "oauth", "routes-setup", DOMAIN);
    expect(run.code).toBe(1);
    const rows = JSON.parse(run.stdout) as { path_pattern: string; status: string; route_id: string; note: string | null }[];
    expect(rows.find((r) => r.path_pattern === "/jwks")).toMatchObject({ status: "conflict", route_id: "my-jwks" });
    expect(rows.find((r) => r.path_pattern === "/revoke")).toMatchObject({ status: "disabled", note: "enable it: portcullis route update oauth-revoke --enable" });
    expect(rows.filter((r) => r.status === "present")).toHaveLength(7);
    expect(run.stderr).toBe(
      "portcullis: 1 OAuth path is held by other routes: route my-jwks holds /jwks at priority 95 for url:http://127.0.0.1:1, not hostname:auth.example.test. " +
        "Delete or move them (portcullis route delete <id>), then run routes-setup again.\n",
    );
    expect((await gateway.api("GET", "/api/v1/routes/")).json).toHaveLength(9);

    // Fixed as the message says: the next run completes.
    await ok("route", "delete", "my-jwks");
    await ok("route", "update", "oauth-revoke", "--enable");
    const fixed = await json("oauth", "routes-setup", DOMAIN);
    expect(fixed.find((r: { path_pattern: string }) => r.path_pattern === "/jwks")).toMatchObject({ status: "created", route_id: "oauth-jwks" });
    expect(fixed.filter((r: { status: string }) => r.status === "present")).toHaveLength(8);
  });

  test("another domain: every path is held, and a warning that the gateway's auth host is not auth.<that domain>", async () => {
    const run = await cli("oauth", "routes-setup", "other.test");
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/│ \/authorize\s+│ conflict\s+│ oauth-authorize\s+│/);
    expect(run.stderr).toContain("Warning: this gateway serves its authorization server on auth.example.test, not auth.other.test");
    expect(run.stderr).toContain("portcullis: 9 OAuth paths are held by other routes");
    expect((await gateway.api("GET", "/api/v1/routes/")).json).toHaveLength(9);
  });

  test("a non-admin token: the first create is refused, the rest not attempted, nothing created", async () => {
    const { token } = JSON.parse(await ok("--format", "json", "token", "generate", "routes-user"));
    await gateway.api("DELETE", "/api/v1/routes/oauth-introspect");
    const run = await runProgram(apiUrl, token, ["--format", "json", "oauth", "routes-setup", DOMAIN]);
    expect(run.code).toBe(1);
    const rows = JSON.parse(run.stdout) as { path_pattern: string; status: string }[];
    expect(rows.find((r) => r.path_pattern === "/introspect")?.status).toBe("failed");
    expect(run.stderr).toContain("POST /api/v1/routes/: 403 forbidden: only the admin token manages global routes");
    expect(await json("oauth", "routes-setup", DOMAIN)).toContainEqual(expect.objectContaining({ path_pattern: "/introspect", status: "created" }));
  });

  test("a URL instead of a domain stops before any request", async () => {
    expect(await failing("oauth", "routes-setup", "https://example.test")).toContain('"https://example.test" is not a domain');
  });
});

describe("oauth clients", () => {
  let registered: Record<string, unknown>;

  test("client-register: client_id, and the secret and registration token once, with a warning", async () => {
    expect(await ok("oauth", "clients-list")).toBe(`${EMPTY_CLIENTS_HINT}\n`);
    const run = await cli("--format", "json", "oauth", "client-register", "CLI Test Client", "--redirect-uri", "https://client.example.test/cb", "--scope", "mcp:read,mcp:write");
    expect(run.code).toBe(0);
    registered = JSON.parse(run.stdout);
    // A copy: bun's toMatchObject writes its asymmetric matchers into the object it checks.
    expect(structuredClone(registered)).toMatchObject({
      client_id: expect.any(String),
      client_secret: expect.any(String),
      registration_access_token: expect.any(String),
      client_name: "CLI Test Client",
      redirect_uris: ["https://client.example.test/cb"],
      scope: "mcp:read mcp:write",
      token_endpoint_auth_method: "client_secret_basic",
    });
    expect(run.stderr).toBe("Save client_secret and registration_access_token now: they are shown only this once (the gateway keeps only a hash).\n");
  });

  test("the secret authenticates at /token, on the auth host and on a proxy through the routes; a wrong one does not", async () => {
    const id = registered.client_id as string;
    for (const host of [AUTH_HOST, APP_HOST]) {
      const good = await tokenRequest(host, id, registered.client_secret as string);
      expect({ host, status: good.status, body: await good.json() }).toMatchObject({ host, status: 400, body: { error: "invalid_grant" } });
      const bad = await tokenRequest(host, id, "not-the-secret");
      expect({ host, status: bad.status, body: await bad.json() }).toMatchObject({ host, status: 401, body: { error: "invalid_client" } });
    }
  });

  test("clients-list shows it (never a secret) in every format; client-show counts its sessions", async () => {
    const table = await ok("oauth", "clients-list");
    expect(table).toMatch(/│ Client ID\s+│ Name\s+│ Auth Method\s+│ Scope\s+│ Redirect URIs\s+│ Created\s+│ Expires\s+│/);
    expect(table).toMatch(new RegExp(`│ ${registered.client_id}\\s+│ CLI Test Client\\s+│ client_secret_basic\\s+│ mcp:read mcp:write\\s+│ https://client\\.example\\.test/cb\\s+│ just now\\s+│ in \\d+d\\s+│`));
    const rows = await json("oauth", "clients-list", "--active-only");
    expect(rows).toEqual([expect.objectContaining({ client_id: registered.client_id, expired: false })]);
    for (const format of ["table", "json", "yaml", "csv"]) {
      const out = await ok("--format", format, "oauth", "clients-list");
      expect(out).not.toContain(registered.client_secret as string);
      expect(out).not.toContain(registered.registration_access_token as string);
      expect(out).not.toContain("client_secret\"");
    }
    expect(parseYaml(await ok("--format", "yaml", "oauth", "clients-list"))).toEqual(await json("oauth", "clients-list"));
    expect((await ok("--format", "csv", "oauth", "clients-list")).split("\n")[0]).toBe("Client ID,Name,Auth Method,Scope,Redirect URIs,Created,Expires");

    const shown = await json("oauth", "client-show", registered.client_id as string);
    expect(shown).toMatchObject({ client_id: registered.client_id, active_sessions: 0, active_tokens: 0 });
    expect(shown).not.toHaveProperty("client_secret");
    expect(await ok("oauth", "client-show", registered.client_id as string)).toMatch(/│ redirect_uris\s+│ https:\/\/client\.example\.test\/cb\s+│/);
  });

  test("--public: no secret, the default loopback redirect URI, and a warning about the registration token only", async () => {
    const run = await cli("--format", "json", "oauth", "client-register", "Public One", "--public");
    expect(run.code).toBe(0);
    const client = JSON.parse(run.stdout);
    expect(client).toMatchObject({ token_endpoint_auth_method: "none", redirect_uris: ["http://127.0.0.1/callback"] });
    expect(client).not.toHaveProperty("client_secret");
    expect(run.stderr).toBe(
      "No --redirect-uri: registered http://127.0.0.1/callback (matches any loopback port).\n" +
        "Save registration_access_token now: it is shown only this once (the gateway keeps only a hash).\n",
    );
    expect(await json("oauth", "client-delete", client.client_id)).toEqual({ deleted: client.client_id, sessions_revoked: 0 });
    expect(await failing("oauth", "client-show", client.client_id)).toContain(`404 not_found: OAuth client "${client.client_id}" not found`);
  });

  test("the API's refusals, one line each", async () => {
    expect(await failing("oauth", "client-register", "Bad", "--redirect-uri", "http://evil.example.test/cb")).toContain(
      "POST /api/v1/oauth/clients: 422 invalid_request: ",
    );
    expect(await failing("oauth", "client-register", "Bad", "--scope", "admin:all")).toContain("422");
    expect(await failing("oauth", "client-delete", "ghost")).toContain('DELETE /api/v1/oauth/clients/ghost: 404 not_found: OAuth client "ghost" not found');
    const { token } = JSON.parse(await ok("--format", "json", "token", "generate", "clients-user"));
    const user = await runProgram(apiUrl, token, ["oauth", "clients-list"]);
    expect(user.code).toBe(1);
    expect(user.stderr).toContain("403 forbidden: GET /api/v1/oauth/clients needs the admin token; this is a service-owner token");
  });
});

describe("oauth test-tokens and sessions", () => {
  let minted: Record<string, any>;

  test("a JWT whose aud is the server URL, verified against the JWKS the edge publishes; json as the API sent it", async () => {
    const serverUrl = `https://${MCP_HOST}`;
    minted = await json("oauth", "test-tokens", serverUrl, "--scope", "mcp:read", "--username", "tester");
    expect(minted).toMatchObject({ token_type: "Bearer", scope: "mcp:read", aud: [serverUrl], sub: "admin-tester" });
    expect(decodeJwt(minted.access_token).aud).toEqual([serverUrl]);
    const jwks = (await (await gateway.get(AUTH_HOST, "/jwks")).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(minted.access_token, createLocalJWKSet(jwks), { audience: serverUrl, algorithms: ["RS256"] });
    expect(payload).toMatchObject({ sub: "admin-tester", scope: "mcp:read", login: "tester" });
  });

  test("table: the details, the token alone on a line, and a curl that uses it", async () => {
    const out = await ok("oauth", "test-tokens", `https://${MCP_HOST}/mcp`);
    const lines = out.trimEnd().split("\n");
    const token = lines[lines.indexOf("access_token:") + 1]!;
    expect(decodeJwt(token)).toMatchObject({ aud: [`https://${MCP_HOST}/mcp`], scope: "mcp:read mcp:write", login: "admin" });
    expect(lines.at(-1)).toBe(`  curl -H "Authorization: Bearer ${token}" https://${MCP_HOST}/mcp`);
    expect(out).toMatch(/│ token_type\s+│ Bearer\s+│/);
  });

  test("a server this gateway does not serve, or a bad scope: refused with the API's reason", async () => {
    expect(await failing("oauth", "test-tokens", "https://elsewhere.invalid")).toContain(
      'POST /api/v1/oauth/test-tokens: 422 invalid_request: resource "https://elsewhere.invalid" is not served by this authorization server',
    );
    expect(await failing("oauth", "test-tokens", `https://${MCP_HOST}`, "--scope", 'say"root"')).toContain("contains a character a scope cannot");
  });

  test("sessions-list shows the test token's session; session-show its token; session-revoke ends it", async () => {
    const sessions = await json("oauth", "sessions-list");
    expect(sessions).toContainEqual(expect.objectContaining({ session_id: minted.session_id, username: "tester", client_id: "portcullis-admin", access_tokens: 1 }));
    expect(await ok("oauth", "sessions-list")).toMatch(new RegExp(`│ ${minted.session_id}\\s+│ tester\\s+│ portcullis-admin\\s+│ mcp:read\\s+│ https://mcp\\.example\\.test\\s+│ —\\s+│ just now\\s+│ in \\d+d\\s+│ ✗\\s+│ 1\\s+│`));
    expect(await json("oauth", "session-show", minted.session_id)).toMatchObject({ session_id: minted.session_id, tokens: [{ jti: minted.jti, revoked: false }] });

    expect(await json("oauth", "session-revoke", minted.session_id)).toEqual({ revoked: minted.session_id, access_tokens_revoked: [minted.jti] });
    expect((await json("oauth", "sessions-list")).map((s: { session_id: string }) => s.session_id)).not.toContain(minted.session_id);
    expect(await failing("oauth", "session-revoke", minted.session_id)).toContain("404 not_found");
  });

  test("tokens: statistics, flattened in a table", async () => {
    expect(await json("oauth", "tokens")).toMatchObject({ access_tokens: expect.any(Number), by_client: expect.any(Object) });
    expect(await ok("oauth", "tokens")).toMatch(/│ access_tokens\s+│ \d+\s+│/);
  });
});

describe("oauth status, health and keys", () => {
  test("status: the API's object in json; dotted rows in a table", async () => {
    const status = await json("oauth", "status");
    expect(status).toMatchObject({ status: "ready", issuer: `https://${AUTH_HOST}`, auth_hostnames: [AUTH_HOST], upstream: { kind: "github", credentials_configured: true } });
    const table = await ok("oauth", "status");
    expect(table).toMatch(/│ upstream\.kind\s+│ github\s+│/);
    expect(table).toMatch(/│ signing_key\.source\s+│ generated\s+│/);
    expect(table).toMatch(/│ auth_hostnames\s+│ auth\.example\.test\s+│/);
  });

  test("health: healthy exits 0", async () => {
    expect(await json("oauth", "health")).toMatchObject({ status: "healthy", problems: [] });
  });

  test("keys and key-rotate: a new current kid, the old one still published", async () => {
    const before = await json("oauth", "keys");
    expect(structuredClone(before)).toMatchObject({ source: "generated", current_kid: expect.any(String) });
    const rotated = await json("oauth", "key-rotate");
    expect(structuredClone(rotated)).toMatchObject({ previous_kid: before.current_kid, kid: expect.any(String) });
    expect(rotated.kid).not.toBe(before.current_kid);
    const table = await ok("oauth", "keys");
    expect(table).toMatch(new RegExp(`│ current_kid\\s+│ ${rotated.kid}\\s+│`));
    expect(table).toMatch(new RegExp(`│ ${rotated.kid}\\s+│ RSA\\s+│ RS256\\s+│ sig\\s+│ ✓\\s+│`));
    expect(table).toMatch(new RegExp(`│ ${before.current_kid}\\s+│ RSA\\s+│ RS256\\s+│ sig\\s+│ ✗\\s+│`));
  });
});

describe("key-generate with a gateway that uses it", () => {
  test("the printed value is accepted as OAUTH_JWT_PRIVATE_KEY_B64 and becomes the current key; rotation is refused there; no upstream: health exits 1", async () => {
    const generated = await runProgram("http://127.0.0.1:1", undefined, ["oauth", "key-generate"]);
    expect(generated.code).toBe(0);
    const value = generated.stdout.trim();
    const kid = /kid (\S+)\./.exec(generated.stderr)?.[1];
    expect(kid).toBeString();
    expect((await runProgram("http://127.0.0.1:1", undefined, ["oauth", "key-generate", "--env"])).stdout).toMatch(/^OAUTH_JWT_PRIVATE_KEY_B64=[A-Za-z0-9+/]+=*\n$/);

    const ownRedis = await startTestRedis();
    const keyed = await startTestGateway(ownRedis, { BASE_DOMAIN: DOMAIN, OAUTH_JWT_PRIVATE_KEY_B64: value });
    try {
      const keyedApi = `http://127.0.0.1:${keyed.gateway.apiPort}`;
      const run = (...args: string[]) => runProgram(keyedApi, GATEWAY_ADMIN, args);
      const keys = await run("--format", "json", "oauth", "keys");
      expect(JSON.parse(keys.stdout)).toMatchObject({ current_kid: kid, current_alg: "RS256", source: "configured" });
      expect((await run("oauth", "keys")).stdout).toContain("configured (OAUTH_JWT_PRIVATE_KEY_B64; rotate by changing it and restarting)");

      const rotate = await run("oauth", "key-rotate");
      expect(rotate.code).toBe(1);
      expect(rotate.stderr).toContain("409 conflict: the signing key comes from OAUTH_JWT_PRIVATE_KEY_B64");

      const health = await run("--format", "json", "oauth", "health");
      expect(health.code).toBe(1);
      expect(JSON.parse(health.stdout)).toMatchObject({ status: "degraded", signing_key: { kid, algorithm: "RS256", source: "configured" } });
      expect(health.stderr).toStartWith("portcullis: the OAuth server is degraded: GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET are not set");
    } finally {
      await keyed.stop();
      await ownRedis.stop();
    }
  });

  test("--algorithm ES256: the key a gateway with OAUTH_JWT_ALGORITHM=ES256 signs with; an unknown algorithm is refused", async () => {
    const generated = await runProgram("http://127.0.0.1:1", undefined, ["oauth", "key-generate", "--algorithm", "es256"]);
    expect(generated.code).toBe(0);
    const kid = /kid (\S+)\./.exec(generated.stderr)?.[1];
    expect(generated.stderr).toContain("EC P-256 signing key for ES256");

    const refused = await runProgram("http://127.0.0.1:1", undefined, ["oauth", "key-generate", "--algorithm", "HS256"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--algorithm: expected RS256 or ES256, got "HS256"');
    expect(refused.stdout).toBe("");

    const ownRedis = await startTestRedis();
    const keyed = await startTestGateway(ownRedis, { BASE_DOMAIN: DOMAIN, OAUTH_JWT_ALGORITHM: "ES256", OAUTH_JWT_PRIVATE_KEY_B64: generated.stdout.trim() });
    try {
      const keys = await runProgram(`http://127.0.0.1:${keyed.gateway.apiPort}`, GATEWAY_ADMIN, ["--format", "json", "oauth", "keys"]);
      expect(JSON.parse(keys.stdout)).toMatchObject({ current_kid: kid, current_alg: "ES256", source: "configured" });
      expect(JSON.parse(keys.stdout).jwks.keys).toContainEqual(expect.objectContaining({ kid, kty: "EC", crv: "P-256", alg: "ES256" }));
    } finally {
      await keyed.stop();
      await ownRedis.stop();
    }
  });
});

describe("proxy oauth-server", () => {
  test("set, show, clear: a round trip, with the metadata the proxy then serves", async () => {
    const set = await json(
      "proxy", "oauth-server-set", APP_HOST,
      "--issuer", "https://id.example.test/",
      "--scopes", "mcp:read",
      "--claims", "sub,login",
      "--pkce-required",
      "--custom-metadata", '{"service_documentation":"https://docs.example.test"}',
      "--override-defaults",
    );
    expect(set).toMatchObject({
      hostname: APP_HOST,
      oauth_server_issuer: "https://id.example.test",
      oauth_server_scopes: ["mcp:read"],
      oauth_server_claims: ["sub", "login"],
      oauth_server_pkce_required: true,
      oauth_server_custom_metadata: { service_documentation: "https://docs.example.test" },
      oauth_server_override_defaults: true,
      metadata_preview: { issuer: "https://id.example.test", scopes_supported: ["mcp:read"], service_documentation: "https://docs.example.test" },
    });
    const { metadata_preview: _, ...settings } = set;
    expect(await json("proxy", "oauth-server-show", APP_HOST)).toMatchObject(settings);

    // A later set changes only what it names.
    expect(await json("proxy", "oauth-server-set", APP_HOST, "--no-pkce-required")).toMatchObject({ oauth_server_pkce_required: false, oauth_server_scopes: ["mcp:read"] });

    const table = await ok("proxy", "oauth-server-show", APP_HOST);
    expect(table).toMatch(/│ oauth_server_claims\s+│ sub, login\s+│/);
    expect(table).toContain(`Metadata served at ${APP_HOST}/.well-known/oauth-authorization-server:`);
    expect(table).toMatch(/│ service_documentation\s+│ https:\/\/docs\.example\.test\s+│/);

    const cleared = await json("proxy", "oauth-server-clear", APP_HOST);
    expect(cleared).toMatchObject({
      oauth_server_issuer: null,
      oauth_server_scopes: null,
      oauth_server_custom_metadata: null,
      oauth_server_pkce_required: false,
      oauth_server_override_defaults: false,
      metadata_preview: { issuer: `https://${AUTH_HOST}` },
    });
    expect(await json("proxy", "oauth-server-show", APP_HOST)).toEqual(cleared);
  });

  test("refusals: nothing to set and bad JSON stop here; the API's 422 and 404 come through", async () => {
    expect(await failing("proxy", "oauth-server-set", APP_HOST)).toContain("nothing to set");
    expect(await failing("proxy", "oauth-server-set", APP_HOST, "--custom-metadata", "{nope")).toContain("--custom-metadata: not valid JSON");
    expect(await failing("proxy", "oauth-server-set", APP_HOST, "--scopes", "mcp:read,root\\")).toContain('422 invalid_request: oauth_server_scopes: scope "root\\\\" contains a character a scope cannot');
    expect(await failing("proxy", "oauth-server-set", APP_HOST, "--issuer", "http://plain.example.test")).toContain("the issuer must be an https URL");
    expect(await failing("proxy", "oauth-server-show", "ghost.example.test")).toContain('404 not_found: proxy "ghost.example.test" not found');
  });
});

describe("proxy github-oauth", () => {
  const SECRET = "gh-proxy-secret-0123456789abcdef";

  test("set, show, list, clear: the client ID and whether a secret is set, never the secret", async () => {
    expect(await ok("proxy", "github-oauth-list")).toBe(`${EMPTY_GITHUB_OAUTH_HINT}\n`);
    for (const format of ["table", "json", "yaml", "csv"]) {
      const out = await ok("--format", format, "proxy", "github-oauth-set", APP_HOST, "Ov23liAppClient", SECRET);
      expect(out).not.toContain(SECRET);
      expect(out).toContain("Ov23liAppClient");
    }
    expect(await json("proxy", "github-oauth-show", APP_HOST)).toEqual({ hostname: APP_HOST, github_client_id: "Ov23liAppClient", github_client_secret_set: true });
    for (const format of ["table", "json", "yaml", "csv"]) {
      expect(await ok("--format", format, "proxy", "github-oauth-show", APP_HOST)).not.toContain(SECRET);
      expect(await ok("--format", format, "proxy", "github-oauth-list")).not.toContain(SECRET);
      expect(await ok("--format", format, "proxy", "show", APP_HOST)).not.toContain(SECRET);
    }
    expect(await ok("proxy", "github-oauth-list")).toMatch(/│ app\.example\.test\s+│ Ov23liAppClient\s+│ ✓\s+│/);

    expect(await json("proxy", "github-oauth-clear", APP_HOST)).toEqual({ hostname: APP_HOST, github_client_id: null, github_client_secret_set: false });
    expect(await json("proxy", "github-oauth-list")).toEqual([]);
  });

  test("the secret from stdin with -, as a separate process: stored (without its newline), never printed", async () => {
    const run = await runProcess(apiUrl, ["--format", "json", "proxy", "github-oauth-set", MCP_HOST, "Ov23liFromStdin", "-"], `${SECRET}\n`);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(run.stdout)).toEqual({ hostname: MCP_HOST, github_client_id: "Ov23liFromStdin", github_client_secret_set: true });
    expect(run.stdout).not.toContain(SECRET);

    const empty = await runProcess(apiUrl, ["proxy", "github-oauth-set", MCP_HOST, "Ov23liFromStdin", "-"], "");
    expect(empty.code).toBe(1);
    expect(empty.stderr).toBe("portcullis: proxy github-oauth-set: stdin gave no client secret\n");
    await ok("proxy", "github-oauth-clear", MCP_HOST);
  });

  test("refusals: the API's reason without the value; an unknown proxy is a 404", async () => {
    const bad = await failing("proxy", "github-oauth-set", APP_HOST, "Ov23li", "has space");
    expect(bad).toContain("422 invalid_request: github_client_secret: expected the app's client secret");
    expect(bad).not.toContain("has space");
    expect(await failing("proxy", "github-oauth-show", "ghost.example.test")).toContain('404 not_found: proxy "ghost.example.test" not found');
  });
});
