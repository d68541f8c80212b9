/** Identity headers: client-sent ones never reach the backend; verified ones do; the bearer token only when asked. */
import { describe, expect, test } from "bun:test";
import { cookieHeaderWithout, hasBearerCredential, identityHeaderPairs, isBearer, identityRewrite, stripIdentityHeaders, upstreamIdentity } from "../../../src/auth/edge/identity-headers";
import type { EdgeAuthPolicy } from "../../../src/auth/edge/policy";
import { forwardTarget } from "../../../src/proxies/forward-target";
import { visitUpstreamRequestHeaders } from "../../../src/proxies/headers";
import { compileEdgeAuthPolicy } from "../../../src/auth/edge/policy";
import type { AccessTokenClaims } from "../../../src/auth/tokens/access-token";
import type { ProxyRecord } from "../../../src/storage/proxy-repository";
import { proxyRecord } from "../../helpers/records";

const SETTINGS = { issuer: "https://auth.example.test", allowedUsers: ["*"] };
const policy = (overrides: Partial<ProxyRecord> & { auth_forward_bearer?: boolean } = {}) =>
  compileEdgeAuthPolicy(proxyRecord("app.example.test", { auth_enabled: true, ...overrides }), SETTINGS)!;

const IDENTITY: AccessTokenClaims = {
  iss: "https://auth.example.test",
  sub: "github-1",
  aud: ["https://app.example.test"],
  client_id: "client-1",
  azp: "client-1",
  scope: "mcp:read mcp:write",
  jti: "jti-1",
  iat: 1,
  exp: 2,
  login: "alice",
  email: "alice@example.test",
};

/** What a spoofing client sends. */
function spoofed(extra: Record<string, string> = {}): Headers {
  return new Headers({
    "X-Auth-User-Id": "github-666",
    "X-Auth-User": "root",
    "x-auth-user-name": "root",
    "X-AUTH-EMAIL": "root@example.test",
    "X-Auth-Groups": "admins",
    "X-User-User-Id": "github-666",
    accept: "application/json",
    "x-request-id": "r-1",
    ...extra,
  });
}

const entries = (headers: Headers) => Object.fromEntries(headers.entries());

const TARGET = forwardTarget("http://10.0.0.5:3000");
const SET_BY_THE_ENGINE = new Set(["host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip"]);

/**
 * The real upstream pass with the edge's plan for this request
 * (identityRewrite), written back into `headers` minus what the engine adds
 * for every request, so each test reads what the backend receives.
 */
function applyIdentityHeaders(headers: Headers, policy: EdgeAuthPolicy, identity: AccessTokenClaims | null, bearerPresent: boolean): void {
  const upstream: [string, string][] = [];
  const context = { clientIp: "127.0.0.1", proto: "https" as const, trustedPeer: false, identity: identityRewrite(policy, identity, bearerPresent) };
  visitUpstreamRequestHeaders(headers, TARGET, context, (name, value) => void upstream.push([name, value]));
  for (const name of [...headers.keys()]) headers.delete(name);
  for (const [name, value] of upstream) if (!SET_BY_THE_ENGINE.has(name)) headers.append(name, value);
}

