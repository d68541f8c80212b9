/**
 * The consent page through a real gateway: shown on a client's first
 * sign-in by a user (and whenever it asks for more), remembered per user and
 * client, Approve issues the code and Deny sends access_denied back; the
 * answer is bound to the browser that was shown the page, taken once, and
 * refused from another site, without cookie, replayed, or as raw bytes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { consentPage } from "../../src/auth/server/pages";
import { describeRedirect } from "../../src/auth/server/consent";
import { keys } from "../../src/storage/keys";
import { formBody, pageForm, type PageForm } from "../helpers/consent-form";
import { gitHubSignInSettings, startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { AUTH_HOST, authorizePath, edgeRequest, followLogin, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const REDIRECT = "http://127.0.0.1:7777/callback";
const RESOURCE = "https://mcp.example.test";
const ISSUER = `https://${AUTH_HOST}`;

let redis: TestRedis;
let github: GitHubTestServer;
let gw: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.setUser({ id: 11, login: "alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    ...gitHubSignInSettings(github),
    OAUTH_ALLOWED_GITHUB_USERS: "alice,bob",
    MCP_RESOURCE_VALIDATION_STRICT: "false",
  });
});

afterAll(async () => {
  await gw?.stop();
  await github?.stop();
  await redis?.stop();
});

const newClient = (name = "Consent Test Client") => register(gw, { client_name: name, redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", scope: "mcp:read mcp:write" });

interface ShownPage {
  readonly response: Response;
  readonly html: string;
  readonly form: PageForm;
  /** The consent cookie, as `name=value`. */
  readonly cookie: string;
  readonly verifier: string;
}

/** Runs a sign-in up to the consent page (or past it, when none is shown: form is then null). */
async function untilConsent(clientId: string, scope = "mcp:read", resource = RESOURCE): Promise<ShownPage | { redirected: URL; verifier: string }> {
  const pkce = pkcePair();
  const path = authorizePath({ client_id: clientId, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", state: "st-1", scope, resource: [resource] });
  const { final, response } = await followLogin(gw, path, AUTH_HOST, REDIRECT, { consent: "stop" });
  if (final) return { redirected: final, verifier: pkce.verifier };
  const html = await response.text();
  const form = pageForm(html);
  if (!form) throw new Error(`stopped at ${response.status} without a form: ${html.slice(0, 300)}`);
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("portcullis_consent_"))!.split(";")[0]!;
  return { response, html, form, cookie, verifier: pkce.verifier };
}

async function shown(clientId: string, scope?: string, resource?: string): Promise<ShownPage> {
  const result = await untilConsent(clientId, scope, resource);
  if ("redirected" in result) throw new Error(`no consent page; went to ${result.redirected}`);
  return result;
}

const answer = (page: ShownPage, button: "approve" | "deny", headers: Record<string, string> = { cookie: page.cookie, origin: `http://${AUTH_HOST}` }) =>
  edgeRequest(gw, AUTH_HOST, page.form.action, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: formBody(page.form, button) });

const codeCount = async () => (await redis.client.keys("oauth:code:*")).length;

