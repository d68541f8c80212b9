/**
 * Redirect mode end to end over HTTPS: a browser-like client (cookie jar per
 * host, redirects followed by hand) and a real headless Chromium are sent to
 * sign in at the authorization server (through the local GitHub), come back
 * through the proxy's sign-in callback with a session cookie, and reach the
 * page they asked for with identity headers at the backend.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { renderedDom } from "../helpers/chromium";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const HOST = "app.example.test";
const AUTH = "auth.example.test";

let redis: TestRedis;
let github: GitHubTestServer;
let gw: TestGateway;
let backend: ReturnType<typeof namedBackend>;

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.addApp("app", "app-secret");
  github.setUser({ id: 5, login: "alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
  backend = namedBackend("app");
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    GITHUB_CLIENT_ID: "app",
    GITHUB_CLIENT_SECRET: "app-secret",
    GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
    GITHUB_API_BASE_URL: github.apiBaseUrl,
    OAUTH_ALLOWED_GITHUB_USERS: "alice",
  });
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}`, enable_https: true })).status).toBe(201);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${HOST}/auth`, { auth_enabled: true, auth_mode: "redirect", auth_cookie_name: "app_session" })).status).toBe(200);
  await Bun.sleep(300);
});

afterAll(async () => {
  await gw?.stop();
  backend?.stop(true);
  await github?.stop();
  await redis?.stop();
});

/** A browser stand-in: one cookie jar per host, redirects followed by hand, *.example.test reached over the gateway's HTTPS port. */
class CookieBrowser {
  readonly jars = new Map<string, Map<string, { value: string; attributes: string }>>();
  readonly visited: string[] = [];

  /** `post`: the first request is a form POST sent from the page at `origin` (a button the user clicks). */
  async open(url: string, accept = "text/html", post?: { origin: string }): Promise<Response> {
    let current = new URL(url);
    for (let hop = 0; hop < 12; hop++) {
      this.visited.push(current.href);
      const jar = this.jars.get(current.host) ?? new Map();
      const cookie = [...jar].map(([k, v]) => `${k}=${v.value}`).join("; ");
      const headers: Record<string, string> = { accept };
      if (cookie) headers.cookie = cookie;
      const method = hop === 0 && post ? "POST" : "GET";
      if (method === "POST") Object.assign(headers, { origin: post!.origin, "content-type": "application/x-www-form-urlencoded" });
      const response = current.hostname.endsWith(".example.test")
        ? await fetch(`https://127.0.0.1:${gw.gateway.httpsPort}${current.pathname}${current.search}`, {
            method,
            headers: { ...headers, host: current.host },
            redirect: "manual",
            tls: { rejectUnauthorized: false },
          } as RequestInit)
        : await fetch(current, { method, headers, redirect: "manual" });
      for (const line of response.headers.getSetCookie()) {
        const [pair, ...attributes] = line.split(";");
        const eq = pair!.indexOf("=");
        const name = pair!.slice(0, eq);
        const value = pair!.slice(eq + 1);
        if (!this.jars.has(current.host)) this.jars.set(current.host, new Map());
        if (/max-age=0/i.test(line) || value === "") this.jars.get(current.host)!.delete(name);
        else this.jars.get(current.host)!.set(name, { value, attributes: attributes.join(";").trim() });
      }
      const location = response.headers.get("location");
      if (response.status < 300 || response.status >= 400 || !location) return response;
      current = new URL(location, current);
    }
    throw new Error("too many redirects");
  }
}

