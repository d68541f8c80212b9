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

  async open(url: string, accept = "text/html"): Promise<Response> {
    let current = new URL(url);
    for (let hop = 0; hop < 12; hop++) {
      this.visited.push(current.href);
      const jar = this.jars.get(current.host) ?? new Map();
      const cookie = [...jar].map(([k, v]) => `${k}=${v.value}`).join("; ");
      const headers: Record<string, string> = { accept };
      if (cookie) headers.cookie = cookie;
      const response = current.hostname.endsWith(".example.test")
        ? await fetch(`https://127.0.0.1:${gw.gateway.httpsPort}${current.pathname}${current.search}`, {
            headers: { ...headers, host: current.host },
            redirect: "manual",
            tls: { rejectUnauthorized: false },
          } as RequestInit)
        : await fetch(current, { headers, redirect: "manual" });
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
