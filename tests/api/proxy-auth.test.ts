/**
 * /api/v1/proxy/targets/{hostname}/auth: a proxy's edge authentication
 * settings, checked and normalised before they are stored; the proxy field
 * auth_forward_bearer; routes' override_proxy_auth and auth_config.
 */
import { describe, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness({ OAUTH_ALLOWED_GITHUB_USERS: "carol,dave" });
const PATH = "/api/v1/proxy/targets/app.example.com/auth";

const createProxy = (hostname = "app.example.com", token?: string) =>
  suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname, target_url: "http://127.0.0.1:3000" }, token });
const stored = async (hostname = "app.example.com") => JSON.parse((await suite.redis.client.get(keys.proxy(hostname)))!);
const newToken = async (name: string) => (await suite.api.call("POST", "/api/v1/tokens/", { body: { name } })).json.token as string;

const DEFAULT_FIELDS = {
  auth_enabled: false,
  auth_proxy: null,
  auth_mode: "forward",
  auth_required_users: null,
  auth_required_emails: null,
  auth_required_groups: null,
  auth_allowed_scopes: null,
  auth_allowed_audiences: null,
  auth_pass_headers: true,
  auth_cookie_name: "unified_auth_token",
  auth_header_prefix: "X-Auth-",
  auth_excluded_paths: null,
  auth_forward_bearer: false,
};

