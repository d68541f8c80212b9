/**
 * The OAuth flow trace through a real gateway, the local GitHub stand-in and
 * real Redis: a sign-in's steps share one flow id from /authorize to the
 * token, its refresh and its revocation; a refused sign-in says why;
 * registrations are traced; no stored event holds a code, token, secret or
 * verifier; the query API filters, answers the admin only, and the CLI prints
 * a flow from start to end.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { GATEWAY_ADMIN, namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { authorizePath, followLogin, formPost, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { cliSession } from "../helpers/cli-program";
import { tempDir } from "../helpers/temp";
import { within } from "../helpers/within";

const RESOURCE = "https://mcp.example.test";
const REDIRECT = "http://127.0.0.1:7777/callback";
const ALICE = { id: 4242, login: "alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] };
const MALLORY = { id: 666, login: "mallory", emails: [{ email: "m@example.test", primary: true, verified: true }] };

let redis: TestRedis;
let github: GitHubTestServer;
let gw: TestGateway;
let backend: ReturnType<typeof namedBackend>;
let userToken: string;
/** Every secret the tests saw: none may appear in a stored event. */
const secrets: string[] = [];

const apiUrl = () => `http://127.0.0.1:${gw.gateway.apiPort}`;

async function apiAs(token: string, path: string) {
  const res = await fetch(apiUrl() + path, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: (await res.json()) as any };
}

/** The flows the API lists for a query, once `ready` holds for them (the recorder writes about every 100 ms). */
async function flowsWhen(query: string, ready: (flows: any[]) => boolean): Promise<any[]> {
  let flows: any[] = [];
  await within(3000, async () => {
    const res = await gw.api("GET", `/api/v1/logs/oauth?${query}`);
    expect(res.status).toBe(200);
    flows = res.json.flows;
    return ready(flows);
  });
  return flows;
}

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.addApp("gh-app", "gh-app-secret-value-0001");
  secrets.push("gh-app-secret-value-0001");
  github.setUser(ALICE);
  gw = await startTestGateway(redis, {
    BASE_DOMAIN: "example.test",
    GITHUB_CLIENT_ID: "gh-app",
    GITHUB_CLIENT_SECRET: "gh-app-secret-value-0001",
    GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
    GITHUB_API_BASE_URL: github.apiBaseUrl,
    OAUTH_ALLOWED_GITHUB_USERS: "alice",
    // The edge sign-in test stands in for a TLS-terminating proxy (resources must be https).
    TRUSTED_PROXY_CIDRS: "127.0.0.1/32",
  });
  backend = namedBackend("mcp");
  const created = await gw.api("POST", "/api/v1/proxy/targets", { hostname: "mcp.example.test", target_url: `http://127.0.0.1:${backend.port}`, enable_https: false });
  expect(created.status).toBe(201);
  const token = await gw.api("POST", "/api/v1/tokens", { name: "trace-user" });
  expect(token.status).toBe(201);
  userToken = token.json.token;
  await Bun.sleep(300);
});

afterAll(async () => {
  await gw?.stop();
  backend?.stop(true);
  await github?.stop();
  await redis?.stop();
});

