/**
 * The sign-in pages in a real browser (headless Chromium): a full login
 * through the local GitHub and the consent page, where the user clicks
 * Approve, to a client's redirect URI; the denial page for a user the
 * allowlist refuses, and the error page for an unknown client. The auth
 * hostname resolves to the test gateway through Chromium's resolver rules.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { renderedDom } from "../helpers/chromium";
import { withChromiumPage } from "../helpers/chromium-page";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { AUTH_HOST, authorizePath, pkcePair, register } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let github: GitHubTestServer;
let gw: TestGateway;
/** The client application's redirect URI: shows what it received. */
let clientApp: ReturnType<typeof Bun.serve>;
let redirectUri: string;

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.addApp("app", "app-secret");
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    GITHUB_CLIENT_ID: "app",
    GITHUB_CLIENT_SECRET: "app-secret",
    GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
    GITHUB_API_BASE_URL: github.apiBaseUrl,
    OAUTH_ALLOWED_GITHUB_USERS: "alice",
    MCP_RESOURCE_VALIDATION_STRICT: "false",
  });
  clientApp = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      const query = new URL(req.url).searchParams;
      const items = [...query].map(([k, v]) => `<li id="${k}">${v.replace(/[<&]/g, "")}</li>`).join("");
      return new Response(`<!doctype html><html><body><h1>client received</h1><ul>${items}</ul></body></html>`, { headers: { "content-type": "text/html" } });
    },
  });
  redirectUri = `http://127.0.0.1:${clientApp.port}/callback`;
});

afterAll(async () => {
  clientApp?.stop(true);
  await gw?.stop();
  await github?.stop();
  await redis?.stop();
});

const browse = (path: string) => renderedDom(`http://${AUTH_HOST}${path}`, [`--host-resolver-rules=MAP ${AUTH_HOST} 127.0.0.1:${gw.gateway.httpPort}`]);

async function authorizeUrl(clientName?: string) {
  const client = await register(gw, { client_name: clientName, redirect_uris: [redirectUri], token_endpoint_auth_method: "none" });
  return authorizePath({ client_id: client.client_id, redirect_uri: redirectUri, code_challenge: pkcePair().challenge, code_challenge_method: "S256", state: "browser-state", resource: ["https://mcp.example.test"] });
}

describe("sign-in in a browser", () => {
  test("an allowed user approves the client on the consent page and ends at its redirect URI with code, state and iss", async () => {
    github.setUser({ id: 1, login: "alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
    const path = await authorizeUrl("Browser Test Client");
    await withChromiumPage([`MAP ${AUTH_HOST} 127.0.0.1:${gw.gateway.httpPort}`], async (page) => {
      await page.goto(`http://${AUTH_HOST}${path}`);
      // The consent page: who asks, for whom, and where the answer goes.
      expect(await page.title()).toBe("Allow Browser Test Client to act for you?");
      const text = await page.textContent("body");
      expect(text).toContain("alice");
      expect(text).toContain("https://mcp.example.test");
      expect(await page.textContent("#redirect-to")).toBe("an application on this computer (127.0.0.1)");
      await Promise.all([page.waitForURL(`${redirectUri}?**`), page.click("#approve")]);
      const dom = await page.content();
      expect(dom).toContain("client received");
      expect(dom).toMatch(/<li id="code">[A-Za-z0-9_-]{20,}<\/li>/);
      expect(dom).toContain('<li id="state">browser-state</li>');
      expect(dom).toContain(`<li id="iss">https://${AUTH_HOST}</li>`);
    });
  });

  test("a refused user sees the denial page naming the account", async () => {
    github.setUser({ id: 2, login: "mallory", emails: [] });
    const dom = await browse(await authorizeUrl());
    expect(dom).toContain("Access denied");
    expect(dom).toContain("mallory");
    expect(dom).toContain("Return to the application");
    expect(dom).not.toContain("client received");
  });

  test("an unknown client gets an error page, not a redirect", async () => {
    const dom = await browse(authorizePath({ client_id: "client_unknown", redirect_uri: redirectUri, code_challenge: pkcePair().challenge, code_challenge_method: "S256" }));
    expect(dom).toContain("This sign-in request cannot continue");
    expect(dom).toContain("not registered here");
    expect(dom).not.toContain("client received");
  });
});
