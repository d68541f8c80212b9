/**
 * authenticateAtEdge for each auth mode and each kind of token, with real
 * signing keys, real tokens and revocation through the real token store: the
 * decision, and for denials the exact status, WWW-Authenticate and body.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPair, SignJWT } from "jose";
import pino from "pino";
import { authenticateAtEdge, hasScope, type EdgeAuthDecision, type EdgeRequestFacts } from "../../../src/auth/edge/authenticate";
import { EdgeTokenVerifier } from "../../../src/auth/edge/edge-tokens";
import { compileEdgeAuthPolicy, compileRouteAuthPolicy, type EdgeAuthPolicy } from "../../../src/auth/edge/policy";
import { metadataUrlFor } from "../../../src/auth/edge/request-origin";
import { signAccessToken, type AccessTokenClaims } from "../../../src/auth/tokens/access-token";
import { RevokedTokens } from "../../../src/auth/tokens/revoked-tokens";
import { SigningKeys } from "../../../src/auth/tokens/signing-keys";
import { TokenStore } from "../../../src/auth/tokens/token-store";
import type { AuthMode, ProxyRecord } from "../../../src/storage/proxy-repository";
import { proxyRecord } from "../../helpers/records";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

const ISSUER = "https://auth.example.test";
const HOST = "mcp.example.test";
const RESOURCE = `https://${HOST}/mcp`;
const METADATA_URL = `https://${HOST}/.well-known/oauth-protected-resource/mcp`;
const AS_URI = `${ISSUER}/.well-known/oauth-authorization-server`;
const BASE_CHALLENGE = `Bearer realm="${HOST}", resource_metadata="${METADATA_URL}", as_uri="${AS_URI}", resource_uri="${METADATA_URL}"`;
const silent = pino({ level: "silent" });

let redis: TestRedis;
let otherRedis: TestRedis;
let keys: SigningKeys;
let revoked: RevokedTokens;
let verifier: EdgeTokenVerifier;
const tokens: Record<string, string> = {};
let validClaims: AccessTokenClaims;

const baseClaims = (overrides: Partial<AccessTokenClaims> = {}): Omit<AccessTokenClaims, "jti" | "iat" | "exp"> => ({
  iss: ISSUER,
  sub: "github-1",
  aud: [RESOURCE],
  client_id: "client-1",
  azp: "client-1",
  scope: "mcp:read mcp:write",
  login: "alice",
  email: "alice@example.test",
  ...overrides,
});

beforeAll(async () => {
  [redis, otherRedis] = await Promise.all([startTestRedis(), startTestRedis()]);
  keys = new SigningKeys(redis.client, { jwtAlgorithm: "RS256", jwtPrivateKeyPem: null, accessTokenLifetimeSeconds: 1800 }, silent);
  const otherGatewayKeys = new SigningKeys(otherRedis.client, { jwtAlgorithm: "RS256", jwtPrivateKeyPem: null, accessTokenLifetimeSeconds: 1800 }, silent);
  await Promise.all([keys.start(), otherGatewayKeys.start()]);
  revoked = new RevokedTokens(redis.client);
  verifier = new EdgeTokenVerifier(keys, revoked);
  const sign = async (overrides: Partial<AccessTokenClaims> = {}, lifetime = 600) => (await signAccessToken(keys, baseClaims(overrides), lifetime)).token;

  const valid = await signAccessToken(keys, baseClaims(), 600);
  tokens.valid = valid.token;
  validClaims = valid.claims;
  tokens.expired = await sign({}, -120);
  tokens.wrongAudience = await sign({ aud: ["https://other.example.test"] });
  tokens.missingScope = await sign({ scope: "mcp:write" });
  tokens.userNotAllowed = await sign({ login: "mallory", email: "mallory@example.test" });
  tokens.emailMismatch = await sign({ email: "alice@elsewhere.test" });
  tokens.emailWildcard = await sign({ login: "Alice", email: "Alice@EXAMPLE.test" });
  tokens.foreignGateway = (await signAccessToken(otherGatewayKeys, baseClaims(), 600)).token;
  const { privateKey } = await generateKeyPair("RS256");
  const now = Math.floor(Date.now() / 1000);
  tokens.wrongSignature = await new SignJWT({ ...baseClaims(), jti: "forged", iat: now, exp: now + 600 })
    .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: keys.current().kid })
    .sign(privateKey);

  // Revoked as the API does it: recorded under a grant, revoked in Redis, pushed to memory by a reload.
  const store = new TokenStore(redis.client, { accessTokenLifetimeSeconds: 1800, refreshTokenLifetimeSeconds: 3600 });
  const grant = await store.createGrant({
    client_id: "client-1",
    sub: "github-1",
    username: "alice",
    email: "alice@example.test",
    scope: "mcp:read mcp:write",
    resources: [RESOURCE],
    proxy_hostname: HOST,
    auth_time: now,
  });
  const toRevoke = await signAccessToken(keys, baseClaims(), 600);
  await store.recordAccessToken(toRevoke.claims, grant.grant_id);
  tokens.revoked = toRevoke.token;
  expect(await verifier.verify(tokens.revoked)).toEqual(toRevoke.claims); // cached while still good
  expect(await store.revokeAccessToken(toRevoke.claims.jti)).toBe(true);
  await revoked.reload();
});
afterAll(async () => {
  await Promise.all([redis?.stop(), otherRedis?.stop()]);
});

const SETTINGS = { issuer: ISSUER, allowedUsers: ["nobody-global"] };

function policyFor(mode: AuthMode, overrides: Partial<ProxyRecord> = {}): EdgeAuthPolicy {
  const policy = compileEdgeAuthPolicy(
    proxyRecord(HOST, {
      auth_enabled: true,
      auth_mode: mode,
      auth_required_users: ["alice", "bob"],
      auth_required_emails: ["*@example.test", "bob@partner.test"],
      auth_allowed_scopes: ["mcp:read"],
      auth_excluded_paths: ["/health", "/.well-known/*"],
      resource_endpoint: "/mcp",
      resource_scopes: ["mcp:read", "mcp:write"],
      ...overrides,
    }),
    SETTINGS,
  );
  if (!policy) throw new Error("auth is on: a policy was expected");
  return policy;
}

const facts = (path = "/mcp", overrides: Partial<EdgeRequestFacts> = {}): EdgeRequestFacts => ({
  proto: "https",
  host: HOST,
  path,
  metadataUrl: METADATA_URL,
  asIssuer: ISSUER,
  ...overrides,
});

type Via = "header" | "cookie";
interface Client {
  readonly browser?: boolean;
  readonly via?: Via;
  readonly method?: string;
  readonly path?: string;
}

function request(token: string | null, client: Client = {}): Request {
  const headers: Record<string, string> = { accept: client.browser ? "text/html,application/xhtml+xml" : "application/json" };
  if (token !== null && (client.via ?? "header") === "header") headers.authorization = `Bearer ${token}`;
  if (token !== null && client.via === "cookie") headers.cookie = `theme=dark; unified_auth_token=${token}; lang=en`;
  return new Request(`https://${HOST}${client.path ?? "/mcp"}?page=2`, { method: client.method ?? "GET", headers });
}

async function decide(policy: EdgeAuthPolicy, token: string | null, client: Client = {}): Promise<EdgeAuthDecision> {
  return authenticateAtEdge(policy, verifier, request(token, client), facts(client.path ?? "/mcp"));
}

interface Denial {
  status: number;
  challenge: string | null;
  body: Record<string, unknown>;
}

async function denial(decision: EdgeAuthDecision): Promise<Denial> {
  if (decision.kind !== "deny") throw new Error(`expected a denial, got ${JSON.stringify(decision)}`);
  const { response } = decision;
  expect(response.headers.get("content-type")).toContain("application/json");
  expect(response.headers.get("cache-control")).toBe("no-store");
  return { status: response.status, challenge: response.headers.get("www-authenticate"), body: (await response.json()) as Record<string, unknown> };
}

const noToken: Denial = {
  status: 401,
  challenge: `${BASE_CHALLENGE}, scope="mcp:read mcp:write"`,
  body: { error: "unauthorized", error_description: "this resource needs a bearer token" },
};
const invalidToken = (reason: string): Denial => ({
  status: 401,
  challenge: `Bearer realm="${HOST}", error="invalid_token", error_description="${reason}", resource_metadata="${METADATA_URL}", as_uri="${AS_URI}", resource_uri="${METADATA_URL}", scope="mcp:read mcp:write"`,
  body: { error: "invalid_token", error_description: reason },
});
const insufficientScope: Denial = {
  status: 403,
  challenge: `Bearer realm="${HOST}", error="insufficient_scope", error_description="this resource needs the scope mcp:read", resource_metadata="${METADATA_URL}", as_uri="${AS_URI}", resource_uri="${METADATA_URL}", scope="mcp:read"`,
  body: { error: "insufficient_scope", error_description: "this resource needs the scope mcp:read", scope: "mcp:read" },
};
const accessDenied = (description: string): Denial => ({ status: 403, challenge: null, body: { error: "access_denied", error_description: description } });

/** What a client with the token gets in forward mode (and non-browser clients in redirect mode). */
const API_OUTCOMES: Record<string, Denial | "allow"> = {
  expired: invalidToken("token expired"),
  wrongSignature: invalidToken("signature verification failed"),
  foreignGateway: invalidToken("unknown signing key"),
  wrongAudience: invalidToken("token audience does not include this resource"),
  missingScope: insufficientScope,
  userNotAllowed: accessDenied('user "mallory" is not allowed on this host'),
  emailMismatch: accessDenied("this account's email is not allowed on this host"),
  emailWildcard: "allow",
  revoked: invalidToken("token revoked"),
  valid: "allow",
};

