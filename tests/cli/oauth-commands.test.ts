/**
 * The pure parts of `portcullis oauth …` and `portcullis proxy
 * oauth-server-…|github-oauth-…`: request bodies, the routes-setup plan,
 * rendering, stdin secrets; and the just recipes' command lines.
 */
import { describe, expect, test } from "bun:test";
import { createPrivateKey } from "node:crypto";
import { parse as parseYaml } from "yaml";
import { recordFromPem } from "../../src/auth/tokens/signing-key-record";
import { CliError } from "../../src/cli/cli-error";
import { clientRegistrationBody, credentialsWarning, DEFAULT_REDIRECT_URI, scopeParameter, testTokenBody } from "../../src/cli/commands/oauth";
import { generatedKeyNote, generateSigningKey, renderGeneratedKey, renderKeys, type KeysView } from "../../src/cli/commands/oauth-keys";
import { curlExample, flattenItem, renderObject, renderTestToken, shellQuote } from "../../src/cli/commands/oauth-output";
import { oauthServerBody, parseCustomMetadata, readFirstLine, renderOAuthServer, resolveSecret, splitWords } from "../../src/cli/commands/oauth-proxy";
import { checkDomain, OAUTH_ROUTE_PATHS, planOAuthRoutes, renderOAuthRoutes, routesSummary, setupError, type OAuthRouteRow } from "../../src/cli/commands/oauth-routes";
import type { RouteView } from "../../src/cli/commands/route";
import { tempDir } from "../helpers/temp";
import { justBinary, justDryRun } from "../helpers/just-dry-run";

const route = (overrides: Partial<RouteView> = {}): RouteView => ({
  route_id: "oauth-token",
  path_pattern: "/token",
  target_type: "hostname",
  target_value: "auth.example.com",
  priority: 95,
  methods: [],
  is_regex: false,
  enabled: true,
  scope: "global",
  proxy_hostnames: [],
  description: "",
  override_proxy_auth: false,
  auth_config: null,
  created_by: "admin",
  created_at: "2026-01-10T12:00:00.000Z",
  updated_at: "2026-01-10T12:00:00.000Z",
  ...overrides,
});