/** A confidential client, so its secret is among those that must never be stored. */
async function confidentialClient() {
  const client = await register(gw, { client_name: "trace client", redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_post", grant_types: ["authorization_code", "refresh_token"] });
  secrets.push(client.client_secret, client.registration_access_token);
  return client;
}

describe("a sign-in traced end to end", () => {
  let client: any;
  let flow: any;

  beforeAll(async () => {
    github.setUser(ALICE);
    client = await confidentialClient();
    const pkce = pkcePair();
    secrets.push(pkce.verifier);
    const { final } = await followLogin(gw, authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", state: "client-state-xyz", scope: "mcp:read", resource: [RESOURCE] }), undefined, REDIRECT);
    const code = final!.searchParams.get("code")!;
    secrets.push(code);
    const issued = await tokenRequest(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: pkce.verifier, client_id: client.client_id, client_secret: client.client_secret });
    expect(issued.status).toBe(200);
    secrets.push(issued.body.access_token, issued.body.refresh_token);
    const refreshed = await tokenRequest(gw, { grant_type: "refresh_token", refresh_token: issued.body.refresh_token, client_id: client.client_id, client_secret: client.client_secret });
    expect(refreshed.status).toBe(200);
    secrets.push(refreshed.body.access_token, refreshed.body.refresh_token);
    const revoked = await formPost(gw, "/revoke", { token: refreshed.body.refresh_token, client_id: client.client_id, client_secret: client.client_secret });
    expect(revoked.status).toBe(200);
    const flows = await flowsWhen(`client_id=${encodeURIComponent(client.client_id)}`, (found) => found.some((f) => f.steps.some((s: any) => s.step === "revoke")));
    flow = flows.find((f) => f.steps.some((s: any) => s.step === "authorize"));
  });

  test("every step is present, in order, under one flow id, with the client, user and address", () => {
    expect(flow).toBeDefined();
    const steps = flow.steps.map((s: any) => `${s.step}:${s.outcome}`);
    expect(steps).toEqual([
      "authorize:ok",
      "upstream_redirect:ok",
      "callback:ok",
      "upstream_identity:ok",
      "allowlist:ok",
      "consent:ok",
      "consent:ok",
      "code_issued:ok",
      "token:ok",
      "refresh:ok",
      "revoke:ok",
    ]);
    for (const step of flow.steps) {
      expect(step.flow_id).toBe(flow.flow_id);
      expect(step.client_id).toBe(client.client_id);
      expect(step.ip).toBe("127.0.0.1");
      expect(step.request_id).toMatch(/^[A-Za-z0-9._:-]+$/);
    }
    // The user is known from the upstream identity on.
    expect(flow.steps.slice(3).every((s: any) => s.user === "alice")).toBe(true);
    expect(flow.steps[0].resource).toBe(RESOURCE);
    expect(flow.steps[1].reason).toBe(`to ${new URL(github.oauthBaseUrl).host}`);
    expect(flow.outcome).toBe("ok");
    expect(flow.user).toBe("alice");
    // Timestamps never go backwards.
    const times = flow.steps.map((s: any) => Date.parse(s.ts));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  test("the flow is found by user and by address, and by its id", async () => {
    const byUser = await flowsWhen("user=ALICE", (found) => found.some((f) => f.flow_id === flow.flow_id));
    expect(byUser.some((f) => f.flow_id === flow.flow_id)).toBe(true);
    const byIp = await flowsWhen("ip=127.0.0.1&hours=1", (found) => found.some((f) => f.flow_id === flow.flow_id));
    expect(byIp.some((f) => f.flow_id === flow.flow_id)).toBe(true);
    const one = await gw.api("GET", `/api/v1/logs/oauth/flow/${flow.flow_id}`);
    expect(one.status).toBe(200);
    expect(one.json.steps.length).toBe(flow.steps.length);
    // Filters combine: this client's flows from another address are none.
    const none = await gw.api("GET", `/api/v1/logs/oauth?client_id=${encodeURIComponent(client.client_id)}&ip=10.9.9.9`);
    expect(none.json.flows).toEqual([]);
  });

  test("the registration is a flow of its own", async () => {
    const flows = await flowsWhen(`client_id=${encodeURIComponent(client.client_id)}`, (found) => found.some((f) => f.steps[0].step === "register"));
    const registration = flows.find((f) => f.steps[0].step === "register");
    expect(registration.steps).toHaveLength(1);
    expect(registration.steps[0]).toMatchObject({ outcome: "ok", client_id: client.client_id, ip: "127.0.0.1" });
  });

  test("the CLI prints the sign-in from start to end", async () => {
    const { ok } = cliSession(apiUrl, GATEWAY_ADMIN, tempDir("cli-home"));
    const printed = await ok("logs", "oauth-flow", flow.flow_id);
    expect(printed).toContain(`Flow ${flow.flow_id}`);
    expect(printed).toContain("Outcome: ok");
    const lines = printed.split("\n").filter((line) => /^\s+\d\d:\d\d/.test(line));
    expect(lines.map((line) => line.trim().split(/\s+/)[1])).toEqual(flow.steps.map((s: any) => s.step));
    // By user: the latest sign-in of alice.
    expect(await ok("logs", "oauth-flow", "alice")).toContain("Flow ");
    const listed = await ok("logs", "oauth", "--client-id", client.client_id);
    expect(listed).toContain(flow.flow_id);
  });
});

describe("the edge's redirect-mode sign-in", () => {
  test("the proxy's redirect and its callback join the sign-in's flow", async () => {
    const host = "app.example.test";
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: host, target_url: `http://127.0.0.1:${backend.port}`, enable_https: false })).status).toBe(201);
    expect((await gw.api("POST", `/api/v1/proxy/targets/${host}/auth`, { auth_enabled: true, auth_mode: "redirect", auth_cookie_name: "app_session" })).status).toBe(200);
    await Bun.sleep(300);
    const https = { "x-forwarded-proto": "https" };
    const first = await gw.get(host, "/dashboard", { headers: { accept: "text/html", ...https }, redirect: "manual" });
    expect(first.status).toBe(302);
    const stateCookie = first.headers.getSetCookie()[0]!.split(";")[0]!;
    const authorizeUrl = new URL(first.headers.get("location")!);
    const { final } = await followLogin(gw, authorizeUrl.pathname + authorizeUrl.search, authorizeUrl.host, `https://${host}/_portcullis/callback`);
    expect(final).not.toBeNull();
    const back = await gw.get(host, final!.pathname + final!.search, { headers: { cookie: stateCookie, ...https }, redirect: "manual" });
    expect(back.status).toBe(302);
    expect(back.headers.get("location")).toBe(`https://${host}/dashboard`);
    const session = back.headers.getSetCookie().find((c) => c.startsWith("app_session="))!;
    secrets.push(session.split(";")[0]!.slice("app_session=".length), stateCookie.split("=")[1]!, authorizeUrl.searchParams.get("state")!);

    const flows = await flowsWhen("client_id=portcullis-edge", (found) => found.some((f) => f.steps.at(-1)?.step === "edge_sign_in" && f.steps.length > 2));
    const flow = flows.find((f) => f.steps.at(-1)?.step === "edge_sign_in")!;
    expect(flow.steps.map((s: any) => `${s.step}:${s.outcome}`)).toEqual([
      "edge_sign_in:ok",
      "authorize:ok",
      "upstream_redirect:ok",
      "callback:ok",
      "upstream_identity:ok",
      "allowlist:ok",
      "consent:ok",
      "code_issued:ok",
      "token:ok",
      "edge_sign_in:ok",
    ]);
    expect(flow.proxy).toBe(host);
    expect(flow.user).toBe("alice");
    expect(flow.steps.at(-1).reason).toBe("session cookie set");
  });
});