describe("auth settings", () => {
  test("a new proxy: auth off, and the default allowlist lets in OAUTH_ALLOWED_GITHUB_USERS", async () => {
    await createProxy();
    const res = await suite.api.call("GET", PATH);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ hostname: "app.example.com", ...DEFAULT_FIELDS, effective_users: ["carol", "dave"], allowed_users_source: "default" });
  });

  test("the spec's example body is stored in normal form and announced like any proxy change", async () => {
    await createProxy();
    const events = await suite.redis.client.xlen(keys.workflowStream);
    const res = await suite.api.call("POST", PATH, {
      body: {
        auth_enabled: true,
        auth_proxy: "Auth.Example.com",
        auth_mode: "redirect",
        auth_required_users: ["Alice", "bob", "alice"],
        auth_required_emails: ["*@Example.com", "Carol@corp.example.org"],
        auth_allowed_scopes: ["mcp:read", "mcp:write", "mcp:read"],
        auth_allowed_audiences: ["HTTPS://API.example.com/", "https://app.example.com/mcp/"],
        auth_pass_headers: false,
        auth_cookie_name: "portcullis_session",
        auth_header_prefix: "X-User-",
        auth_excluded_paths: ["/health", "/.well-known/*", "/health"],
        auth_forward_bearer: true,
      },
    });
    expect(res.status).toBe(200);
    const expected = {
      hostname: "app.example.com",
      auth_enabled: true,
      auth_proxy: "auth.example.com",
      auth_mode: "redirect",
      auth_required_users: ["alice", "bob"],
      auth_required_emails: ["*@example.com", "carol@corp.example.org"],
      auth_required_groups: null,
      auth_allowed_scopes: ["mcp:read", "mcp:write"],
      auth_allowed_audiences: ["https://api.example.com", "https://app.example.com/mcp"],
      auth_pass_headers: false,
      auth_cookie_name: "portcullis_session",
      auth_header_prefix: "X-User-",
      auth_excluded_paths: ["/health", "/.well-known/*"],
      auth_forward_bearer: true,
      effective_users: ["alice", "bob"],
      allowed_users_source: "proxy",
    };
    expect(res.json).toEqual(expected);
    expect((await suite.api.call("GET", PATH)).json).toEqual(expected);
    const { hostname: _, effective_users: __, allowed_users_source: ___, ...fields } = expected;
    expect(await stored()).toMatchObject(fields);
    const [[, entry]] = (await suite.redis.client.xrevrange(keys.workflowStream, "+", "-", "COUNT", 1)) as [string, string[]][];
    expect(entry.slice(0, 4)).toEqual(["event_type", "proxy_updated", "hostname", "app.example.com"]);
    expect(await suite.redis.client.xlen(keys.workflowStream)).toBe(events + 1);
  });

  test("enabling without auth_proxy names the gateway's own authorization server", async () => {
    await createProxy();
    const res = await suite.api.call("POST", PATH, { body: { auth_enabled: true } });
    expect(res.json).toMatchObject({ auth_enabled: true, auth_proxy: suite.api.authorizationServer.context.settings.authHostnames[0] });
    // An explicit one stays; so does the default once set.
    const other = await suite.api.call("POST", PATH, { body: { auth_proxy: "login.example.com" } });
    expect(other.json.auth_proxy).toBe("login.example.com");
    expect((await suite.api.call("POST", PATH, { body: { auth_mode: "passthrough" } })).json.auth_proxy).toBe("login.example.com");
  });

  test("POST changes only the fields it names; an empty list or null is the default", async () => {
    await createProxy();
    await suite.api.call("POST", PATH, { body: { auth_enabled: true, auth_required_users: ["alice"], auth_excluded_paths: ["/health"], auth_mode: "redirect" } });
    const res = await suite.api.call("POST", PATH, { body: { auth_required_users: [], auth_allowed_scopes: null } });
    expect(res.json).toMatchObject({
      auth_enabled: true,
      auth_mode: "redirect",
      auth_excluded_paths: ["/health"],
      auth_required_users: null,
      effective_users: ["carol", "dave"],
      allowed_users_source: "default",
    });
    expect((await suite.api.call("POST", PATH, { body: {} })).json).toEqual(res.json);
    // Other settings of the proxy are untouched.
    expect(await stored()).toMatchObject({ target_url: "http://127.0.0.1:3000", enabled: true });
  });

  test("an operator's own scopes are required as given", async () => {
    await createProxy();
    const res = await suite.api.call("POST", PATH, { body: { auth_allowed_scopes: ["files:read", "admin", "files:read"] } });
    expect(res.status).toBe(200);
    expect(res.json.auth_allowed_scopes).toEqual(["files:read", "admin"]);
    expect(await stored()).toMatchObject({ auth_allowed_scopes: ["files:read", "admin"] });
  });

  test('["*"] admits every user', async () => {
    await createProxy();
    const res = await suite.api.call("POST", PATH, { body: { auth_required_users: ["*"] } });
    expect(res.json).toMatchObject({ auth_required_users: ["*"], effective_users: ["*"], allowed_users_source: "proxy" });
  });

  test("DELETE turns auth off and puts every field back to its default", async () => {
    await createProxy();
    await suite.api.call("POST", PATH, {
      body: { auth_enabled: true, auth_mode: "redirect", auth_required_users: ["alice"], auth_header_prefix: "X-User-", auth_forward_bearer: true, auth_excluded_paths: ["/x"] },
    });
    const res = await suite.api.call("DELETE", PATH);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ hostname: "app.example.com", ...DEFAULT_FIELDS, effective_users: ["carol", "dave"], allowed_users_source: "default" });
    expect(await stored()).toMatchObject({ ...DEFAULT_FIELDS, target_url: "http://127.0.0.1:3000" });
  });

  test("ownership: the owner and the admin; anyone else gets 404, no token 401, and nothing is written", async () => {
    const alice = await newToken("alice");
    const bob = await newToken("bob");
    await createProxy("app.example.com", alice);
    expect((await suite.api.call("POST", PATH, { token: alice, body: { auth_enabled: true } })).status).toBe(200);
    expect((await suite.api.call("GET", PATH, { token: alice })).json.auth_enabled).toBe(true);
    expect((await suite.api.call("GET", PATH)).status).toBe(200);

    const before = await snapshot(suite.redis);
    for (const method of ["GET", "POST", "DELETE"]) {
      const body = method === "POST" ? { auth_enabled: false } : undefined;
      const res = await suite.api.call(method, PATH, { token: bob, body });
      expect([method, res.status, res.json.error]).toEqual([method, 404, "not_found"]);
      const anonymous = await suite.api.call(method, PATH, { token: null, body });
      expect([method, anonymous.status]).toEqual([method, 401]);
    }
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("an unknown proxy is 404", async () => {
    for (const method of ["GET", "POST", "DELETE"]) {
      const res = await suite.api.call(method, "/api/v1/proxy/targets/ghost.example.com/auth", { body: method === "POST" ? {} : undefined });
      expect([method, res.status, res.json.error]).toEqual([method, 404, "not_found"]);
    }
  });
});