describe("routes-setup plan", () => {
  test("the nine paths of the spec (and /register), each with a readable id", () => {
    expect(OAUTH_ROUTE_PATHS.map((p) => p.path)).toEqual([
      "/authorize",
      "/token",
      "/callback",
      "/verify",
      "/register",
      "/.well-known/oauth-authorization-server",
      "/jwks",
      "/revoke",
      "/introspect",
    ]);
    expect(new Set(OAUTH_ROUTE_PATHS.map((p) => p.id)).size).toBe(9);
  });

  test("nothing there: nine global hostname routes to auth.<domain> at priority 95", () => {
    const plan = planOAuthRoutes("example.com", []);
    expect(plan.every((p) => p.action === "create")).toBe(true);
    expect(plan[1]).toEqual({
      action: "create",
      path: "/token",
      body: {
        route_id: "oauth-token",
        path_pattern: "/token",
        target_type: "hostname",
        target_value: "auth.example.com",
        priority: 95,
        scope: "global",
        description: "OAuth authorization server (oauth routes-setup example.com)",
      },
    });
  });

  test("an equal route is present; disabled is reported with how to enable it; another target holds the slot", () => {
    const plan = planOAuthRoutes("example.com", [
      route(),
      route({ route_id: "r-auth", path_pattern: "/authorize", target_value: "AUTH.example.com", enabled: false }),
      route({ route_id: "r-jwks", path_pattern: "/jwks", target_type: "url", target_value: "http://10.0.0.1:8080/" }),
      route({ route_id: "r-revoke", path_pattern: "/revoke", methods: ["POST"] }),
      route({ route_id: "r-intro", path_pattern: "/introspect", scope: "proxy", proxy_hostnames: ["a.example.com"] }),
      // Same path, other priority or regex: not in the way, the API allows both.
      route({ route_id: "r-verify", path_pattern: "/verify", priority: 50 }),
      route({ route_id: "r-cb", path_pattern: "/callback", is_regex: true }),
    ]);
    const byPath = Object.fromEntries(plan.map((p) => [p.action === "create" ? p.path : p.row.path_pattern, p]));
    expect(byPath["/token"]).toEqual({
      action: "keep",
      row: { path_pattern: "/token", status: "present", route_id: "oauth-token", target: "hostname:auth.example.com", note: null },
    });
    expect(byPath["/authorize"]).toMatchObject({ row: { status: "disabled", route_id: "r-auth", note: "enable it: portcullis route update r-auth --enable" } });
    expect(byPath["/jwks"]).toMatchObject({
      row: { status: "conflict", note: "route r-jwks holds /jwks at priority 95 for url:http://10.0.0.1:8080/, not hostname:auth.example.com" },
    });
    expect(byPath["/revoke"]).toMatchObject({ row: { status: "conflict", note: expect.stringContaining("(methods POST)") } });
    expect(byPath["/introspect"]).toMatchObject({ row: { status: "conflict", note: expect.stringContaining("(scope proxy)") } });
    expect(byPath["/verify"]).toMatchObject({ action: "create" });
    expect(byPath["/callback"]).toMatchObject({ action: "create" });
  });

  test("a readable id already taken by another route: the API generates one", () => {
    const plan = planOAuthRoutes("example.com", [route({ route_id: "oauth-token", path_pattern: "/old-token", priority: 10 })]);
    const token = plan[1]!;
    expect(token.action).toBe("create");
    expect(token.action === "create" && "route_id" in token.body).toBe(false);
    expect(plan[0]!.action === "create" && plan[0]!.body.route_id).toBe("oauth-authorize");
  });

  test("domains: normalised; URLs, paths, wildcards and junk refused before any request", () => {
    expect(checkDomain(" Example.COM. ")).toBe("example.com");
    expect(checkDomain("localhost")).toBe("localhost");
    for (const bad of ["https://example.com", "example.com/x", "*.example.com", "", "exa mple.com", "-x.com", "a..b"]) {
      expect(() => checkDomain(bad)).toThrow(CliError);
    }
    expect(() => checkDomain("https://example.com")).toThrow('"https://example.com" is not a domain; expected the base domain, e.g. example.com');
  });

  const row = (status: OAuthRouteRow["status"], note: string | null = null): OAuthRouteRow => ({
    path_pattern: "/x",
    status,
    route_id: "r",
    target: "hostname:auth.example.com",
    note,
  });

  test("summary and the error after the report", () => {
    expect(routesSummary("example.com", [row("created"), row("present"), row("present")])).toBe(
      "OAuth routes to auth.example.com at priority 95: 1 created, 2 already present.",
    );
    expect(routesSummary("example.com", [row("disabled"), row("conflict"), row("failed"), row("skipped")])).toBe(
      "OAuth routes to auth.example.com at priority 95: 0 created, 0 already present, 1 present but disabled, 1 held by other routes, 2 not created.",
    );
    expect(setupError([row("created"), row("present"), row("disabled")], null)).toBeNull();
    expect(setupError([row("conflict", "route r holds /x")], null)?.message).toBe(
      "1 OAuth path is held by other routes: route r holds /x. Delete or move them (portcullis route delete <id>), then run routes-setup again.",
    );
    expect(setupError([row("failed"), row("skipped"), row("skipped")], new CliError("POST /api/v1/routes/: 403 forbidden"))?.message).toBe(
      "POST /api/v1/routes/: 403 forbidden (2 more not attempted; run routes-setup again once fixed)",
    );
  });

  test("rendering: table with the summary, csv and json rows", () => {
    const rows = [row("created"), row("conflict", "held")];
    const table = renderOAuthRoutes("example.com", rows, "table");
    expect(table).toMatch(/│ Path\s+│ Status\s+│ Route ID\s+│ Target\s+│ Note\s+│/);
    expect(table).toMatch(/│ \/x\s+│ conflict\s+│ r\s+│ hostname:auth\.example\.com\s+│ held\s+│/);
    expect(table.split("\n").at(-1)).toStartWith("OAuth routes to auth.example.com");
    expect(renderOAuthRoutes("example.com", rows, "csv").split("\n")).toEqual(["Path,Status,Route ID,Target,Note", "/x,created,r,hostname:auth.example.com,", "/x,conflict,r,hostname:auth.example.com,held"]);
    expect(JSON.parse(renderOAuthRoutes("example.com", rows, "json"))).toEqual(rows);
  });
});