describe("refusals say why", () => {
  test("a user not in the allowlist: the flow ends at the allowlist with the reason", async () => {
    github.setUser(MALLORY);
    try {
      const client = await confidentialClient();
      const pkce = pkcePair();
      const { response } = await followLogin(gw, authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", resource: [RESOURCE] }), undefined, REDIRECT);
      expect(response.status).toBe(403);
      const flows = await flowsWhen("user=mallory", (found) => found.some((f) => f.outcome === "refused"));
      const refused = flows.find((f) => f.client_id === client.client_id)!;
      expect(refused.steps.map((s: any) => `${s.step}:${s.outcome}`)).toEqual(["authorize:ok", "upstream_redirect:ok", "callback:ok", "upstream_identity:ok", "allowlist:refused"]);
      expect(refused.outcome).toBe("refused");
      expect(refused.reason).toBe("user not in allowlist (OAUTH_ALLOWED_GITHUB_USERS)");
      const { ok } = cliSession(apiUrl, GATEWAY_ADMIN, tempDir("cli-home"));
      expect(await ok("logs", "oauth-flow", "--user", "mallory")).toContain("Outcome: refused — user not in allowlist (OAUTH_ALLOWED_GITHUB_USERS)");
    } finally {
      github.setUser(ALICE);
    }
  });

  test("PKCE with plain, a mismatched redirect_uri, a bad code_verifier: each refusal names its reason", async () => {
    const client = await confidentialClient();
    const pkce = pkcePair();
    await followLogin(gw, authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "plain" }), undefined, REDIRECT);
    await followLogin(gw, authorizePath({ client_id: client.client_id, redirect_uri: "http://127.0.0.1:9999/elsewhere", code_challenge: pkce.challenge, code_challenge_method: "S256" }));
    const { final } = await followLogin(gw, authorizePath({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", resource: [RESOURCE] }), undefined, REDIRECT);
    const code = final!.searchParams.get("code")!;
    secrets.push(code);
    const wrong = await tokenRequest(gw, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: pkcePair().verifier, client_id: client.client_id, client_secret: client.client_secret });
    expect(wrong.status).toBe(400);
    const flows = await flowsWhen(`client_id=${encodeURIComponent(client.client_id)}`, (found) => found.filter((f) => f.outcome === "refused").length >= 3);
    const reasons = flows.filter((f) => f.outcome === "refused").map((f) => f.reason);
    expect(reasons).toContain("code_challenge_method must be S256 (plain is not accepted)");
    expect(reasons.some((r: string) => r.startsWith("redirect_uri mismatch"))).toBe(true);
    expect(reasons).toContain("code_verifier does not match the code_challenge");
    // The refused token request joined its sign-in's flow.
    const exchanged = flows.find((f) => f.reason === "code_verifier does not match the code_challenge");
    expect(exchanged.steps[0].step).toBe("authorize");
    expect(exchanged.steps.at(-1)).toMatchObject({ step: "token", outcome: "refused", user: "alice" });
  });
});

describe("client metadata documents", () => {
  test("a URL client_id the server will not fetch is refused at the document step, with why", async () => {
    const clientId = "https://127.0.0.1:9/client.json";
    const res = await followLogin(gw, authorizePath({ client_id: clientId, redirect_uri: REDIRECT, code_challenge: pkcePair().challenge, code_challenge_method: "S256" }));
    expect(res.response.status).toBe(400);
    const flows = await flowsWhen(`client_id=${encodeURIComponent(clientId)}`, (found) => found.length > 0);
    expect(flows[0].steps).toHaveLength(1);
    expect(flows[0].steps[0]).toMatchObject({ step: "client_metadata_document", outcome: "refused", client_id: clientId });
    expect(flows[0].reason.length).toBeGreaterThan(10);
  });
});

describe("the query API", () => {
  test("admin only: a user token gets 403 on both endpoints", async () => {
    expect((await apiAs(userToken, "/api/v1/logs/oauth")).status).toBe(403);
    expect((await apiAs(userToken, `/api/v1/logs/oauth/flow/${"a".repeat(32)}`)).status).toBe(403);
    expect((await apiAs(GATEWAY_ADMIN, "/api/v1/logs/oauth")).status).toBe(200);
  });

  test("bad parameters are 4xx naming them; an unknown flow is 404", async () => {
    const hours = await gw.api("GET", "/api/v1/logs/oauth?hours=0");
    expect(hours.status).toBe(422);
    expect(hours.json.detail).toContain("hours");
    const limit = await gw.api("GET", "/api/v1/logs/oauth?limit=abc");
    expect(limit.status).toBe(422);
    expect(limit.json.detail).toContain("limit");
    expect((await gw.api("GET", "/api/v1/logs/oauth?ip=not-an-ip")).status).toBe(422);
    expect((await gw.api("GET", "/api/v1/logs/oauth/flow/nope")).status).toBe(422);
    expect((await gw.api("GET", `/api/v1/logs/oauth/flow/${"b".repeat(32)}`)).status).toBe(404);
  });

  test("without filters, the latest flows come first", async () => {
    const res = await gw.api("GET", "/api/v1/logs/oauth?limit=3");
    expect(res.status).toBe(200);
    expect(res.json.flows.length).toBe(3);
    const last = res.json.flows.map((f: any) => Date.parse(f.last_at));
    expect([...last].sort((a, b) => b - a)).toEqual(last);
  });
});

describe("storage", () => {
  test("no stored event holds a code, token, client secret, verifier or state; every key has a TTL", async () => {
    await Bun.sleep(300);
    const client = redis.client;
    const keys = [...(await client.keys("oauth:flow:*")), ...(await client.keys("idx:oauth:*")), "stream:oauth"];
    expect(keys.length).toBeGreaterThan(5);
    let stored = "";
    for (const key of keys) {
      const type = await client.type(key);
      if (type === "list") stored += (await client.lrange(key, 0, -1)).join("\n");
      else if (type === "zset") stored += (await client.zrange(key, "0", "-1")).join("\n");
      else if (type === "stream") stored += JSON.stringify(await client.xrange(key, "-", "+"));
      expect(await client.ttl(key)).toBeGreaterThan(0);
      expect(await client.ttl(key)).toBeLessThanOrEqual(24 * 3600);
    }
    expect(stored).toContain("alice");
    expect(secrets.length).toBeGreaterThan(8);
    for (const secret of secrets) expect(stored.includes(secret)).toBe(false);
    expect(stored).not.toContain("client-state-xyz");
  });
});