describe("bad auth values get a 422 naming the field and write nothing", () => {
  const cases: [string, unknown, RegExp][] = [
    ["unknown field", { auth_type: "oauth" }, /auth_type/],
    ["unknown mode", { auth_mode: "basic" }, /auth_mode/],
    ["auth_proxy a URL", { auth_proxy: "https://auth.example.com" }, /^auth_proxy: .*not a hostname/],
    ["auth_proxy a wildcard", { auth_proxy: "*.example.com" }, /^auth_proxy: .*wildcard/],
    ["users: a partial wildcard", { auth_required_users: ["ali*"] }, /^auth_required_users: .*only wildcard/],
    ["users: * with names", { auth_required_users: ["*", "alice"] }, /^auth_required_users: .*alone/],
    ["users: a space", { auth_required_users: ["al ice"] }, /^auth_required_users: .*not a login/],
    ["emails: no domain", { auth_required_emails: ["alice"] }, /^auth_required_emails: /],
    ["emails: a wildcard domain", { auth_required_emails: ["alice@*.example.com"] }, /^auth_required_emails: /],
    ["emails: a partial wildcard", { auth_required_emails: ["a*@example.com"] }, /^auth_required_emails: /],
    ["groups", { auth_required_groups: ["admins"] }, /^auth_required_groups: not supported/],
    ["scopes: a space inside", { auth_allowed_scopes: ["mcp:read", "files read"] }, /^auth_allowed_scopes: scope "files read" contains a character a scope cannot/],
    ["scopes: a control character", { auth_allowed_scopes: ["files\u0000read"] }, /^auth_allowed_scopes: scope .* contains a character a scope cannot/],
    ["scopes: non-ASCII", { auth_allowed_scopes: ["fichiers:lire\u00e9"] }, /^auth_allowed_scopes: scope .* contains a character a scope cannot/],
    ["scopes: 129 characters", { auth_allowed_scopes: ["s".repeat(129)] }, /^auth_allowed_scopes/],
    ["scopes: 51 of them", { auth_allowed_scopes: Array.from({ length: 51 }, (_, i) => `s${i}`) }, /^auth_allowed_scopes/],
    ["audiences: http", { auth_allowed_audiences: ["http://api.example.com"] }, /^auth_allowed_audiences: .*https/],
    ["audiences: a query", { auth_allowed_audiences: ["https://api.example.com/?a=1"] }, /^auth_allowed_audiences: .*query/],
    ["audiences: not a URL", { auth_allowed_audiences: ["api.example.com"] }, /^auth_allowed_audiences: /],
    ["excluded path without /", { auth_excluded_paths: ["health"] }, /^auth_excluded_paths: .*start with \//],
    ["excluded path with a query", { auth_excluded_paths: ["/a?b"] }, /^auth_excluded_paths: /],
    ["header prefix without -", { auth_header_prefix: "X-Auth" }, /^auth_header_prefix: .*ending with -/],
    ["header prefix X-Forwarded-", { auth_header_prefix: "X-Forwarded-" }, /^auth_header_prefix: .*gateway sets/],
    ["header prefix X-", { auth_header_prefix: "X-" }, /^auth_header_prefix: .*gateway sets/],
    ["header prefix Proxy-", { auth_header_prefix: "Proxy-Auth-" }, /^auth_header_prefix: .*gateway sets/],
    ["cookie name with a space", { auth_cookie_name: "my cookie" }, /auth_cookie_name/],
    ["a string for a boolean", { auth_enabled: "yes" }, /auth_enabled/],
  ];
  for (const [name, body, detail] of cases) {
    test(name, async () => {
      await createProxy();
      await suite.api.call("POST", PATH, { body: { auth_enabled: true, auth_required_users: ["alice"] } });
      const before = await snapshot(suite.redis);
      const res = await suite.api.call("POST", PATH, { body });
      expect(res.status).toBe(422);
      expect(res.json.error).toBe("invalid_request");
      expect(res.json.detail).toMatch(detail);
      expect(await snapshot(suite.redis)).toEqual(before);
    });
  }

  test("the same rules hold when the fields come through PUT /proxy/targets/{hostname}", async () => {
    await createProxy();
    const before = await snapshot(suite.redis);
    const res = await suite.api.call("PUT", "/api/v1/proxy/targets/app.example.com", { body: { auth_excluded_paths: ["health"] } });
    expect([res.status, res.json.detail]).toEqual([422, expect.stringMatching(/^auth_excluded_paths: /)]);
    expect(await snapshot(suite.redis)).toEqual(before);
    const ok = await suite.api.call("PUT", "/api/v1/proxy/targets/app.example.com", { body: { auth_required_users: ["Alice"] } });
    expect(ok.json.auth_required_users).toEqual(["alice"]);
  });

  test("a body that is not JSON is a 400", async () => {
    await createProxy();
    const res = await suite.api.call("POST", PATH, { raw: "{" });
    expect([res.status, res.json.error]).toEqual([400, "invalid_json"]);
  });
});

describe("auth_forward_bearer on the proxy", () => {
  test("round-trips through create, show and update, default false", async () => {
    const created = await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "a.example.com", target_url: "http://127.0.0.1:3000" } });
    expect(created.json.auth_forward_bearer).toBe(false);
    const on = await suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: "b.example.com", target_url: "http://127.0.0.1:3000", auth_forward_bearer: true } });
    expect(on.json.auth_forward_bearer).toBe(true);
    const off = await suite.api.call("PUT", "/api/v1/proxy/targets/b.example.com", { body: { auth_forward_bearer: false } });
    expect(off.json.auth_forward_bearer).toBe(false);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/b.example.com")).json.auth_forward_bearer).toBe(false);
    const bad = await suite.api.call("PUT", "/api/v1/proxy/targets/b.example.com", { body: { auth_forward_bearer: "true" } });
    expect(bad.status).toBe(422);
  });

  test("a record stored before the field existed reads as false, and keeps working through updates", async () => {
    await createProxy();
    const record = await stored();
    delete record.auth_forward_bearer;
    await suite.redis.client.set(keys.proxy("app.example.com"), JSON.stringify(record));
    expect((await suite.api.proxies.get("app.example.com"))!.auth_forward_bearer).toBe(false);
    expect((await suite.api.proxies.list())[0]!.auth_forward_bearer).toBe(false);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/app.example.com")).json.auth_forward_bearer).toBe(false);
    expect((await suite.api.call("GET", PATH)).json.auth_forward_bearer).toBe(false);
    const res = await suite.api.call("POST", PATH, { body: { auth_enabled: true } });
    expect(res.json.auth_forward_bearer).toBe(false);
    expect((await stored()).auth_forward_bearer).toBe(false);
  });
});

