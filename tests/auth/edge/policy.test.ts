/** compileEdgeAuthPolicy: what a proxy record compiles to, and the matchers' rules. */
import { describe, expect, test } from "bun:test";
import { compileEdgeAuthPolicy, compileRouteAuthPolicy, normalizeEndpoint, pathMatcher } from "../../../src/auth/edge/policy";
import type { ProxyRecord } from "../../../src/storage/proxy-repository";
import { proxyRecord } from "../../helpers/records";

const SETTINGS = { issuer: "https://auth.example.test", allowedUsers: ["Global-User"] };
const compile = (overrides: Partial<ProxyRecord>) => compileEdgeAuthPolicy(proxyRecord("mcp.example.test", { auth_enabled: true, ...overrides }), SETTINGS)!;

describe("compileEdgeAuthPolicy", () => {
  test("null when the proxy does not authenticate", () => {
    expect(compileEdgeAuthPolicy(proxyRecord("a.example.test", { auth_enabled: false, auth_required_users: ["x"] }), SETTINGS)).toBeNull();
  });

  test("the defaults of a proxy that just turned auth on", () => {
    const policy = compile({});
    expect({
      hostname: policy.hostname,
      mode: policy.mode,
      resourceEndpoint: policy.resourceEndpoint,
      allowedAudiences: policy.allowedAudiences,
      requiredScopes: policy.requiredScopes,
      scopeHint: policy.scopeHint,
      users: policy.users,
      emails: policy.emails,
      excludedPaths: policy.excludedPaths,
      passHeaders: policy.passHeaders,
      headerPrefix: policy.headerPrefix,
      cookieName: policy.cookieName,
      authProxy: policy.authProxy,
      issuer: policy.issuer,
      forwardBearer: policy.forwardBearer,
    }).toEqual({
      hostname: "mcp.example.test",
      mode: "forward",
      resourceEndpoint: "",
      allowedAudiences: [],
      requiredScopes: [],
      scopeHint: "",
      users: ["Global-User"],
      emails: null,
      excludedPaths: [],
      passHeaders: true,
      headerPrefix: "X-Auth-",
      cookieName: "unified_auth_token",
      authProxy: null,
      issuer: "https://auth.example.test",
      forwardBearer: false,
    });
    expect(policy.isExcluded("/")).toBe(false);
    expect(policy.emailAllowed(undefined)).toBe(true);
    expect(policy.identityHeaderNames).toEqual({
      prefixLower: "x-auth-",
      userId: "X-Auth-User-Id",
      user: "X-Auth-User",
      userName: "X-Auth-User-Name",
      email: "X-Auth-Email",
      scopes: "X-Auth-Scopes",
      clientId: "X-Auth-Client-Id",
    });
  });

  test("configured fields", () => {
    const policy = compile({
      auth_mode: "redirect",
      auth_proxy: "auth.example.test",
      resource_endpoint: "/mcp/",
      resource_scopes: ["mcp:read", "mcp:write"],
      auth_allowed_scopes: ["mcp:admin", "mcp:read"],
      auth_allowed_audiences: ["HTTPS://Api.Example.Test:443/", "not a url"],
      auth_required_users: ["alice"],
      auth_pass_headers: false,
      auth_header_prefix: "X-User-",
      auth_cookie_name: "sess",
      oauth_server_override_defaults: true,
      oauth_server_issuer: "https://mcp.example.test/",
      ...({ auth_forward_bearer: true } as Partial<ProxyRecord>),
    });
    expect(policy.mode).toBe("redirect");
    expect(policy.authProxy).toBe("auth.example.test");
    expect(policy.resourceEndpoint).toBe("/mcp");
    expect(policy.requiredScopes).toEqual(["mcp:admin", "mcp:read"]);
    expect(policy.scopeHint).toBe("mcp:read mcp:write mcp:admin");
    expect(policy.allowedAudiences).toEqual(["https://api.example.test", "not a url"]);
    expect(policy.users).toEqual(["alice"]);
    expect(policy.passHeaders).toBe(false);
    expect(policy.headerPrefix).toBe("X-User-");
    expect(policy.identityHeaderNames.prefixLower).toBe("x-user-");
    expect(policy.identityHeaderNames.userId).toBe("X-User-User-Id");
    expect(policy.cookieName).toBe("sess");
    expect(policy.issuer).toBe("https://mcp.example.test");
    expect(policy.forwardBearer).toBe(true);
  });

  test("users: the proxy's list, else the global one; case-insensitive; ['*'] admits all; [] falls back", () => {
    const own = compile({ auth_required_users: ["Alice", "bob"] });
    expect(own.userAllowed("alice")).toBe(true);
    expect(own.userAllowed("BOB")).toBe(true);
    expect(own.userAllowed("global-user")).toBe(false);
    expect(own.userAllowed(undefined)).toBe(false);
    const fallback = compile({ auth_required_users: [] });
    expect(fallback.users).toEqual(["Global-User"]);
    expect(fallback.userAllowed("global-user")).toBe(true);
    expect(fallback.userAllowed("alice")).toBe(false);
    const all = compile({ auth_required_users: ["*"] });
    expect(all.userAllowed("anyone")).toBe(true);
    expect(all.userAllowed(undefined)).toBe(true);
    const nobody = compileEdgeAuthPolicy(proxyRecord("a.example.test", { auth_enabled: true }), { issuer: SETTINGS.issuer, allowedUsers: [] })!;
    expect(nobody.userAllowed("alice")).toBe(false);
  });

  test("emails: exact or *@domain, case-insensitive; null or [] means no check", () => {
    const policy = compile({ auth_required_emails: ["*@Example.test", "Bob@Partner.test"] });
    expect(policy.emails).toEqual(["*@Example.test", "Bob@Partner.test"]);
    expect(policy.emailAllowed("alice@example.test")).toBe(true);
    expect(policy.emailAllowed("ALICE@EXAMPLE.TEST")).toBe(true);
    expect(policy.emailAllowed("bob@partner.test")).toBe(true);
    expect(policy.emailAllowed("carol@partner.test")).toBe(false);
    expect(policy.emailAllowed("alice@sub.example.test")).toBe(false);
    expect(policy.emailAllowed("alice@example.test.evil")).toBe(false);
    expect(policy.emailAllowed("example.test")).toBe(false);
    expect(policy.emailAllowed(undefined)).toBe(false);
    expect(compile({ auth_required_emails: [] }).emails).toBeNull();
    expect(compile({ auth_required_emails: [] }).emailAllowed(undefined)).toBe(true);
  });

  test("route overrides: none is public, oauth applies the proxy's checks plus the route's scopes, even with proxy auth off", () => {
    const proxy = proxyRecord("a.example.test", { auth_enabled: false, auth_allowed_scopes: ["mcp:read"], auth_excluded_paths: ["/x"] });
    expect(compileRouteAuthPolicy(proxy, SETTINGS, { auth_type: "none" })).toBeNull();
    const route = compileRouteAuthPolicy(proxy, SETTINGS, { auth_type: "oauth", required_scopes: ["mcp:read", "mcp:write"] })!;
    expect(route.requiredScopes).toEqual(["mcp:read", "mcp:write"]);
    expect(route.isExcluded("/x")).toBe(false);
    expect(compileRouteAuthPolicy(proxy, SETTINGS, { auth_type: "oauth" })!.requiredScopes).toEqual(["mcp:read"]);
  });
});

