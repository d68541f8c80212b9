/**
 * The pure parts of `portcullis proxy auth-…|resource-…` and `portcullis
 * resource …`: request bodies, the X-HackerOne-Research header merge, the
 * resource-list rows, rendering; and the just recipes' command lines.
 */
import { describe, expect, test } from "bun:test";
import { CliError } from "../../src/cli/cli-error";
import { authBody, listOrDefault, renderAuth, type AuthView } from "../../src/cli/commands/proxy-auth";
import { parseJsonObject, protectedProxies, renderProxyResource, resourceBody, withHackerOneHeader, type ProxyResourceView } from "../../src/cli/commands/proxy-resource";
import { autoRegisterRows, registryBody, renderAutoRegister, renderValidation, resolveAccessToken } from "../../src/cli/commands/resource";
import { tempDir } from "../helpers/temp";
import { justBinary, justDryRun } from "../helpers/just-dry-run";

describe("proxy auth bodies", () => {
  test("only the flags given; lists split on commas and spaces; \"\" is null (the default)", () => {
    expect(authBody({})).toEqual({});
    expect(authBody({ users: "alice, bob carol", emails: "*@example.com", allowedScopes: "mcp:read,mcp:write" })).toEqual({
      auth_required_users: ["alice", "bob", "carol"],
      auth_required_emails: ["*@example.com"],
      auth_allowed_scopes: ["mcp:read", "mcp:write"],
    });
    expect(authBody({ users: "", emails: " ", groups: "", allowedAudiences: "", excludedPaths: "" })).toEqual({
      auth_required_users: null,
      auth_required_emails: null,
      auth_required_groups: null,
      auth_allowed_audiences: null,
      auth_excluded_paths: null,
    });
    expect(authBody({ users: "*" })).toEqual({ auth_required_users: ["*"] });
    expect(listOrDefault(",,")).toBeNull();
  });

  test("booleans both ways, strings as given, an empty auth proxy is the gateway's own (null)", () => {
    expect(authBody({ passHeaders: false, forwardBearer: true, headerPrefix: "X-User-", cookieName: "s", mode: "redirect", authProxy: " auth.example.com " })).toEqual({
      auth_pass_headers: false,
      auth_forward_bearer: true,
      auth_header_prefix: "X-User-",
      auth_cookie_name: "s",
      auth_mode: "redirect",
      auth_proxy: "auth.example.com",
    });
    expect(authBody({ authProxy: "" })).toEqual({ auth_proxy: null });
  });

  test("renderAuth: a table warns when auth is on and nobody is allowed in; json is the API's object", () => {
    const view: AuthView = {
      hostname: "a.example.com",
      auth_enabled: true,
      auth_proxy: "auth.example.com",
      auth_mode: "forward",
      auth_required_users: null,
      effective_users: [],
      allowed_users_source: "default",
    };
    expect(renderAuth(view, "table")).toContain("Nobody can get in: a.example.com names no users, and neither OAUTH_ALLOWED_GITHUB_USERS nor OAUTH_ADMIN_USERS names any.");
    expect(renderAuth({ ...view, auth_enabled: false }, "table")).not.toContain("Nobody");
    expect(renderAuth({ ...view, effective_users: ["*"] }, "table")).not.toContain("Nobody");
    expect(JSON.parse(renderAuth(view, "json"))).toEqual(view);
    expect(renderAuth(view, "csv")).not.toContain("Nobody");
  });
});