async function expectOutcome(decision: EdgeAuthDecision, expected: Denial | "allow", token: string): Promise<void> {
  if (expected === "allow") {
    expect(decision.kind).toBe("allow");
    if (decision.kind === "allow") expect(decision.identity?.jti).toBe((await verifier.verify(token)).jti);
  } else {
    expect(await denial(decision)).toEqual(expected);
  }
}

describe("forward mode", () => {
  const policy = () => policyFor("forward");

  test("no token: 401, a challenge without error, pointing at the metadata, with a scope hint", async () => {
    expect(await denial(await decide(policy(), null))).toEqual(noToken);
    // A browser gets the same: forward mode never redirects.
    expect(await denial(await decide(policy(), null, { browser: true }))).toEqual(noToken);
  });

  for (const [name, expected] of Object.entries(API_OUTCOMES)) {
    test(`${name} token`, async () => {
      await expectOutcome(await decide(policy(), tokens[name]!), expected, tokens[name]!);
    });
  }

  test("the cookie is not a credential in forward mode", async () => {
    expect(await denial(await decide(policy(), tokens.valid!, { via: "cookie" }))).toEqual(noToken);
  });

  test("a valid token's identity is the verified claims", async () => {
    const decision = await decide(policy(), tokens.valid!);
    expect(decision).toEqual({ kind: "allow", identity: validClaims });
  });
});