describe("request bodies", () => {
  test("client-register: name, redirect URIs (repeated or comma-separated), scope with commas or spaces, public", () => {
    expect(clientRegistrationBody("CLI", {})).toEqual({ client_name: "CLI", redirect_uris: [DEFAULT_REDIRECT_URI] });
    expect(
      clientRegistrationBody("Claude", {
        redirectUri: ["https://a.example.com/cb,https://b.example.com/cb", "http://127.0.0.1:33418/cb"],
        scope: "mcp:read,mcp:write",
        grantTypes: "authorization_code, refresh_token",
        public: true,
      }),
    ).toEqual({
      client_name: "Claude",
      redirect_uris: ["https://a.example.com/cb", "https://b.example.com/cb", "http://127.0.0.1:33418/cb"],
      scope: "mcp:read mcp:write",
      grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "none",
    });
    // The recipe passes "" for an empty argument: the defaults apply.
    expect(clientRegistrationBody("x", { redirectUri: [""], scope: "" })).toEqual({ client_name: "x", redirect_uris: [DEFAULT_REDIRECT_URI] });
    expect(() => clientRegistrationBody(" ", {})).toThrow("the client name is empty");
  });

  test("the once-only warning names what was shown", () => {
    expect(credentialsWarning({ client_secret: "s", registration_access_token: "r" })).toBe(
      "Save client_secret and registration_access_token now: they are shown only this once (the gateway keeps only a hash).",
    );
    expect(credentialsWarning({ registration_access_token: "r" })).toStartWith("Save registration_access_token now: it is shown only this once");
    expect(credentialsWarning({ client_id: "c" })).toBe("");
  });

  test("test-tokens: the server URL is the resource; scope, username and lifetime when given", () => {
    expect(testTokenBody("https://mcp.example.com", {})).toEqual({ resource: "https://mcp.example.com" });
    expect(testTokenBody("https://mcp.example.com/mcp", { scope: "mcp:read, mcp:write", username: "alice", lifetime: "600" })).toEqual({
      resource: "https://mcp.example.com/mcp",
      scope: "mcp:read mcp:write",
      username: "alice",
      lifetime_seconds: 600,
    });
    expect(() => testTokenBody("https://x", { lifetime: "10m" })).toThrow('--lifetime "10m": expected an integer');
    expect(scopeParameter(" a,b  c,,")).toBe("a b c");
  });

  test("oauth-server-set: only the flags given; \"\" resets a field to the default", () => {
    expect(oauthServerBody({})).toEqual({});
    expect(
      oauthServerBody({
        issuer: " https://id.example.com ",
        scopes: "mcp:read,mcp:write",
        grantTypes: "authorization_code refresh_token",
        responseTypes: "code",
        tokenAuthMethods: "none,client_secret_post",
        claims: "sub,login",
        pkceRequired: true,
        customMetadata: '{"service_documentation":"https://docs.example.com"}',
        overrideDefaults: true,
      }),
    ).toEqual({
      oauth_server_issuer: "https://id.example.com",
      oauth_server_scopes: ["mcp:read", "mcp:write"],
      oauth_server_grant_types: ["authorization_code", "refresh_token"],
      oauth_server_response_types: ["code"],
      oauth_server_token_auth_methods: ["none", "client_secret_post"],
      oauth_server_claims: ["sub", "login"],
      oauth_server_pkce_required: true,
      oauth_server_custom_metadata: { service_documentation: "https://docs.example.com" },
      oauth_server_override_defaults: true,
    });
    expect(oauthServerBody({ issuer: "", scopes: "", customMetadata: "", pkceRequired: false, overrideDefaults: false })).toEqual({
      oauth_server_issuer: null,
      oauth_server_scopes: [],
      oauth_server_custom_metadata: null,
      oauth_server_pkce_required: false,
      oauth_server_override_defaults: false,
    });
    expect(splitWords("a, b c")).toEqual(["a", "b", "c"]);
  });

  test("--custom-metadata must be a JSON object", () => {
    expect(parseCustomMetadata('{"a":1}')).toEqual({ a: 1 });
    expect(() => parseCustomMetadata("{a:1}")).toThrow(/--custom-metadata: not valid JSON/);
    expect(() => parseCustomMetadata("[1]")).toThrow("--custom-metadata: expected a JSON object");
    expect(() => parseCustomMetadata("null")).toThrow("--custom-metadata: expected a JSON object");
  });
});

