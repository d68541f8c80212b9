import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeJwt, generateKeyPair, importJWK, SignJWT, type JWTPayload } from "jose";
import { OidcLogin } from "../../../src/auth/upstream/oidc";
import { UpstreamError } from "../../../src/auth/upstream/upstream-login";
import type { OidcSettings } from "../../../src/core/oauth-config";
import { followToRedirectUri, startOidcProvider, type OidcTestProvider } from "../../helpers/oidc-provider";

const REDIRECT_URI = "https://auth.example.test/oauth/callback";
const CLIENT = { clientId: "portcullis", clientSecret: "provider-client-secret", redirectUris: [REDIRECT_URI] };
const ALICE = { preferred_username: "Alice", email: "alice@example.com", email_verified: true, name: "Alice Liddell" };

let provider: OidcTestProvider;
let settings: OidcSettings;

beforeAll(async () => {
  provider = await startOidcProvider(CLIENT);
  provider.setAccount("alice-1", ALICE);
  settings = { issuer: provider.issuer, clientId: CLIENT.clientId, clientSecret: CLIENT.clientSecret, scopes: ["openid", "profile", "email"], usernameClaim: "preferred_username" };
});
afterAll(() => provider.stop());

type Seen = { url: string; method: string; headers: Record<string, string>; body: string };

/** fetch that records what the login sent, and lets a test rewrite an answer. */
function recordingFetch(rewrite?: (url: string, response: Response) => Promise<Response>) {
  const seen: Seen[] = [];
  const wrapped = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    const body = init?.body === undefined ? "" : String(init.body);
    seen.push({ url, method: init?.method ?? "GET", headers: Object.fromEntries(new Headers(init?.headers)), body });
    const response = await fetch(input, init);
    return rewrite ? rewrite(url, response) : response;
  }) as typeof fetch;
  return { fetch: wrapped, seen };
}

async function login(upstream: OidcLogin, tamper: (secrets: Record<string, string>) => Record<string, string> = (s) => s) {
  const { url, secrets } = await upstream.start({ state: "state-xyz", redirectUri: REDIRECT_URI, proxyHostname: null });
  const callback = await followToRedirectUri(url, REDIRECT_URI);
  expect(callback.searchParams.get("state")).toBe("state-xyz");
  return upstream.finish({
    code: callback.searchParams.get("code")!,
    iss: callback.searchParams.get("iss"),
    redirectUri: REDIRECT_URI,
    proxyHostname: null,
    secrets: tamper(secrets),
  });
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

/** Replaces the ID token in the token endpoint's answer with one the test signs (with the provider's key unless told). */
function forgeIdToken(change: (claims: JWTPayload) => JWTPayload, key?: CryptoKey) {
  return async (url: string, response: Response) => {
    if (!url.endsWith("/token")) return response;
    const body = (await response.json()) as Record<string, string>;
    const claims = change(decodeJwt(body.id_token!));
    const signingKey = key ?? (await importJWK(provider.signingKey, "RS256"));
    body.id_token = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: provider.signingKey.kid }).sign(signingKey);
    return Response.json(body, { status: response.status, headers: { "cache-control": "no-store" } });
  };
}