describe("excluded paths", () => {
  const excluded = pathMatcher(["/health", "/.well-known/*", "/api/*/public", "/static/"]);

  test("a pattern without * matches that path, and with one trailing slash", () => {
    expect(excluded("/health")).toBe(true);
    expect(excluded("/health/")).toBe(true);
    expect(excluded("/healthz")).toBe(false);
    expect(excluded("/health/x")).toBe(false);
    expect(excluded("/Health")).toBe(false);
    expect(excluded("/static/")).toBe(true);
    expect(excluded("/static")).toBe(false);
  });

  test("* matches any run of characters, / included", () => {
    expect(excluded("/.well-known/oauth-protected-resource")).toBe(true);
    expect(excluded("/.well-known/oauth-protected-resource/mcp")).toBe(true);
    expect(excluded("/.well-known/")).toBe(true);
    expect(excluded("/.well-known")).toBe(false);
    expect(excluded("/api/v1/public")).toBe(true);
    expect(excluded("/api/v1/v2/public")).toBe(true);
    expect(excluded("/api/v1/public/")).toBe(true);
    expect(excluded("/api/v1/private")).toBe(false);
  });

  test("every other character is literal", () => {
    const dots = pathMatcher(["/a.b", "/q?x", "/(x)+"]);
    expect(dots("/a.b")).toBe(true);
    expect(dots("/axb")).toBe(false);
    expect(dots("/q?x")).toBe(true);
    expect(dots("/qx")).toBe(false);
    expect(dots("/(x)+")).toBe(true);
    expect(dots("/xx")).toBe(false);
  });

  test("a path with an encoded slash, dot or backslash is never excluded", () => {
    expect(excluded("/.well-known/%2e%2e/admin")).toBe(false);
    expect(excluded("/.well-known/..%2Fadmin")).toBe(false);
    expect(excluded("/.well-known/a%5cb")).toBe(false);
    expect(excluded("/.well-known/a\\b")).toBe(false);
    expect(excluded("/api/x%2Fy/public")).toBe(false);
  });

  test("no patterns exclude nothing", () => {
    expect(pathMatcher([])("/")).toBe(false);
  });
});

test("resource endpoints are kept without trailing slashes", () => {
  expect(normalizeEndpoint(null)).toBe("");
  expect(normalizeEndpoint("")).toBe("");
  expect(normalizeEndpoint("/")).toBe("");
  expect(normalizeEndpoint("/mcp")).toBe("/mcp");
  expect(normalizeEndpoint("/mcp//")).toBe("/mcp");
  expect(normalizeEndpoint("mcp")).toBe("/mcp");
});
