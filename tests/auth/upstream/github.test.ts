import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { GitHubApps } from "../../../src/auth/upstream/github-apps";
import { GitHubLogin } from "../../../src/auth/upstream/github";
import { UpstreamError } from "../../../src/auth/upstream/upstream-login";
import type { GitHubSettings } from "../../../src/core/oauth-config";
import { SecretBox } from "../../../src/core/secret-box";
import { ProxyRepository } from "../../../src/storage/proxy-repository";
import { startGitHubServer, type GitHubTestServer } from "../../helpers/github-server";
import { followToRedirectUri } from "../../helpers/oidc-provider";
import { proxyRecord } from "../../helpers/records";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

const REDIRECT_URI = "https://auth.example.test/oauth/callback";
const OCTOCAT = {
  id: 583231,
  login: "OctoCat",
  name: "The Octocat",
  email: "octocat@public.example",
  emails: [
    { email: "old@example.com", primary: false, verified: true },
    { email: "octocat@example.com", primary: true, verified: true },
    { email: "typed-in@example.com", primary: false, verified: false },
  ],
};

let redis: TestRedis;
let github: GitHubTestServer;
let proxies: ProxyRepository;
let apps: GitHubApps;
let settings: GitHubSettings;

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(() => redis.stop());

beforeEach(async () => {
  await redis.client.flushdb();
  await github?.stop();
  github = startGitHubServer();
  github.addApp("default-app", "default-secret");
  github.addApp("proxy-app", "proxy-secret");
  github.setUser(OCTOCAT);
  settings = { clientId: "default-app", clientSecret: "default-secret", oauthBaseUrl: github.oauthBaseUrl, apiBaseUrl: github.apiBaseUrl };
  proxies = new ProxyRepository(redis.client);
  apps = new GitHubApps(proxies, new SecretBox(new Uint8Array(randomBytes(32))), settings);
  await proxies.create(proxyRecord("own.example.com"));
  await proxies.create(proxyRecord("plain.example.com"));
  await apps.configure("own.example.com", "proxy-app", "proxy-secret");
});
afterAll(() => github.stop());