describe("redirect mode", () => {
  const policy = () => policyFor("redirect");
  const loginDecision: EdgeAuthDecision = { kind: "login", returnTo: `https://${HOST}/mcp?page=2` };

  test("no token: a browser is sent to sign in, with the URL to come back to; an API client gets the 401", async () => {
    expect(await decide(policy(), null, { browser: true })).toEqual(loginDecision);
    expect(await decide(policy(), null, { browser: true, method: "HEAD" })).toEqual(loginDecision);
    expect(await denial(await decide(policy(), null))).toEqual(noToken);
    // A form post is not a navigation that can come back: 401.
    expect(await denial(await decide(policy(), null, { browser: true, method: "POST" }))).toEqual(noToken);
  });

  for (const [name, expected] of Object.entries(API_OUTCOMES)) {
    const browserExpected = expected !== "allow" && expected.status === 401 ? "login" : expected;
    test(`${name} token, as a browser's cookie and as an API client's header`, async () => {
      const asBrowser = await decide(policy(), tokens[name]!, { browser: true, via: "cookie" });
      if (browserExpected === "login") expect(asBrowser).toEqual(loginDecision);
      else await expectOutcome(asBrowser, browserExpected, tokens[name]!);
      await expectOutcome(await decide(policy(), tokens[name]!), expected, tokens[name]!);
    });
  }

  test("the header wins over the cookie", async () => {
    const req = new Request(`https://${HOST}/mcp`, { headers: { authorization: `Bearer ${tokens.valid}`, cookie: `unified_auth_token=${tokens.expired}` } });
    expect((await authenticateAtEdge(policy(), verifier, req, facts())).kind).toBe("allow");
  });

  test("a custom cookie name", async () => {
    const custom = policyFor("redirect", { auth_cookie_name: "session_at" });
    const req = (cookie: string) => new Request(`https://${HOST}/mcp`, { headers: { cookie, accept: "application/json" } });
    expect((await authenticateAtEdge(custom, verifier, req(`session_at=${tokens.valid}`), facts())).kind).toBe("allow");
    expect(await denial(await authenticateAtEdge(custom, verifier, req(`unified_auth_token=${tokens.valid}`), facts()))).toEqual(noToken);
    expect(await denial(await authenticateAtEdge(custom, verifier, req(`xsession_at=${tokens.valid}`), facts()))).toEqual(noToken);
  });
});