describe("OIDC login against oidc-provider", () => {
  test("the code flow with PKCE, nonce and client_secret_basic yields the identity", async () => {
    const { fetch, seen } = recordingFetch();
    const upstream = new OidcLogin(settings, { fetch });
    const { url, secrets } = await upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: null });
    const authorize = new URL(url);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      client_id: "portcullis",
      response_type: "code",
      redirect_uri: REDIRECT_URI,
      scope: "openid profile email",
      state: "s",
      nonce: secrets.nonce,
      code_challenge_method: "S256",
    });
    expect(Object.keys(secrets).sort()).toEqual(["code_verifier", "nonce"]);

    expect(await login(upstream)).toEqual({
      sub: "oidc-alice-1",
      provider: "oidc",
      username: "alice",
      name: "Alice Liddell",
      email: "alice@example.com",
      emails: ["alice@example.com"],
    });
    const token = seen.find((r) => r.url.endsWith("/token"))!;
    // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    const basic = atob(token.headers.authorization!.replace(/^Basic /, "")).split(":").map(decodeURIComponent);
    expect(basic).toEqual(["portcullis", "provider-client-secret"]);
    expect(token.body).not.toContain("client_secret");
    expect(token.body).toContain("code_verifier=");
    // Profile claims came from UserInfo: this provider keeps them out of the ID token.
    expect(seen.some((r) => r.url.endsWith("/me"))).toBe(true);
  });

  test("discovery is fetched once and reused", async () => {
    const { fetch, seen } = recordingFetch();
    const upstream = new OidcLogin(settings, { fetch });
    await login(upstream);
    await login(upstream);
    expect(seen.filter((r) => r.url.endsWith("/.well-known/openid-configuration")).length).toBe(1);
  });

  test("claims in the ID token need no UserInfo call; a public client sends no secret", async () => {
    const publicProvider = await startOidcProvider({ ...CLIENT, clientSecret: null, claimsInIdToken: true });
    try {
      publicProvider.setAccount("bob-2", { preferred_username: "Bob", email: "bob@example.com" });
      const { fetch, seen } = recordingFetch();
      const upstream = new OidcLogin({ ...settings, issuer: publicProvider.issuer, clientSecret: null }, { fetch });
      expect(await login(upstream)).toMatchObject({ sub: "oidc-bob-2", username: "bob", email: "bob@example.com" });
      expect(seen.some((r) => r.url.endsWith("/me"))).toBe(false);
      const token = seen.find((r) => r.url.endsWith("/token"))!;
      expect(token.headers.authorization).toBeUndefined();
      expect(token.body).toContain("client_id=portcullis");
    } finally {
      await publicProvider.stop();
    }
  });

  test("an unverified email is not used, nor taken as the username", async () => {
    provider.setAccount("carol-3", { email: "carol@example.com", email_verified: false });
    try {
      expect(await login(new OidcLogin(settings))).toEqual({ sub: "oidc-carol-3", provider: "oidc", username: "carol-3", name: null, email: null, emails: [] });
      provider.setAccount("dave-4", { email: "Dave@Example.com", email_verified: true });
      expect(await login(new OidcLogin(settings))).toMatchObject({ username: "dave@example.com", email: "Dave@Example.com" });
    } finally {
      provider.setAccount("alice-1", ALICE);
    }
  });

  test("another nonce than the one sent is refused", async () => {
    const error = await failure(login(new OidcLogin(settings), (s) => ({ ...s, nonce: "a-different-nonce-value" })));
    expect(error.message).toMatch(/failed validation.*"nonce"/);
    expect(error.message).not.toContain("a-different-nonce-value");
  });

  test("an ID token for another audience is refused", async () => {
    const { fetch } = recordingFetch(forgeIdToken((c) => ({ ...c, aud: "some-other-client" })));
    expect((await failure(login(new OidcLogin(settings, { fetch })))).message).toMatch(/failed validation.*"aud"/);
  });

  test("several audiences need azp naming us", async () => {
    const without = recordingFetch(forgeIdToken((c) => ({ ...c, aud: [CLIENT.clientId, "another-rp"] })));
    expect((await failure(login(new OidcLogin(settings, { fetch: without.fetch })))).message).toMatch(/additional untrusted audiences/);
    const withAzp = recordingFetch(forgeIdToken((c) => ({ ...c, aud: [CLIENT.clientId, "another-rp"], azp: CLIENT.clientId })));
    expect((await login(new OidcLogin(settings, { fetch: withAzp.fetch }))).sub).toBe("oidc-alice-1");
  });

  test("an ID token from another issuer is refused", async () => {
    const { fetch } = recordingFetch(forgeIdToken((c) => ({ ...c, iss: "https://evil.example" })));
    expect((await failure(login(new OidcLogin(settings, { fetch })))).message).toMatch(/failed validation.*"iss"/);
  });

  test("an ID token signed with another key, or expired, is refused", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const badKey = recordingFetch(forgeIdToken((c) => c, privateKey));
    expect((await failure(login(new OidcLogin(settings, { fetch: badKey.fetch })))).message).toMatch(/signature/i);
    const expired = recordingFetch(forgeIdToken((c) => ({ ...c, iat: c.iat! - 7200, exp: Math.floor(Date.now() / 1000) - 3600 })));
    expect((await failure(login(new OidcLogin(settings, { fetch: expired.fetch })))).message).toMatch(/"exp"/);
  });

  test("a discovery document naming another issuer is refused", async () => {
    // Same server, reached by another name: its document says http://localhost:PORT.
    const renamed = await startOidcProvider({ ...CLIENT, issuerHost: "localhost" });
    try {
      const upstream = new OidcLogin({ ...settings, issuer: renamed.issuer.replace("localhost", "127.0.0.1") });
      const error = await failure(upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: null }));
      expect(error.message).toMatch(/discovery document.*issuer/);
    } finally {
      await renamed.stop();
    }
  });

  test("an iss on the callback other than the provider's is refused (RFC 9207)", async () => {
    const upstream = new OidcLogin(settings);
    const { url, secrets } = await upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: null });
    const callback = await followToRedirectUri(url, REDIRECT_URI);
    expect(callback.searchParams.get("iss")).toBe(provider.issuer);
    const code = callback.searchParams.get("code")!;
    const error = await failure(upstream.finish({ code, iss: "https://evil.example", redirectUri: REDIRECT_URI, proxyHostname: null, secrets }));
    expect(error.message).toMatch(/iss/);
  });

  test("a used code is refused by the provider, in its words", async () => {
    const upstream = new OidcLogin(settings);
    const { url, secrets } = await upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: null });
    const code = (await followToRedirectUri(url, REDIRECT_URI)).searchParams.get("code")!;
    await upstream.finish({ code, redirectUri: REDIRECT_URI, proxyHostname: null, secrets });
    const error = await failure(upstream.finish({ code, redirectUri: REDIRECT_URI, proxyHostname: null, secrets }));
    expect(error.message).toMatch(/^the identity provider refused the login \(invalid_grant/);
    expect(error.message).not.toContain(code);
  });

  test("a provider that does not answer in time, or is down, is given up; discovery is tried again later", async () => {
    const hanging = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Bun.sleep(5_000).then(() => new Response("late")) });
    try {
      const slowToken = (async (input: string | URL | Request, init?: RequestInit) =>
        String(input).endsWith("/token") ? fetch(`http://127.0.0.1:${hanging.port}/token`, init) : fetch(input, init)) as typeof fetch;
      const started = Date.now();
      const error = await failure(login(new OidcLogin(settings, { fetch: slowToken, timeoutMs: 300 })));
      expect(error.message).toBe("the identity provider did not answer within 0.3 s");
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      hanging.stop(true);
    }

    let down = true;
    const flaky = (async (input: string | URL | Request, init?: RequestInit) =>
      down ? fetch("http://127.0.0.1:1/", init) : fetch(input, init)) as typeof fetch;
    const upstream = new OidcLogin(settings, { fetch: flaky });
    const error = await failure(upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: null }));
    expect(error.message).toMatch(/^the identity provider's discovery document could not be used/);
    down = false;
    expect((await login(upstream)).sub).toBe("oidc-alice-1");
  });
});