describe("what the backend receives (the engine's pass with the edge's plan)", () => {
  test("spoofed headers are replaced by the verified identity", () => {
    const headers = spoofed();
    applyIdentityHeaders(headers, policy(), IDENTITY, false);
    expect(entries(headers)).toEqual({
      accept: "application/json",
      "x-request-id": "r-1",
      "x-user-user-id": "github-666",
      "x-auth-user-id": "github-1",
      "x-auth-user": "alice",
      "x-auth-user-name": "alice",
      "x-auth-email": "alice@example.test",
      "x-auth-scopes": "mcp:read mcp:write",
      "x-auth-client-id": "client-1",
    });
  });

  test("no identity (excluded path, passthrough with a bad token): spoofed headers go, none are set", () => {
    const headers = spoofed();
    applyIdentityHeaders(headers, policy(), null, false);
    expect(entries(headers)).toEqual({ accept: "application/json", "x-request-id": "r-1", "x-user-user-id": "github-666" });
  });

  test("without auth_pass_headers nothing is set, and spoofed headers still go", () => {
    const headers = spoofed();
    applyIdentityHeaders(headers, policy({ auth_pass_headers: false }), IDENTITY, false);
    expect(entries(headers)).toEqual({ accept: "application/json", "x-request-id": "r-1", "x-user-user-id": "github-666" });
  });

  test("a custom prefix: its headers and X-Auth-* are stripped; the identity uses the prefix", () => {
    const headers = spoofed();
    applyIdentityHeaders(headers, policy({ auth_header_prefix: "X-User-" }), { ...IDENTITY, email: undefined, login: undefined }, false);
    expect(entries(headers)).toEqual({
      accept: "application/json",
      "x-request-id": "r-1",
      "x-user-user-id": "github-1",
      "x-user-scopes": "mcp:read mcp:write",
      "x-user-client-id": "client-1",
    });
  });

  test("the login goes as {prefix}User and {prefix}User-Name; a spoofed {prefix}User is replaced", () => {
    const headers = spoofed({ "X-Ident-User": "root" });
    applyIdentityHeaders(headers, policy({ auth_header_prefix: "X-Ident-" }), IDENTITY, false);
    expect(headers.get("x-ident-user")).toBe("alice");
    expect(headers.get("x-ident-user-name")).toBe("alice");
    expect(headers.get("x-auth-user")).toBeNull();
  });

  test("the bearer token and the auth cookie are removed unless the proxy forwards them", () => {
    const request = () => new Headers({ authorization: "Bearer abc.def.ghi", cookie: "theme=dark; unified_auth_token=abc.def.ghi; lang=en" });
    const stripped = request();
    applyIdentityHeaders(stripped, policy(), IDENTITY, hasBearerCredential(stripped));
    expect(stripped.get("authorization")).toBeNull();
    expect(stripped.get("cookie")).toBe("theme=dark; lang=en");

    const forwarded = request();
    applyIdentityHeaders(forwarded, policy({ auth_forward_bearer: true }), IDENTITY, hasBearerCredential(forwarded));
    expect(forwarded.get("authorization")).toBe("Bearer abc.def.ghi");
    expect(forwarded.get("cookie")).toBe("theme=dark; unified_auth_token=abc.def.ghi; lang=en");
  });

  test("another Authorization scheme is the backend's business; a lone auth cookie takes the Cookie header with it", () => {
    const headers = new Headers({ authorization: "Basic YWxpY2U6c2VjcmV0", cookie: "unified_auth_token=abc" });
    applyIdentityHeaders(headers, policy({ auth_cookie_name: "unified_auth_token" }), null, hasBearerCredential(headers));
    expect(headers.get("authorization")).toBe("Basic YWxpY2U6c2VjcmV0");
    expect(headers.get("cookie")).toBeNull();
  });

  test("a cookie whose name merely contains the auth cookie's name stays", () => {
    const headers = new Headers({ cookie: "my_unified_auth_token=1; unified_auth_token_old=2" });
    applyIdentityHeaders(headers, policy(), null, false);
    expect(headers.get("cookie")).toBe("my_unified_auth_token=1; unified_auth_token_old=2");
  });
});

describe("stripIdentityHeaders (proxies with auth off)", () => {
  test("the default prefix", () => {
    const headers = spoofed();
    stripIdentityHeaders(headers, "X-Auth-");
    expect(entries(headers)).toEqual({ accept: "application/json", "x-request-id": "r-1", "x-user-user-id": "github-666" });
  });

  test("a custom prefix, and X-Auth-* with it", () => {
    const headers = spoofed();
    stripIdentityHeaders(headers, "X-User-");
    expect(entries(headers)).toEqual({ accept: "application/json", "x-request-id": "r-1" });
  });

  test("credentials are left alone when auth is off", () => {
    const headers = new Headers({ authorization: "Bearer abc", cookie: "unified_auth_token=abc" });
    stripIdentityHeaders(headers, "X-Auth-");
    expect(headers.get("authorization")).toBe("Bearer abc");
    expect(headers.get("cookie")).toBe("unified_auth_token=abc");
  });
});