describe("the consent page", () => {
  test("a client's first sign-in shows who asks, for whom, what and where the answer goes, and issues nothing yet", async () => {
    const client = await newClient('<script>alert("x")</script> Evil & Co');
    const before = await codeCount();
    const page = await shown(client.client_id, "mcp:read mcp:write");
    expect(page.response.status).toBe(200);
    expect(page.html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Evil &amp; Co");
    expect(page.html).not.toContain("<script>");
    expect(page.html).toContain("<strong>alice</strong> (github)");
    expect(page.html).toContain("not verified");
    expect(page.html).toContain("<code>mcp:read</code>");
    expect(page.html).toContain("<code>mcp:write</code>");
    expect(page.html).toContain(`<code>${RESOURCE}</code>`);
    expect(page.html).toContain("an application on this computer (127.0.0.1)");
    expect(page.form).toMatchObject({ method: "POST", action: "/callback" });
    expect(page.response.headers.get("cache-control")).toBe("no-store");
    expect(page.response.headers.get("x-frame-options")).toBe("DENY");
    expect(page.response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    const cookie = page.response.headers.getSetCookie().find((c) => c.startsWith("portcullis_consent_"))!;
    expect(cookie).toMatch(/^portcullis_consent_[A-Za-z0-9_-]{16}=[A-Za-z0-9_-]{43}; Path=\/callback; Max-Age=300; HttpOnly; SameSite=Strict$/);
    expect(await codeCount()).toBe(before);
  });

  test("Approve: the code goes to the redirect URI with state and iss, works at /token, and the next sign-in asks nothing", async () => {
    const client = await newClient();
    const page = await shown(client.client_id);
    const res = await answer(page, "approve");
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get("location")!);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get("state")).toBe("st-1");
    expect(back.searchParams.get("iss")).toBe(ISSUER);
    expect(res.headers.getSetCookie().some((c) => c.startsWith(`${page.cookie.split("=")[0]}=;`) && c.includes("Max-Age=0"))).toBe(true);
    const token = await tokenRequest(gw, { grant_type: "authorization_code", client_id: client.client_id, code: back.searchParams.get("code")!, code_verifier: page.verifier, redirect_uri: REDIRECT });
    expect([token.status, token.body.scope]).toEqual([200, "mcp:read"]);

    const again = await untilConsent(client.client_id);
    expect("redirected" in again && again.redirected.searchParams.get("code")).toBeTruthy();
    const stored = await redis.client.keys(keys.oauthConsent("github-11", "*"));
    expect(stored.length).toBeGreaterThan(0);
    const ttl = await redis.client.ttl(stored[0]!);
    expect(ttl).toBeGreaterThan(7_776_000 - 60);
  });

  test("asking for more than was approved (a step-up scope, another resource) asks again; another user is asked too", async () => {
    const client = await newClient();
    expect((await answer(await shown(client.client_id, "mcp:read"), "approve")).status).toBe(302);
    const more = await shown(client.client_id, "mcp:read mcp:write");
    expect(more.html).toContain("<code>mcp:write</code>");
    expect((await answer(more, "approve")).status).toBe(302);
    expect("redirected" in (await untilConsent(client.client_id, "mcp:write"))).toBe(true);
    await shown(client.client_id, "mcp:read", "https://other.example.test");
    github.setUser({ id: 12, login: "bob", emails: [] });
    try {
      const bobs = await shown(client.client_id, "mcp:read");
      expect(bobs.html).toContain("<strong>bob</strong>");
    } finally {
      github.setUser({ id: 11, login: "alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
    }
  });

  test("Deny: access_denied with state and iss, no code, nothing remembered", async () => {
    const client = await newClient();
    const before = await codeCount();
    const page = await shown(client.client_id);
    const res = await answer(page, "deny");
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get("location")!);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect([back.searchParams.get("error"), back.searchParams.get("state"), back.searchParams.get("iss"), back.searchParams.get("code")]).toEqual(["access_denied", "st-1", ISSUER, null]);
    expect(await codeCount()).toBe(before);
    await shown(client.client_id);
  });
});

describe("the answer is the user's own", () => {
  test("without the page's cookie (another browser, a forged form): refused, nothing issued, and the sign-in is used up", async () => {
    const client = await newClient();
    const before = await codeCount();
    const page = await shown(client.client_id);
    const forged = await answer(page, "approve", { origin: `http://${AUTH_HOST}`, cookie: `${page.cookie.split("=")[0]}=${"A".repeat(43)}` });
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain("started in another browser");
    expect(forged.headers.get("location")).toBeNull();
    const late = await answer(page, "approve");
    expect(late.status).toBe(400);
    expect(await codeCount()).toBe(before);
  });

  test("posted from another site: 403 before anything is consumed; the user's own answer still works", async () => {
    const client = await newClient();
    const page = await shown(client.client_id);
    const crossSite = await answer(page, "approve", { cookie: page.cookie, origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get("location")).toBeNull();
    expect((await answer(page, "approve")).status).toBe(302);
  });

  test("answered once only: a replay of the approval is refused", async () => {
    const client = await newClient();
    const page = await shown(client.client_id);
    expect((await answer(page, "approve")).status).toBe(302);
    const replay = await answer(page, "approve");
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("expired or was already answered");
  });

  test("raw bytes, unknown ids, other content types: a 4xx page, never a 500, never a redirect", async () => {
    const post = (body: string | Uint8Array, type = "application/x-www-form-urlencoded") =>
      edgeRequest(gw, AUTH_HOST, "/callback", { method: "POST", headers: { "content-type": type }, body });
    for (const res of [
      await post("consent=nope&decision=approve"),
      await post(`consent=${"A".repeat(43)}&decision=approve`),
      await post(new Uint8Array([0xff, 0xfe, 0x00, 0x3d, 0x26, 0x25])),
      await post('{"consent":"x"}', "application/json"),
      await post("x".repeat(70_000)),
      await post(""),
    ]) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers.get("location")).toBeNull();
      expect(res.headers.get("content-type")).toContain("text/html");
    }
  });
});

describe("what the page says", () => {
  test("a client identified by a metadata document names the host that publishes it", () => {
    const view = { consentId: "id", clientName: "Doc Client", redirectTo: "app.example.com", username: "alice", provider: "github", scopes: [], resources: [] };
    const published = consentPage({ ...view, publishedBy: "client.example.com" });
    return published.text().then((html) => {
      expect(html).toContain("published at <strong>client.example.com</strong>");
      expect(html).not.toContain("not verified");
    });
  });
  test.each([
    ["https://app.example.com/cb", "app.example.com"],
    ["https://app.example.com:8443/cb", "app.example.com:8443"],
    ["http://127.0.0.1:51000/callback", "an application on this computer (127.0.0.1)"],
    ["http://localhost:3000/cb", "an application on this computer (localhost)"],
    ["cursor://anysphere.cursor-retrieval/oauth/callback", "the application that opens cursor: links"],
  ])("redirect %p is described as %p", (uri, described) => {
    expect(describeRedirect(uri)).toBe(described);
  });
});