describe("passthrough mode", () => {
  const policy = () => policyFor("passthrough");

  test("no token: allowed, no identity", async () => {
    expect(await decide(policy(), null)).toEqual({ kind: "allow", identity: null });
  });

  for (const [name, expected] of Object.entries(API_OUTCOMES)) {
    test(`${name} token: forwarded, with an identity only when every check passes`, async () => {
      for (const via of ["header", "cookie"] as const) {
        const decision = await decide(policy(), tokens[name]!, { via });
        expect(decision.kind).toBe("allow");
        if (decision.kind !== "allow") continue;
        if (expected === "allow") expect(decision.identity?.sub).toBe("github-1");
        else expect(decision.identity).toBeNull();
      }
    });
  }
});

describe("every mode", () => {
  for (const mode of ["forward", "redirect", "passthrough"] as const) {
    test(`${mode}: excluded paths pass without a token and without an identity, even with a bad one`, async () => {
      for (const path of ["/health", "/health/", "/.well-known/oauth-protected-resource/mcp"]) {
        expect(await decide(policyFor(mode), null, { path })).toEqual({ kind: "allow", identity: null });
        expect(await decide(policyFor(mode), tokens.expired!, { path })).toEqual({ kind: "allow", identity: null });
        expect(await decide(policyFor(mode), tokens.valid!, { path })).toEqual({ kind: "allow", identity: null });
      }
    });
  }

  test("a token in the query string is not honoured", async () => {
    const req = new Request(`https://${HOST}/mcp?access_token=${tokens.valid}`, { headers: { accept: "application/json" } });
    expect(await denial(await authenticateAtEdge(policyFor("forward"), verifier, req, facts()))).toEqual(noToken);
    expect(await authenticateAtEdge(policyFor("passthrough"), verifier, req, facts())).toEqual({ kind: "allow", identity: null });
  });

  test("the scheme name is case-insensitive; other schemes are not bearer tokens", async () => {
    for (const scheme of ["bearer", "BEARER", "BeArEr"]) {
      const req = new Request(`https://${HOST}/mcp`, { headers: { authorization: `${scheme} ${tokens.valid}` } });
      expect((await authenticateAtEdge(policyFor("forward"), verifier, req, facts())).kind).toBe("allow");
    }
    const basic = new Request(`https://${HOST}/mcp`, { headers: { authorization: "Basic YWxpY2U6c2VjcmV0" } });
    expect(await denial(await authenticateAtEdge(policyFor("forward"), verifier, basic, facts()))).toEqual(noToken);
  });

  test("a Bearer header without a well-formed token is a bad credential", async () => {
    for (const value of ["Bearer", "Bearer ", "Bearer a b", "Bearer not!base64"]) {
      const req = new Request(`https://${HOST}/mcp`, { headers: { authorization: value } });
      const got = await denial(await authenticateAtEdge(policyFor("forward"), verifier, req, facts()));
      expect(got.status).toBe(401);
      expect(got.challenge).toContain('error="invalid_token"');
    }
  });

  test("a token seen before is decided synchronously (no Promise), and a revoked one too", async () => {
    const policy = policyFor("forward");
    await decide(policy, tokens.valid!);
    const again = authenticateAtEdge(policy, verifier, request(tokens.valid!), facts());
    expect(again).not.toBeInstanceOf(Promise);
    expect((again as EdgeAuthDecision).kind).toBe("allow");
    const revokedAgain = authenticateAtEdge(policy, verifier, request(tokens.revoked!), facts());
    expect(revokedAgain).not.toBeInstanceOf(Promise);
    expect(await denial(revokedAgain as EdgeAuthDecision)).toEqual(invalidToken("token revoked"));
  });
});