test("hasBearerCredential: the scheme is case-insensitive and must be Bearer", () => {
  expect(hasBearerCredential(new Headers({ authorization: "Bearer x" }))).toBe(true);
  expect(hasBearerCredential(new Headers({ authorization: "bearer x" }))).toBe(true);
  expect(hasBearerCredential(new Headers({ authorization: "Bearer" }))).toBe(true);
  expect(hasBearerCredential(new Headers({ authorization: "Bearerx y" }))).toBe(false);
  expect(hasBearerCredential(new Headers({ authorization: "Basic x" }))).toBe(false);
  expect(hasBearerCredential(new Headers())).toBe(false);
});

test("isBearer: any case of each letter of the scheme, then the end or a space; nothing else", () => {
  for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) {
    expect(isBearer(scheme)).toBe(true);
    expect(isBearer(`${scheme} token`)).toBe(true);
  }
  // Characters one bit (0x20) away from a letter are not that letter; a tab is not the space the scheme ends with.
  for (const value of ["Beare", "Bearer\ttoken", "Bearer,token", "Bearerx", "Bearer_", "Basic x", "Bea\x02er x", "\x02earer x", "Bearer\x00", "Bear\x12r x", ""]) {
    expect(isBearer(value)).toBe(false);
  }
});

describe("identityHeaderPairs (for a forwarder writing the head itself)", () => {
  test("the same pairs applyIdentityHeaders sets, built once per token and policy", () => {
    const p = policy();
    const pairs = identityHeaderPairs(p, IDENTITY);
    expect(pairs).toEqual([
      ["X-Auth-User-Id", "github-1"],
      ["X-Auth-User", "alice"],
      ["X-Auth-User-Name", "alice"],
      ["X-Auth-Email", "alice@example.test"],
      ["X-Auth-Scopes", "mcp:read mcp:write"],
      ["X-Auth-Client-Id", "client-1"],
    ]);
    expect(identityHeaderPairs(p, IDENTITY)).toBe(pairs);
    expect(identityHeaderPairs(policy({ auth_header_prefix: "X-Id-" }), IDENTITY)[0]).toEqual(["X-Id-User-Id", "github-1"]);
  });

  test("none without an identity or without auth_pass_headers; a value with a line break is never sent", () => {
    expect(identityHeaderPairs(policy(), null)).toEqual([]);
    expect(identityHeaderPairs(policy({ auth_pass_headers: false }), IDENTITY)).toEqual([]);
    const names = identityHeaderPairs(policy(), { ...IDENTITY, login: "alice\r\nX-Admin: 1" }).map(([name]) => name);
    expect(names).toEqual(["X-Auth-User-Id", "X-Auth-Email", "X-Auth-Scopes", "X-Auth-Client-Id"]);
  });
});

describe("upstreamIdentity (the same rules as a plan for the forwarder's single header pass)", () => {
  test("strip prefix, identity pairs, and the credential to drop", () => {
    const p = policy({ auth_header_prefix: "X-User-" });
    expect(upstreamIdentity(p, IDENTITY, true)).toEqual({
      stripPrefix: "x-user-",
      headers: identityHeaderPairs(p, IDENTITY),
      dropAuthorization: true,
      dropCookie: "unified_auth_token",
    });
    expect(upstreamIdentity(p, null, false)).toEqual({ stripPrefix: "x-user-", headers: [], dropAuthorization: false, dropCookie: "unified_auth_token" });
    const forwarding = policy({ auth_forward_bearer: true });
    expect(upstreamIdentity(forwarding, IDENTITY, true)).toMatchObject({ dropAuthorization: false, dropCookie: null });
  });

  test("cookieHeaderWithout", () => {
    expect(cookieHeaderWithout("a=1; unified_auth_token=x; b=2", "unified_auth_token")).toBe("a=1; b=2");
    expect(cookieHeaderWithout("unified_auth_token=x", "unified_auth_token")).toBeNull();
    expect(cookieHeaderWithout("a=1;b=2", "unified_auth_token")).toBe("a=1;b=2");
    expect(cookieHeaderWithout("my_unified_auth_token=1", "unified_auth_token")).toBe("my_unified_auth_token=1");
  });
});