/** start → the browser's trip through GitHub → finish. */
async function login(upstream: GitHubLogin, proxyHostname: string | null, tamper?: (code: string) => string) {
  const { url, secrets } = await upstream.start({ state: "state-123", redirectUri: REDIRECT_URI, proxyHostname });
  const callback = await followToRedirectUri(url, REDIRECT_URI);
  expect(callback.searchParams.get("state")).toBe("state-123");
  const code = callback.searchParams.get("code")!;
  return upstream.finish({ code: tamper ? tamper(code) : code, redirectUri: REDIRECT_URI, proxyHostname, secrets });
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

describe("GitHub login", () => {
  test("the web flow yields the account's identity through the configured base URLs", async () => {
    const upstream = new GitHubLogin(settings, apps);
    const { url, secrets } = await upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: null });
    const authorize = new URL(url);
    expect(authorize.origin + authorize.pathname).toBe(`${github.oauthBaseUrl}/login/oauth/authorize`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      client_id: "default-app",
      redirect_uri: REDIRECT_URI,
      state: "s",
      scope: "read:user user:email",
      code_challenge_method: "S256",
    });
    expect(authorize.searchParams.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(secrets.code_verifier).toMatch(/^[\w-]{43}$/);

    expect(await login(upstream, null)).toEqual({
      sub: "github-583231",
      provider: "github",
      username: "octocat",
      name: "The Octocat",
      email: "octocat@example.com",
      emails: ["old@example.com", "octocat@example.com"],
    });
    expect(github.apiBaseUrl).toEndWith("/api/v3");
    const seen = github.apiRequests.map((r) => r.path).sort();
    expect(seen).toEqual(["/user", "/user/emails"]);
    for (const { headers } of github.apiRequests) {
      expect(headers.authorization).toMatch(/^Bearer gho_/);
      expect(headers.accept).toBe("application/vnd.github+json");
      expect(headers["x-github-api-version"]).toBe("2022-11-28");
      expect(headers["user-agent"]).toMatch(/^Portcullis\//);
    }
  });

  test("no verified primary email: the public profile email stands in", async () => {
    github.setUser({ id: 7, login: "solo", email: "solo@public.example", emails: [{ email: "unverified@example.com", primary: true, verified: false }] });
    const identity = await login(new GitHubLogin(settings, apps), null);
    expect(identity).toMatchObject({ sub: "github-7", username: "solo", name: null, email: "solo@public.example", emails: [] });
  });

  test("a proxy's own app is used for that proxy, the default app for the others", async () => {
    const upstream = new GitHubLogin(settings, apps);
    const own = await upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: "own.example.com" });
    expect(new URL(own.url).searchParams.get("client_id")).toBe("proxy-app");

    expect((await login(upstream, "own.example.com")).sub).toBe("github-583231");
    expect((await login(upstream, "plain.example.com")).sub).toBe("github-583231");
    expect((await login(upstream, "unknown.example.com")).sub).toBe("github-583231");
    expect(github.exchanges.map((e) => [e.clientId, e.succeeded])).toEqual([
      ["proxy-app", true],
      ["default-app", true],
      ["default-app", true],
    ]);
  });

  test("a proxy's app changed during a login: refused, not exchanged with the wrong app", async () => {
    const upstream = new GitHubLogin(settings, apps);
    const { url, secrets } = await upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: "own.example.com" });
    const code = (await followToRedirectUri(url, REDIRECT_URI)).searchParams.get("code")!;
    await apps.clear("own.example.com");
    const error = await failure(upstream.finish({ code, redirectUri: REDIRECT_URI, proxyHostname: "own.example.com", secrets }));
    expect(error.message).toMatch(/changed while it was under way/);
    expect(github.exchanges).toEqual([]);
  });

  test("no app anywhere: start and finish refuse, naming the settings", async () => {
    const bare = { ...settings, clientId: null, clientSecret: null };
    const upstream = new GitHubLogin(bare, new GitHubApps(proxies, new SecretBox(new Uint8Array(32)), bare));
    const expected = "GitHub login is not configured: set GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET or the proxy's github-oauth";
    expect((await failure(upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: "plain.example.com" }))).message).toBe(expected);
    expect((await failure(upstream.finish({ code: "c", redirectUri: REDIRECT_URI, proxyHostname: null, secrets: {} }))).message).toBe(expected);
  });

  test("a wrong code, a replayed code, or a code with the wrong PKCE verifier is refused", async () => {
    const upstream = new GitHubLogin(settings, apps);
    expect((await failure(login(upstream, null, (code) => code + "x"))).message).toMatch(/did not accept the login code/);

    const { url, secrets } = await upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: null });
    const code = (await followToRedirectUri(url, REDIRECT_URI)).searchParams.get("code")!;
    await upstream.finish({ code, redirectUri: REDIRECT_URI, proxyHostname: null, secrets });
    const replay = await failure(upstream.finish({ code, redirectUri: REDIRECT_URI, proxyHostname: null, secrets }));
    expect(replay.message).toMatch(/did not accept the login code/);
    expect(replay.message).not.toContain(code);

    const other = await upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: null });
    const otherCode = (await followToRedirectUri(other.url, REDIRECT_URI)).searchParams.get("code")!;
    const wrongVerifier = { ...other.secrets, code_verifier: secrets.code_verifier! };
    expect((await failure(upstream.finish({ code: otherCode, redirectUri: REDIRECT_URI, proxyHostname: null, secrets: wrongVerifier }))).message).toMatch(
      /did not accept the login code/,
    );
  });

  test("a wrong client secret is refused without showing it", async () => {
    const wrong = { ...settings, clientSecret: "not-the-secret" };
    const error = await failure(login(new GitHubLogin(wrong, new GitHubApps(proxies, new SecretBox(new Uint8Array(32)), wrong)), null));
    expect(error.message).toMatch(/rejected this gateway's OAuth app credentials/);
    expect(error.message).not.toContain("not-the-secret");
  });

  test("a redirect URI other than the authorized one is refused", async () => {
    const upstream = new GitHubLogin(settings, apps);
    const { url, secrets } = await upstream.start({ state: "s", redirectUri: REDIRECT_URI, proxyHostname: null });
    const code = (await followToRedirectUri(url, REDIRECT_URI)).searchParams.get("code")!;
    const error = await failure(upstream.finish({ code, redirectUri: REDIRECT_URI + "/elsewhere", proxyHostname: null, secrets }));
    expect(error.message).toMatch(/refused the callback URL/);
  });

  test("API failures: 401, 500, not JSON, a broken exchange", async () => {
    const upstream = new GitHubLogin(settings, apps);
    github.setFault({ endpoint: "user", status: 401, body: JSON.stringify({ message: "Bad credentials" }) });
    expect((await failure(login(upstream, null))).message).toMatch(/rejected the access token at \/user \(HTTP 401/);
    github.setFault({ endpoint: "emails", status: 502 });
    expect((await failure(login(upstream, null))).message).toMatch(/GitHub is failing: \/user\/emails answered HTTP 502/);
    github.setFault({ endpoint: "user", status: 200, body: "<html>unicorn</html>" });
    expect((await failure(login(upstream, null))).message).toMatch(/answered \/user with HTTP 200 and no JSON/);
    github.setFault({ endpoint: "token", status: 500 });
    expect((await failure(login(upstream, null))).message).toMatch(/GitHub is failing: the code exchange answered HTTP 500/);
  });

  test("an API that does not answer in time is given up", async () => {
    github.setFault({ endpoint: "user", delayMs: 1_000 });
    const started = Date.now();
    const error = await failure(login(new GitHubLogin(settings, apps, { timeoutMs: 200 }), null));
    expect(error.message).toBe("GitHub did not answer /user within 0.2 s");
    expect(Date.now() - started).toBeLessThan(900);
  });

  test("GitHub unreachable", async () => {
    const gone = { ...settings, oauthBaseUrl: "http://127.0.0.1:1" };
    const upstream = new GitHubLogin(gone, new GitHubApps(proxies, new SecretBox(new Uint8Array(32)), gone));
    const error = await failure(upstream.finish({ code: "c", redirectUri: REDIRECT_URI, proxyHostname: null, secrets: {} }));
    expect(error.message).toMatch(/^GitHub could not be reached for the code exchange/);
  });

  test("a proxy secret sealed with another key is an error, not a silent fall-back to the default app", async () => {
    const otherKey = new GitHubApps(proxies, new SecretBox(new Uint8Array(randomBytes(32))), settings);
    const error = await failure(login(new GitHubLogin(settings, otherKey), "own.example.com"));
    expect(error.message).toMatch(/own\.example\.com cannot be used/);
    expect(github.exchanges).toEqual([]);
  });
});

describe("GitHubApps", () => {
  test("the proxy's secret is stored sealed and opened per login", async () => {
    const stored = await proxies.get("own.example.com");
    expect(stored!.github_client_id).toBe("proxy-app");
    expect(stored!.github_client_secret).toStartWith("v1:");
    expect(JSON.stringify(stored)).not.toContain("proxy-secret");
    expect(await redis.client.get("proxy:own.example.com")).not.toContain("proxy-secret");
    expect(await apps.credentialsFor("OWN.example.com")).toEqual({ clientId: "proxy-app", clientSecret: "proxy-secret", source: "proxy" });
    expect(await apps.credentialsFor("plain.example.com")).toEqual({ clientId: "default-app", clientSecret: "default-secret", source: "default" });
    expect(await apps.credentialsFor(null)).toMatchObject({ source: "default" });

    await apps.clear("own.example.com");
    expect(await apps.credentialsFor("own.example.com")).toMatchObject({ source: "default" });
    expect(await apps.configure("missing.example.com", "a", "b")).toBeNull();
    expect(await apps.clear("missing.example.com")).toBeNull();
  });
});