describe("audience", () => {
  test("a token for the whole host covers a resource with a path; one for another path does not", async () => {
    const forHost = (await signAccessToken(keys, baseClaims({ aud: [`https://${HOST}`] }), 600)).token;
    const forOther = (await signAccessToken(keys, baseClaims({ aud: [`https://${HOST}/other`] }), 600)).token;
    expect((await decide(policyFor("forward"), forHost)).kind).toBe("allow");
    expect((await denial(await decide(policyFor("forward"), forOther))).status).toBe(401);
  });

  test("without a resource endpoint the resource is the host itself", async () => {
    const policy = policyFor("forward", { resource_endpoint: null });
    const forHost = (await signAccessToken(keys, baseClaims({ aud: [`https://${HOST}`] }), 600)).token;
    expect((await decide(policy, forHost)).kind).toBe("allow");
    expect((await denial(await decide(policy, tokens.valid!))).status).toBe(401);
  });

  test("the resource follows the scheme and port the client used", async () => {
    const onPort = (await signAccessToken(keys, baseClaims({ aud: [`https://${HOST}:8443/mcp`] }), 600)).token;
    const policy = policyFor("forward");
    const req = new Request(`https://${HOST}:8443/mcp`, { headers: { authorization: `Bearer ${onPort}` } });
    expect((await authenticateAtEdge(policy, verifier, req, facts("/mcp", { host: `${HOST}:8443` }))).kind).toBe("allow");
    expect((await authenticateAtEdge(policy, verifier, req, facts("/mcp", { host: HOST }))).kind).toBe("deny");
    // The default port is the same resource as none at all.
    expect((await authenticateAtEdge(policy, verifier, request(tokens.valid!), facts("/mcp", { host: `${HOST.toUpperCase()}:443` }))).kind).toBe("allow");
    expect((await authenticateAtEdge(policy, verifier, request(tokens.valid!), facts("/mcp", { proto: "http" }))).kind).toBe("deny");
  });

  test("auth_allowed_audiences admit tokens for other resources (compared in canonical form)", async () => {
    const policy = policyFor("forward", { auth_allowed_audiences: ["HTTPS://API.Example.TEST:443/v1/"] });
    const forApi = (await signAccessToken(keys, baseClaims({ aud: ["https://api.example.test/v1"] }), 600)).token;
    expect((await decide(policy, forApi)).kind).toBe("allow");
    expect((await decide(policy, tokens.wrongAudience!)).kind).toBe("deny");
  });
});

test("a token's allow is reused only for the same policy, scheme and Host", async () => {
  const policy = policyFor("forward");
  const at = (overrides: Partial<EdgeRequestFacts>, on = policy) => authenticateAtEdge(on, verifier, request(tokens.valid!), facts("/mcp", overrides));
  const first = await at({});
  expect(first.kind).toBe("allow");
  // The token names https://HOST/mcp: the same policy reached another way decides again, and refuses.
  expect((await at({ proto: "http" })).kind).toBe("deny");
  expect((await at({ host: "other.example.test" })).kind).toBe("deny");
  // A config change compiles a new policy: its allowlist applies at once.
  expect((await denial(await at({}, policyFor("forward", { auth_required_users: ["bob"] })))).status).toBe(403);
  const again = await at({});
  expect(again.kind).toBe("allow");
  expect(again).toBe(first);
});