describe("GitHub client secret from stdin", () => {
  async function* chunks(...parts: string[]) {
    for (const part of parts) yield new TextEncoder().encode(part);
  }

  test("the first line, without its line ending, across chunks", async () => {
    expect(await readFirstLine(chunks("gh-sec", "ret\r\nignored\n"))).toBe("gh-secret");
    expect(await readFirstLine(chunks("no-newline"))).toBe("no-newline");
    expect(await readFirstLine(chunks())).toBe("");
  });

  test("- reads stdin; an empty secret is refused either way", async () => {
    expect(await resolveSecret("-", async () => " from-stdin ")).toBe("from-stdin");
    expect(await resolveSecret("literal", async () => "unused")).toBe("literal");
    expect(resolveSecret("-", async () => "")).rejects.toThrow("stdin gave no client secret");
    expect(resolveSecret("  ", async () => "")).rejects.toThrow("the client secret is empty");
  });
});

describe("rendering", () => {
  test("nested objects flatten to dotted rows; plain lists join; json/yaml stay as the API sent them", () => {
    const status = { status: "ready", upstream: { kind: "github", credentials_configured: true }, auth_hostnames: ["auth.a", "b"], empty: {}, tokens: [{ a: 1 }] };
    expect(flattenItem(status)).toEqual({
      status: "ready",
      "upstream.kind": "github",
      "upstream.credentials_configured": true,
      auth_hostnames: "auth.a, b",
      empty: null,
      tokens: [{ a: 1 }],
    });
    const table = renderObject(status, "table");
    expect(table).toMatch(/│ upstream\.kind\s+│ github\s+│/);
    expect(table).toMatch(/│ upstream\.credentials_configured\s+│ ✓\s+│/);
    expect(table).toMatch(/│ auth_hostnames\s+│ auth\.a, b\s+│/);
    expect(JSON.parse(renderObject(status, "json"))).toEqual(status);
    expect(parseYaml(renderObject(status, "yaml"))).toEqual(status);
    expect(renderObject(status, "csv").split("\n")[0]).toBe("status,upstream.kind,upstream.credentials_configured,auth_hostnames,empty,tokens");
  });

  test("test token: a table without the token, then the token alone and a curl; json as the API sent it", () => {
    const minted = { access_token: "eyJ.a.b", token_type: "Bearer", expires_in: 1800, scope: "mcp:read", aud: ["https://mcp.example.com"] };
    const table = renderTestToken(minted, "https://mcp.example.com", "table");
    expect(table).toMatch(/│ aud\s+│ https:\/\/mcp\.example\.com\s+│/);
    expect(table).not.toMatch(/│ access_token/);
    expect(table.split("\n").slice(-5)).toEqual(["access_token:", "eyJ.a.b", "", "Try it:", '  curl -H "Authorization: Bearer eyJ.a.b" https://mcp.example.com']);
    expect(JSON.parse(renderTestToken(minted, "https://mcp.example.com", "json"))).toEqual(minted);
    expect(curlExample("t", "https://x.example.com/mcp?a=1&b=2")).toBe("curl -H \"Authorization: Bearer t\" 'https://x.example.com/mcp?a=1&b=2'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  test("oauth-server: settings, then the metadata document, saying whether it applies", () => {
    const view = {
      hostname: "app.example.com",
      oauth_server_issuer: null,
      oauth_server_scopes: ["mcp:read"],
      oauth_server_override_defaults: false,
      metadata_preview: { issuer: "https://auth.example.com", scopes_supported: ["mcp:read", "mcp:write"] },
    };
    const table = renderOAuthServer(view, "table");
    expect(table).toMatch(/│ oauth_server_scopes\s+│ mcp:read\s+│/);
    expect(table).toContain("Metadata served at app.example.com/.well-known/oauth-authorization-server (the defaults: these settings apply once --override-defaults is on):");
    expect(table).toMatch(/│ scopes_supported\s+│ mcp:read, mcp:write\s+│/);
    expect(renderOAuthServer({ ...view, oauth_server_override_defaults: true }, "table")).toContain("oauth-authorization-server:\n");
    expect(JSON.parse(renderOAuthServer(view, "json"))).toEqual(view);
    expect(renderOAuthServer(view, "csv").split("\n")[0]).toContain("metadata_preview.issuer");
  });

  test("keys: current kid and source, then the published keys with the current one marked", () => {
    const view: KeysView = {
      current_kid: "k2",
      source: "generated",
      jwks: { keys: [{ kid: "k2", kty: "RSA", alg: "RS256", use: "sig" }, { kid: "k1", kty: "RSA", alg: "RS256", use: "sig" }] },
    };
    const table = renderKeys(view, "table");
    expect(table).toMatch(/│ current_kid\s+│ k2\s+│/);
    expect(table).toMatch(/│ source\s+│ generated \(kept in Redis; oauth key-rotate replaces it\)/);
    expect(table).toMatch(/│ k2\s+│ RSA\s+│ RS256\s+│ sig\s+│ ✓\s+│/);
    expect(table).toMatch(/│ k1\s+│ RSA\s+│ RS256\s+│ sig\s+│ ✗\s+│/);
    expect(renderKeys(view, "csv").split("\n")).toEqual(["Kid,Type,Alg,Use,Current", "k2,RSA,RS256,sig,true", "k1,RSA,RS256,sig,false"]);
    expect(JSON.parse(renderKeys(view, "json"))).toEqual(view);
  });
});

describe("key-generate", () => {
  test("a base64 PKCS#8 PEM of an RSA-2048 key that the gateway's own reader accepts, with the kid it will get", async () => {
    const key = await generateSigningKey();
    expect(key.value).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const pem = Buffer.from(key.value, "base64").toString("utf8");
    expect(pem).toStartWith("-----BEGIN PRIVATE KEY-----\n");
    const imported = createPrivateKey(pem);
    expect(imported.asymmetricKeyType).toBe("rsa");
    expect(imported.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect((await recordFromPem(pem)).kid).toBe(key.kid);
    expect((await generateSigningKey()).value).not.toBe(key.value);

    expect(renderGeneratedKey(key, "table", false)).toBe(key.value);
    expect(renderGeneratedKey(key, "json", true)).toBe(`OAUTH_JWT_PRIVATE_KEY_B64=${key.value}`);
    expect(JSON.parse(renderGeneratedKey(key, "json", false))).toEqual({ OAUTH_JWT_PRIVATE_KEY_B64: key.value, kid: key.kid, algorithm: "RS256", key: "RSA-2048" });
    expect(generatedKeyNote(key)).toStartWith(`RSA-2048 signing key for RS256, kid ${key.kid}.`);
    expect(generatedKeyNote(key)).not.toContain("OAUTH_JWT_ALGORITHM");
  });

  test("--algorithm ES256: an EC P-256 key the gateway's reader accepts for ES256 (and only for ES256)", async () => {
    const key = await generateSigningKey("ES256");
    const pem = Buffer.from(key.value, "base64").toString("utf8");
    const imported = createPrivateKey(pem);
    expect(imported.asymmetricKeyType).toBe("ec");
    expect(imported.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect((await recordFromPem(pem, "ES256")).kid).toBe(key.kid);
    await expect(recordFromPem(pem, "RS256")).rejects.toThrow("OAUTH_JWT_PRIVATE_KEY_B64");
    expect(JSON.parse(renderGeneratedKey(key, "json", false))).toMatchObject({ kid: key.kid, algorithm: "ES256", key: "EC P-256" });
    // The gateway needs the algorithm too, or it refuses the key at start-up.
    expect(generatedKeyNote(key)).toContain("and OAUTH_JWT_ALGORITHM=ES256");
  });
});

/** The recipes' command lines (`just --dry-run`): arguments by position, booleans checked before anything runs. */
describe.skipIf(!justBinary)("just recipes (dry run)", () => {
  const HOME = tempDir("home");
  const dryRun = (...args: string[]) => justDryRun(HOME, ["oauth", "proxy"], ...args);

  const cases: [string[], string][] = [
    [["oauth-key-generate"], "oauth key-generate --algorithm 'RS256'"],
    [["oauth-key-generate", "ES256"], "oauth key-generate --algorithm 'ES256'"],
    [["oauth-keys", "tok"], "--token 'tok' oauth keys"],
    [["oauth-key-rotate"], "oauth key-rotate"],
    [["oauth-routes-setup", "example.com"], "oauth routes-setup 'example.com'"],
    [["oauth-routes-setup", "example.com", "tok"], "--token 'tok' oauth routes-setup 'example.com'"],
    [["oauth-client-register", "My App"], "oauth client-register 'My App'"],
    [["oauth-client-register", "app", "https://app.example.com/cb", "mcp:read mcp:write", "tok"], "--token 'tok' oauth client-register 'app' --redirect-uri 'https://app.example.com/cb' --scope 'mcp:read mcp:write'"],
    [["oauth-client-register", "app", "", "mcp:read"], "oauth client-register 'app' --scope 'mcp:read'"],
    [["oauth-clients-list"], "oauth clients-list"],
    [["oauth-clients-list", "true", "tok"], "--token 'tok' oauth clients-list --active-only"],
    [["oauth-client-show", "client_abc"], "oauth client-show 'client_abc'"],
    [["oauth-client-delete", "client_abc"], "oauth client-delete 'client_abc'"],
    [["oauth-sessions-list"], "oauth sessions-list"],
    [["oauth-session-revoke", "g1"], "oauth session-revoke 'g1'"],
    [["oauth-test-tokens", "https://mcp.example.com"], "oauth test-tokens 'https://mcp.example.com'"],
    [["oauth-test-tokens", "https://mcp.example.com", "tok"], "--token 'tok' oauth test-tokens 'https://mcp.example.com'"],
    [["oauth-status"], "oauth status"],
    [["oauth-health"], "oauth health"],
    [["proxy-oauth-server-set", "a.example.com", "https://id.example.com"], "proxy oauth-server-set 'a.example.com' --issuer 'https://id.example.com'"],
    [
      ["proxy-oauth-server-set", "a.example.com", "", "mcp:read,mcp:write", "authorization_code", "code", "none", "sub,login", "true", '{"x":1}', "false", "tok"],
      "--token 'tok' proxy oauth-server-set 'a.example.com' --scopes 'mcp:read,mcp:write' --grant-types 'authorization_code' --response-types 'code' --token-auth-methods 'none' --claims 'sub,login' --pkce-required --custom-metadata '{\"x\":1}' --no-override-defaults",
    ],
    [["proxy-oauth-server-show", "a.example.com"], "proxy oauth-server-show 'a.example.com'"],
    [["proxy-oauth-server-clear", "a.example.com", "tok"], "--token 'tok' proxy oauth-server-clear 'a.example.com'"],
    [["proxy-github-oauth-set", "a.example.com", "Ov23li", "-"], "proxy github-oauth-set 'a.example.com' 'Ov23li' '-'"],
    [["proxy-github-oauth-show", "a.example.com"], "proxy github-oauth-show 'a.example.com'"],
    [["proxy-github-oauth-clear", "a.example.com"], "proxy github-oauth-clear 'a.example.com'"],
    [["proxy-github-oauth-list", "tok"], "--token 'tok' proxy github-oauth-list"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await dryRun(...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }

  const refused: [string[], string][] = [
    [["oauth-clients-list", "yes"], "active-only: expected true or false, got 'yes'"],
    [["proxy-oauth-server-set", "a.example.com", "", "", "", "", "", "", "1"], "pkce-required: expected true or false, got '1'"],
    [["proxy-oauth-server-set", "a.example.com", "", "", "", "", "", "", "", "", "on"], "override-defaults: expected true or false, got 'on'"],
  ];
  for (const [args, message] of refused) {
    test(`just ${args.join(" ")} is refused`, async () => {
      const { code, stderr } = await dryRun(...args);
      expect(code).not.toBe(0);
      expect(stderr).toContain(message);
    });
  }
});