describe("route auth override", () => {
  const ROUTE = { path_pattern: "/health", target_type: "url", target_value: "http://127.0.0.1:4000" };

  test("a new route overrides nothing; both fields round-trip through create, show and update", async () => {
    const plain = await suite.api.call("POST", "/api/v1/routes/", { body: { ...ROUTE, route_id: "plain" } });
    expect(plain.status).toBe(201);
    expect(plain.json).toMatchObject({ override_proxy_auth: false, auth_config: null });

    const pub = await suite.api.call("POST", "/api/v1/routes/", { body: { ...ROUTE, route_id: "public-health", priority: 60, override_proxy_auth: true, auth_config: { auth_type: "none" } } });
    expect(pub.status).toBe(201);
    expect(pub.json).toMatchObject({ override_proxy_auth: true, auth_config: { auth_type: "none" } });
    expect((await suite.api.call("GET", "/api/v1/routes/public-health")).json).toMatchObject({ override_proxy_auth: true, auth_config: { auth_type: "none" } });

    const oauth = await suite.api.call("PUT", "/api/v1/routes/public-health", { body: { auth_config: { auth_type: "oauth", required_scopes: ["mcp:admin", "mcp:admin"] } } });
    expect(oauth.status).toBe(200);
    expect(oauth.json).toMatchObject({ override_proxy_auth: true, auth_config: { auth_type: "oauth", required_scopes: ["mcp:admin"] }, path_pattern: "/health" });
    const stored = JSON.parse((await suite.redis.client.get(keys.route("public-health")))!);
    expect(stored).toMatchObject({ override_proxy_auth: true, auth_config: { auth_type: "oauth", required_scopes: ["mcp:admin"] } });

    const own = await suite.api.call("PUT", "/api/v1/routes/public-health", { body: { auth_config: { auth_type: "oauth", required_scopes: ["health:read"] } } });
    expect([own.status, own.json.auth_config]).toEqual([200, { auth_type: "oauth", required_scopes: ["health:read"] }]);

    const off = await suite.api.call("PUT", "/api/v1/routes/public-health", { body: { override_proxy_auth: false, auth_config: null } });
    expect(off.json).toMatchObject({ override_proxy_auth: false, auth_config: null });
  });

  const bad: [string, unknown, RegExp][] = [
    ["override without a config", { override_proxy_auth: true }, /^auth_config: .*override_proxy_auth/],
    ["an unknown auth_type", { override_proxy_auth: true, auth_config: { auth_type: "bearer" } }, /auth_config/],
    ["an unknown key in auth_config", { auth_config: { auth_type: "none", users: ["a"] } }, /auth_config/],
    ["scopes on a public route", { auth_config: { auth_type: "none", required_scopes: ["mcp:read"] } }, /^auth_config.required_scopes: .*public/],
    ["a malformed scope", { auth_config: { auth_type: "oauth", required_scopes: ['say "root"'] } }, /^auth_config.required_scopes: scope .* contains a character a scope cannot/],
    ["a string for the boolean", { override_proxy_auth: "yes", auth_config: { auth_type: "none" } }, /override_proxy_auth/],
  ];
  for (const [name, body, detail] of bad) {
    test(`refused: ${name}`, async () => {
      const before = await snapshot(suite.redis);
      const res = await suite.api.call("POST", "/api/v1/routes/", { body: { ...ROUTE, ...(body as object) } });
      expect([res.status, res.json.error]).toEqual([422, "invalid_request"]);
      expect(res.json.detail).toMatch(detail);
      expect(await snapshot(suite.redis)).toEqual(before);
    });
  }

  test("PUT checks the merged route: turning the override on needs a config", async () => {
    await suite.api.call("POST", "/api/v1/routes/", { body: { ...ROUTE, route_id: "r1" } });
    const res = await suite.api.call("PUT", "/api/v1/routes/r1", { body: { override_proxy_auth: true } });
    expect([res.status, res.json.detail]).toEqual([422, expect.stringMatching(/^auth_config: /)]);
    expect((await suite.api.call("GET", "/api/v1/routes/r1")).json.override_proxy_auth).toBe(false);
  });

  test("a route stored before the fields existed reads as no override, and can be updated", async () => {
    await suite.api.call("POST", "/api/v1/routes/", { body: { ...ROUTE, route_id: "old" } });
    const record = JSON.parse((await suite.redis.client.get(keys.route("old")))!);
    delete record.override_proxy_auth;
    delete record.auth_config;
    await suite.redis.client.set(keys.route("old"), JSON.stringify(record));
    expect(await suite.api.routes.get("old")).toMatchObject({ override_proxy_auth: false, auth_config: null });
    expect((await suite.api.call("GET", "/api/v1/routes/")).json.find((r: { route_id: string }) => r.route_id === "old")).toMatchObject({ override_proxy_auth: false, auth_config: null });
    const res = await suite.api.call("PUT", "/api/v1/routes/old", { body: { description: "kept" } });
    expect(res.json).toMatchObject({ description: "kept", override_proxy_auth: false, auth_config: null });
  });
});