describe("allowlists and scopes", () => {
  test("users fall back to the global allowlist; ['*'] admits everyone", async () => {
    const global = policyFor("forward", { auth_required_users: null });
    expect(await denial(await decide(global, tokens.valid!))).toEqual(accessDenied('user "alice" is not allowed on this host'));
    const everyone = policyFor("forward", { auth_required_users: ["*"] });
    expect((await decide(everyone, tokens.userNotAllowed!)).kind).toBe("allow");
  });

  test("without email patterns any email (or none) passes; with them, a token without email is refused", async () => {
    const noEmails = policyFor("forward", { auth_required_emails: null });
    expect((await decide(noEmails, tokens.emailMismatch!)).kind).toBe("allow");
    const withoutEmail = (await signAccessToken(keys, baseClaims({ email: undefined }), 600)).token;
    expect((await decide(noEmails, withoutEmail)).kind).toBe("allow");
    expect(await denial(await decide(policyFor("forward"), withoutEmail))).toEqual(
      accessDenied("this host requires an allowed email and the token carries none"),
    );
  });

  test("an exact email entry matches case-insensitively, and only that address", async () => {
    const policy = policyFor("forward", { auth_required_emails: ["Bob@Partner.test"], auth_required_users: ["*"] });
    const bob = (await signAccessToken(keys, baseClaims({ login: "bob", email: "bob@partner.TEST" }), 600)).token;
    const carol = (await signAccessToken(keys, baseClaims({ login: "carol", email: "carol@partner.test" }), 600)).token;
    expect((await decide(policy, bob)).kind).toBe("allow");
    expect((await decide(policy, carol)).kind).toBe("deny");
  });

  test("a disallowed user is told so before any scope is asked for", async () => {
    const mallory = (await signAccessToken(keys, baseClaims({ login: "mallory", scope: "" }), 600)).token;
    expect((await denial(await decide(policyFor("forward"), mallory))).body.error).toBe("access_denied");
  });

  test("every required scope must be present; all of them are named in the challenge", async () => {
    const policy = policyFor("forward", { auth_allowed_scopes: ["mcp:read", "mcp:admin"] });
    const got = await denial(await decide(policy, tokens.valid!));
    expect(got.status).toBe(403);
    expect(got.challenge).toEndWith(`scope="mcp:read mcp:admin"`);
    expect(got.challenge).toContain(`error="insufficient_scope"`);
    expect((await decide(policyFor("forward", { auth_allowed_scopes: null }), tokens.missingScope!)).kind).toBe("allow");
  });

  test("a route override adds its scopes and drops the proxy's excluded paths", async () => {
    const proxy = proxyRecord(HOST, { auth_enabled: false, auth_required_users: ["alice"], auth_allowed_scopes: ["mcp:read"], auth_excluded_paths: ["/admin/*"], resource_endpoint: "/mcp" });
    const route = compileRouteAuthPolicy(proxy, SETTINGS, { auth_type: "oauth", required_scopes: ["mcp:admin"] })!;
    expect(route.requiredScopes).toEqual(["mcp:read", "mcp:admin"]);
    const got = await denial(await decide(route, tokens.valid!, { path: "/admin/x" }));
    expect(got.status).toBe(403);
    expect(got.challenge).toEndWith(`scope="mcp:read mcp:admin"`);
    const admin = (await signAccessToken(keys, baseClaims({ scope: "mcp:read mcp:admin" }), 600)).token;
    expect((await decide(route, admin, { path: "/admin/x" })).kind).toBe("allow");
    expect(compileRouteAuthPolicy(proxy, SETTINGS, { auth_type: "none" })).toBeNull();
  });

  test("hasScope matches whole scope tokens only", () => {
    expect(hasScope("mcp:read mcp:write", "mcp:read")).toBe(true);
    expect(hasScope("mcp:read mcp:write", "mcp:write")).toBe(true);
    expect(hasScope("mcp:readonly mcp:write", "mcp:read")).toBe(false);
    expect(hasScope("xmcp:read", "mcp:read")).toBe(false);
    expect(hasScope("", "mcp:read")).toBe(false);
  });
});

describe("challenges without a resource", () => {
  test("no metadata URL: no resource_metadata or resource_uri", async () => {
    const policy = policyFor("forward", { resource_endpoint: null, resource_scopes: null, auth_allowed_scopes: null });
    const req = new Request(`https://${HOST}/`, { headers: { accept: "application/json" } });
    const got = await denial(await authenticateAtEdge(policy, verifier, req, facts("/", { metadataUrl: null })));
    expect(got.challenge).toBe(`Bearer realm="${HOST}", as_uri="${AS_URI}"`);
    expect(metadataUrlFor("https", HOST, "")).toBe(`https://${HOST}/.well-known/oauth-protected-resource`);
  });
});