describe("redirect mode", () => {
  test("a browser signs in and returns to the page it asked for, with a secure host-only session cookie", async () => {
    const browser = new CookieBrowser();
    const res = await browser.open(`https://${HOST}/dashboard?tab=2`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.path).toBe("/dashboard?tab=2");
    expect(body.headers["x-auth-user-name"]).toBe("alice");
    expect(body.headers.cookie ?? "").not.toContain("app_session");
    // The way there: proxy → /authorize on the auth host → GitHub → /callback → the proxy's sign-in callback → the page.
    expect(browser.visited[1]).toStartWith(`https://${AUTH}/authorize?`);
    expect(browser.visited.some((u) => u.startsWith(`https://${HOST}/_portcullis/callback?`))).toBe(true);
    const session = browser.jars.get(HOST)!.get("app_session")!;
    expect(session.attributes).toContain("HttpOnly");
    expect(session.attributes).toContain("Secure");
    expect(session.attributes).toContain("SameSite=Lax");
    expect(session.attributes).toContain("Path=/");
    expect(session.attributes.toLowerCase()).not.toContain("domain=");
    // The session cookie now stands in for a token on its own.
    const again = await browser.open(`https://${HOST}/other`);
    expect(again.status).toBe(200);
    expect(browser.visited.at(-1)).toBe(`https://${HOST}/other`);
  });

  test("an API client without a token gets 401, not a redirect", async () => {
    const res = await new CookieBrowser().open(`https://${HOST}/api/data`, "application/json");
    expect(res.status).toBe(401);
  });

  test("a sign-in callback without the browser's sign-in cookie is refused", async () => {
    const res = await new CookieBrowser().open(`https://${HOST}/_portcullis/callback?code=abc&state=${"a".repeat(43)}&iss=https://${AUTH}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("not started in this browser");
  });

  test("headless Chromium completes the same sign-in", async () => {
    const dom = await renderedDom(`https://${HOST}/from-chromium`, [
      `--host-resolver-rules=MAP ${HOST} 127.0.0.1:${gw.gateway.httpsPort}, MAP ${AUTH} 127.0.0.1:${gw.gateway.httpsPort}`,
      "--ignore-certificate-errors",
    ]);
    expect(dom).toContain('"backend":"app"');
    expect(dom).toContain('"path":"/from-chromium"');
    expect(dom).toContain('"x-auth-user-name":"alice"');
  });
});

describe("sign-out", () => {
  const bearer = (token: string) =>
    fetch(`https://127.0.0.1:${gw.gateway.httpsPort}/data`, { headers: { host: HOST, authorization: `Bearer ${token}` }, tls: { rejectUnauthorized: false } } as RequestInit);

  test("POST /_portcullis/logout expires the session cookie and revokes the sign-in behind it", async () => {
    const browser = new CookieBrowser();
    expect((await browser.open(`https://${HOST}/before`)).status).toBe(200);
    const token = browser.jars.get(HOST)!.get("app_session")!.value;
    expect((await bearer(token)).status).toBe(200);

    const res = await browser.open(`https://${HOST}/_portcullis/logout`, "text/html", { origin: `https://${HOST}` });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("You are signed out");
    expect(browser.jars.get(HOST)!.has("app_session")).toBe(false);
    // Not only this browser: the token itself is revoked on every node.
    const deadline = Date.now() + 3_000;
    while ((await bearer(token)).status !== 401) {
      if (Date.now() > deadline) throw new Error("the token still works after sign-out");
      await Bun.sleep(25);
    }
    // The next page load signs in anew.
    const fresh = await browser.open(`https://${HOST}/after`);
    expect(fresh.status).toBe(200);
    expect(browser.visited.filter((u) => u.startsWith(`https://${AUTH}/authorize?`)).length).toBe(2);
  });

  test("a form on another site cannot sign the user out: 403, the session goes on", async () => {
    const browser = new CookieBrowser();
    expect((await browser.open(`https://${HOST}/before`)).status).toBe(200);
    const res = await browser.open(`https://${HOST}/_portcullis/logout`, "text/html", { origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(res.headers.getSetCookie()).toEqual([]);
    const token = browser.jars.get(HOST)!.get("app_session")!.value;
    expect((await bearer(token)).status).toBe(200);
  });

  test("without a session, or with a cookie that is no token, it only clears the cookie", async () => {
    const browser = new CookieBrowser();
    browser.jars.set(HOST, new Map([["app_session", { value: "not.a-token!", attributes: "" }]]));
    const res = await browser.open(`https://${HOST}/_portcullis/logout`, "text/html", { origin: `https://${HOST}` });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()[0]).toMatch(/^app_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax; Secure$/);
  });
});