describe("proxy resource bodies", () => {
  test("only the flags given; \"\" resets; JSON objects parsed", () => {
    expect(resourceBody({})).toEqual({});
    expect(
      resourceBody({
        endpoint: "/mcp",
        scopes: "mcp:read mcp:write",
        stateful: true,
        overrideBackend: false,
        bearerMethods: "header",
        docSuffix: "/docs",
        versions: "2025-06-18,2025-03-26",
        serverInfo: '{"name":"Tools"}',
        customMetadata: '{"x":1}',
        hackerOneResearch: "me",
      }),
    ).toEqual({
      resource_endpoint: "/mcp",
      resource_scopes: ["mcp:read", "mcp:write"],
      resource_stateful: true,
      resource_override_backend: false,
      resource_bearer_methods: ["header"],
      resource_documentation_suffix: "/docs",
      resource_versions: ["2025-06-18", "2025-03-26"],
      resource_server_info: { name: "Tools" },
      resource_custom_metadata: { x: 1 },
    });
    expect(resourceBody({ endpoint: "", scopes: "", docSuffix: "", serverInfo: "", customMetadata: " " })).toEqual({
      resource_endpoint: null,
      resource_scopes: null,
      resource_documentation_suffix: null,
      resource_server_info: null,
      resource_custom_metadata: null,
    });
  });

  test("parseJsonObject: not JSON, or JSON but not an object, is a CliError naming the flag", () => {
    expect(() => parseJsonObject("--server-info", "{nope", "{}")).toThrow(CliError);
    expect(() => parseJsonObject("--server-info", "{nope", "{}")).toThrow("--server-info: not valid JSON");
    for (const value of ["[]", "1", "null", '"x"']) expect(() => parseJsonObject("--custom-metadata", value, "{}")).toThrow("--custom-metadata: expected a JSON object");
  });

  test("withHackerOneHeader: set (any spelling replaced), removed, other headers kept, null when none remain", () => {
    expect(withHackerOneHeader(null, "me@example.com")).toEqual({ "X-HackerOne-Research": "me@example.com" });
    expect(withHackerOneHeader({ "x-hackerone-research": "old", "X-Keep": "1" }, " new ")).toEqual({ "X-Keep": "1", "X-HackerOne-Research": "new" });
    expect(withHackerOneHeader({ "X-HackerOne-Research": "old", "X-Keep": "1" }, "")).toEqual({ "X-Keep": "1" });
    expect(withHackerOneHeader({ "X-HackerOne-Research": "old" }, "")).toBeNull();
    expect(withHackerOneHeader(null, "")).toBeNull();
  });

  test("protectedProxies: those with an endpoint or auth; the resource and metadata URLs as the API states them", () => {
    const base = { auth_enabled: false, resource_endpoint: null, resource_scopes: null, auth_allowed_scopes: null };
    expect(
      protectedProxies([
        { ...base, hostname: "plain.example.com" },
        { ...base, hostname: "mcp.example.com", resource_endpoint: "/mcp", resource_scopes: ["mcp:read"] },
        { ...base, hostname: "root.example.com", resource_endpoint: "/" },
        { ...base, hostname: "auth.example.com", auth_enabled: true, auth_allowed_scopes: ["mcp:write"] },
      ]),
    ).toEqual([
      { hostname: "mcp.example.com", resource: "https://mcp.example.com/mcp", resource_endpoint: "/mcp", scopes_supported: ["mcp:read"], auth_enabled: false, metadata_url: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp" },
      { hostname: "root.example.com", resource: "https://root.example.com", resource_endpoint: "/", scopes_supported: [], auth_enabled: false, metadata_url: "https://root.example.com/.well-known/oauth-protected-resource" },
      { hostname: "auth.example.com", resource: "https://auth.example.com", resource_endpoint: null, scopes_supported: ["mcp:write"], auth_enabled: true, metadata_url: "https://auth.example.com/.well-known/oauth-protected-resource" },
    ]);
  });

  test("renderProxyResource: the settings, then the document; without an endpoint, when it is served", () => {
    const view: ProxyResourceView = {
      hostname: "a.example.com",
      resource_endpoint: null,
      resource_scopes: null,
      resource: "https://a.example.com",
      metadata_url: "https://a.example.com/.well-known/oauth-protected-resource",
      metadata_url_root: "https://a.example.com/.well-known/oauth-protected-resource",
      metadata_preview: { resource: "https://a.example.com", bearer_methods_supported: ["header"] },
    };
    const table = renderProxyResource(view, "table");
    expect(table).toContain("Metadata served at https://a.example.com/.well-known/oauth-protected-resource while auth is on (portcullis proxy auth-enable a.example.com)");
    expect(table).toMatch(/│ bearer_methods_supported\s+│ header\s+│/);
    expect(JSON.parse(renderProxyResource(view, "json"))).toEqual(view);
    expect(renderProxyResource(view, "csv").split("\n")[0]).toContain("metadata_preview.resource");
  });
});

describe("resource registry rendering", () => {
  test("registryBody: only the flags given; --proxy \"\" unlinks; scopes split", () => {
    expect(registryBody({})).toEqual({});
    expect(registryBody({ name: "Tools", proxy: "mcp.example.com", scopes: "mcp:read,mcp:write", description: "d", metadataUrl: "https://x/.well-known/oauth-protected-resource" })).toEqual({
      name: "Tools",
      proxy_target: "mcp.example.com",
      scopes: ["mcp:read", "mcp:write"],
      description: "d",
      metadata_url: "https://x/.well-known/oauth-protected-resource",
    });
    expect(registryBody({ proxy: "", scopes: "" })).toEqual({ proxy_target: null, scopes: [] });
  });

  test("auto-register: one row per resource or skipped proxy, and a summary", () => {
    const result = { created: ["https://a.example.com"], updated: [], unchanged: ["https://b.example.com/mcp"], skipped: [{ hostname: "*.w.example.com", reason: "a wildcard proxy has no single resource URI" }] };
    expect(autoRegisterRows(result)).toEqual([
      { result: "created", target: "https://a.example.com", reason: null },
      { result: "unchanged", target: "https://b.example.com/mcp", reason: null },
      { result: "skipped", target: "*.w.example.com", reason: "a wildcard proxy has no single resource URI" },
    ]);
    expect(renderAutoRegister(result, "table").split("\n").at(-1)).toBe("Auto-register: 1 created, 0 updated, 1 unchanged, 1 skipped.");
    expect(renderAutoRegister(result, "csv").split("\n")[0]).toBe("Result,Resource (or proxy),Reason");
    expect(JSON.parse(renderAutoRegister(result, "json"))).toEqual(result);
  });

  test("renderValidation: claims flattened, times as ISO dates in a table, raw in csv", () => {
    const result = { valid: true, resource: "https://a.example.com", claims: { sub: "u", exp: 1_800_000_000, aud: ["https://a.example.com"] } };
    const table = renderValidation(result, "table");
    expect(table).toMatch(/│ claims\.exp\s+│ 2027-01-15T08:00:00\.000Z\s+│/);
    expect(table).toMatch(/│ claims\.aud\s+│ https:\/\/a\.example\.com\s+│/);
    expect(renderValidation(result, "csv")).toContain("1800000000");
    expect(JSON.parse(renderValidation(result, "json"))).toEqual(result);
  });

  test("resolveAccessToken: the argument, or stdin's first line with -; empty is refused", async () => {
    expect(await resolveAccessToken("abc", async () => "unused")).toBe("abc");
    expect(await resolveAccessToken("-", async () => " tok ")).toBe("tok");
    await expect(resolveAccessToken("-", async () => "")).rejects.toThrow("stdin gave no token");
    await expect(resolveAccessToken(" ", async () => "")).rejects.toThrow("the token is empty");
  });
});

/** The recipes' command lines (`just --dry-run`): arguments by position, booleans and modes checked before anything runs. */
describe.skipIf(!justBinary)("just recipes (dry run)", () => {
  const HOME = tempDir("home");
  const dryRun = (...args: string[]) => justDryRun(HOME, ["proxy", "resource"], ...args);

  const H = "api.example.com";
  const cases: [string[], string][] = [
    [["proxy-auth-enable", H], `proxy auth-enable '${H}'`],
    [["proxy-auth-enable", H, "auth.example.com", "redirect", "mcp:read,mcp:write", "https://api.example.com/mcp", "tok"],
      `--token 'tok' proxy auth-enable '${H}' --auth-proxy 'auth.example.com' --mode redirect --allowed-scopes 'mcp:read,mcp:write' --allowed-audiences 'https://api.example.com/mcp'`],
    [["proxy-auth-enable", H, "", "passthrough"], `proxy auth-enable '${H}' --mode passthrough`],
    [["proxy-auth-disable", H, "tok"], `--token 'tok' proxy auth-disable '${H}'`],
    // The spec's examples: specific users, every user, and the global default.
    [["proxy-auth-config", H, "alice,bob,charlie", "", "", "", "", "tok"], `--token 'tok' proxy auth-config '${H}' --users 'alice,bob,charlie'`],
    [["proxy-auth-config", H, "*", "", "", "", "", "tok"], `--token 'tok' proxy auth-config '${H}' --users '*'`],
    [["proxy-auth-config", H, "", "", "", "", "", "tok"], `--token 'tok' proxy auth-config '${H}' --users ''`],
    [["proxy-auth-config", H], `proxy auth-config '${H}' --users ''`],
    // Another argument given: empty users means "not given".
    [["proxy-auth-config", H, "", "*@example.com"], `proxy auth-config '${H}' --emails '*@example.com'`],
    [["proxy-auth-config", H, "alice", "a@example.com", "ops", "mcp:read", "https://x.example.com"],
      `proxy auth-config '${H}' --users 'alice' --emails 'a@example.com' --groups 'ops' --allowed-scopes 'mcp:read' --allowed-audiences 'https://x.example.com'`],
    [["proxy-auth-show", H], `proxy auth-show '${H}'`],
    [["proxy-resource-set", H, "/mcp"], `proxy resource-set '${H}' --endpoint '/mcp'`],
    [["proxy-resource-set", H, "/mcp", "mcp:read,mcp:write", "true", "false", "header", "/docs", '{"name":"Tools"}', '{"x":1}', "me@example.com", "tok"],
      `--token 'tok' proxy resource-set '${H}' --endpoint '/mcp' --scopes 'mcp:read,mcp:write' --stateful --no-override-backend --bearer-methods 'header' --doc-suffix '/docs' --server-info '{"name":"Tools"}' --custom-metadata '{"x":1}' --hacker-one-research 'me@example.com'`],
    [["proxy-resource-set", H, "", "", "false", "true"], `proxy resource-set '${H}' --no-stateful --override-backend`],
    [["proxy-resource-clear", H], `proxy resource-clear '${H}'`],
    [["proxy-resource-show", H, "tok"], `--token 'tok' proxy resource-show '${H}'`],
    [["proxy-resource-list"], "proxy resource-list"],
    [["resource-list", "tok"], "--token 'tok' resource list"],
    [["resource-show", "https://api.example.com/mcp"], "resource show 'https://api.example.com/mcp'"],
    [["resource-register", "https://api.example.com/mcp"], "resource register 'https://api.example.com/mcp'"],
    [["resource-register", "https://api.example.com/mcp", "My API", H, "mcp:read", "tok"], `--token 'tok' resource register 'https://api.example.com/mcp' --name 'My API' --proxy '${H}' --scopes 'mcp:read'`],
    [["resource-register", "https://api.example.com/mcp", "", "", "mcp:read"], "resource register 'https://api.example.com/mcp' --scopes 'mcp:read'"],
    [["resource-delete", "https://api.example.com/mcp"], "resource delete 'https://api.example.com/mcp'"],
    [["resource-validate-token", "https://api.example.com/mcp", "eyJ.x.y"], "resource validate-token 'https://api.example.com/mcp' 'eyJ.x.y'"],
    [["resource-validate-token", "https://api.example.com/mcp", "-", "tok"], "--token 'tok' resource validate-token 'https://api.example.com/mcp' '-'"],
    [["resource-auto-register"], "resource auto-register"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await dryRun(...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }

  const refused: [string[], string][] = [
    [["proxy-auth-enable", H, "", "sideways"], "mode: expected forward, redirect or passthrough, got 'sideways'"],
    [["proxy-resource-set", H, "", "", "yes"], "stateful: expected true or false, got 'yes'"],
    [["proxy-resource-set", H, "", "", "", "1"], "override-backend: expected true or false, got '1'"],
    [["resource-validate-token", "https://api.example.com/mcp"], "resource-validate-token"],
  ];
  for (const [args, message] of refused) {
    test(`just ${args.join(" ")} is refused`, async () => {
      const { code, stderr } = await dryRun(...args);
      expect(code).not.toBe(0);
      expect(stderr).toContain(message);
    });
  }
});
