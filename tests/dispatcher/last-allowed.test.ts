/**
 * LastAllowed: what a connection's edge auth allowed last is reused only for
 * the very same request (headers, proxy entry, route, method, path) and only
 * while the real verifier, on a real Redis, still admits its token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pino from "pino";
import { EdgeTokenVerifier, RememberedToken } from "../../src/auth/edge/edge-tokens";
import { signAccessToken, type AccessTokenClaims } from "../../src/auth/tokens/access-token";
import { RevokedTokens } from "../../src/auth/tokens/revoked-tokens";
import { SigningKeys } from "../../src/auth/tokens/signing-keys";
import { TokenStore } from "../../src/auth/tokens/token-store";
import { HeadHeaders } from "../../src/dispatcher/http1/head-headers";
import { isRefusal, parseRequestHead } from "../../src/dispatcher/http1/request-head";
import type { HostEntry } from "../../src/dispatcher/host-table";
import { LastAllowed, type Allowance } from "../../src/dispatcher/raw-edge/last-allowed";
import type { CompiledRoute } from "../../src/dispatcher/routes";
import type { IdentityRewrite } from "../../src/proxies/forward-target";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const RESOURCE = "https://app.example.test";

let redis: TestRedis;
let keys: SigningKeys;
let revoked: RevokedTokens;
let store: TokenStore;

beforeAll(async () => {
  redis = await startTestRedis();
  keys = new SigningKeys(redis.client, { jwtAlgorithm: "RS256", jwtPrivateKeyPem: null, accessTokenLifetimeSeconds: 1800 }, pino({ level: "silent" }));
  await keys.start();
  revoked = new RevokedTokens(redis.client);
  await revoked.reload();
  store = new TokenStore(redis.client, { accessTokenLifetimeSeconds: 1800, refreshTokenLifetimeSeconds: 3600 });
});
afterAll(async () => {
  await redis?.stop();
});

/** A token recorded under a grant (so it can be revoked as the API does), signed with `lifetime` seconds to live. */
async function token(lifetime = 600): Promise<{ token: string; claims: AccessTokenClaims }> {
  const grant = await store.createGrant({
    client_id: "client-1",
    sub: "github-1",
    username: "alice",
    email: null,
    scope: "",
    resources: [RESOURCE],
    proxy_hostname: null,
    auth_time: Math.floor(Date.now() / 1000),
  });
  const signed = await signAccessToken(keys, { iss: "https://auth.example.test", sub: "github-1", aud: [RESOURCE], client_id: "client-1", azp: "client-1", scope: "", login: "alice" }, lifetime);
  await store.recordAccessToken(signed.claims, grant.grant_id);
  return signed;
}

function headersOf(text: string): HeadHeaders {
  const head = parseRequestHead(text);
  if (isRefusal(head)) throw new Error(head.reason);
  return new HeadHeaders(head);
}

/** Only their identity matters to LastAllowed. */
const entry = { hostname: "app.example.test" } as unknown as HostEntry;
const route = { id: "api" } as unknown as CompiledRoute;
const identity = { stripPrefix: "x-auth-", headers: [], dropAuthorization: true, rewriteCookie: null } as unknown as IdentityRewrite;

/** A verifier that has verified `signed` once, a connection that presented it, and an allowance remembered for GET /a. */
async function allowedOnce(signed: { token: string; claims: AccessTokenClaims }) {
  const verifier = new EdgeTokenVerifier(keys, revoked, { clockToleranceSeconds: 0 });
  await verifier.verify(signed.token);
  const remembered = new RememberedToken();
  const claims = verifier.verify(signed.token, remembered) as AccessTokenClaims;
  const headers = headersOf(`GET /a HTTP/1.1\r\nHost: app.example.test\r\nAuthorization: Bearer ${signed.token}`);
  const last = new LastAllowed();
  const allowance: Allowance = { identity, claims };
  last.remember(headers, entry, route, "GET", "/a", allowance);
  const again = () => last.again(headers, entry, route, "GET", "/a", verifier, remembered);
  return { verifier, remembered, headers, last, allowance, again };
}

describe("LastAllowed", () => {
  test("nothing remembered: no allowance", async () => {
    const signed = await token();
    const verifier = new EdgeTokenVerifier(keys, revoked);
    expect(new LastAllowed().again(headersOf("GET / HTTP/1.1\r\nHost: a"), entry, undefined, "GET", "/", verifier, new RememberedToken())).toBeUndefined();
    // Not even after the verifier knows the token.
    await verifier.verify(signed.token);
    expect(new LastAllowed().again(headersOf("GET / HTTP/1.1\r\nHost: a"), entry, undefined, "GET", "/", verifier, new RememberedToken())).toBeUndefined();
  });

  test("the same request again: the same allowance, request after request", async () => {
    const { again, allowance } = await allowedOnce(await token());
    for (let i = 0; i < 3; i++) expect(again()).toBe(allowance);
  });

  test("any one input different: no allowance (equal header values in another HeadHeaders included)", async () => {
    const signed = await token();
    const { last, headers, verifier, remembered, allowance } = await allowedOnce(signed);
    const sameText = headersOf(`GET /a HTTP/1.1\r\nHost: app.example.test\r\nAuthorization: Bearer ${signed.token}`);
    const otherEntry = { hostname: "app.example.test" } as unknown as HostEntry;
    const cases: [string, Parameters<LastAllowed["again"]>][] = [
      ["headers", [sameText, entry, route, "GET", "/a", verifier, remembered]],
      ["entry", [headers, otherEntry, route, "GET", "/a", verifier, remembered]],
      ["route", [headers, entry, undefined, "GET", "/a", verifier, remembered]],
      ["method", [headers, entry, route, "POST", "/a", verifier, remembered]],
      ["path", [headers, entry, route, "GET", "/b", verifier, remembered]],
    ];
    for (const [name, args] of cases) expect([name, last.again(...args)]).toEqual([name, undefined]);
    // A miss on the inputs forgets nothing: the same request still finds it.
    expect(last.again(headers, entry, route, "GET", "/a", verifier, remembered)).toBe(allowance);
  });

  test("the token revoked: no allowance, from the moment RevokedTokens reloads, and none after", async () => {
    const signed = await token();
    const { again, allowance } = await allowedOnce(signed);
    expect(again()).toBe(allowance);
    expect(await store.revokeAccessToken(signed.claims.jti)).toBe(true);
    await revoked.reload();
    expect(again()).toBeUndefined();
    expect(again()).toBeUndefined();
  });

  test("the token expired: no allowance", async () => {
    // Signed just after a second begins, so its exp (whole seconds) is a full second away.
    await Bun.sleep(1000 - (Date.now() % 1000) + 5);
    const signed = await token(1);
    const { again, allowance } = await allowedOnce(signed);
    expect(again()).toBe(allowance);
    await Bun.sleep(Math.max(0, signed.claims.exp * 1000 - Date.now()) + 5);
    expect(again()).toBeUndefined();
  });

  test("the verifier cleared (signing keys replaced): no allowance until the token is verified again", async () => {
    const { again, verifier } = await allowedOnce(await token());
    verifier.clear();
    expect(again()).toBeUndefined();
  });

  test("the connection's remembered token is another one since: no allowance", async () => {
    const { again, verifier, remembered } = await allowedOnce(await token());
    const other = await token();
    await verifier.verify(other.token);
    verifier.verify(other.token, remembered);
    expect(again()).toBeUndefined();
  });
});
