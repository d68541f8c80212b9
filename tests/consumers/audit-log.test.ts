/**
 * The audit log through a real gateway and real Redis: creating, changing
 * and deleting a proxy and a token leaves entries saying who (token name and
 * role), from which address, what (path, resource, changed fields) and the
 * status; a failed write is audited too; a new token's secret is never
 * stored; the endpoint is the admin's; the CLI lists the entries.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { cliSession } from "../helpers/cli-program";
import { tempDir } from "../helpers/temp";
import { within } from "../helpers/within";
import { proxyHeader, startHeaderSender } from "../helpers/proxy-protocol-client";

let redis: TestRedis;
let gw: TestGateway;
let userSecret: string;

const apiUrl = () => `http://127.0.0.1:${gw.gateway.apiPort}`;

async function call(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(apiUrl() + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** The newest audit entry for a method and path, once it is written. */
async function entryFor(method: string, path: string, query = ""): Promise<any> {
  let found: any;
  await within(3000, async () => {
    const res = await gw.api("GET", `/api/v1/logs/audit?limit=1000${query}`);
    expect(res.status).toBe(200);
    found = res.json.entries.find((e: any) => e.method === method && e.path === path);
    return found !== undefined;
  });
  return found;
}

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test", API_HOSTNAME: "api.example.test", API_ALLOWED_CIDRS: "127.0.0.0/8,203.0.113.0/24" });
});

afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

describe("proxy writes", () => {
  const host = "audited.example.test";

  test("create: who, from where, what, status and the new fields", async () => {
    const created = await call(GATEWAY_ADMIN, "POST", "/api/v1/proxy/targets", { hostname: host, target_url: "http://127.0.0.1:9/one", enable_https: false }, { "x-real-ip": "6.6.6.6" });
    expect(created.status).toBe(201);
    const entry = await entryFor("POST", "/api/v1/proxy/targets");
    expect(entry).toMatchObject({ token: "admin", role: "admin", method: "POST", resource_kind: "proxy", resource_id: host, status: 201, before: null, error: null });
    // The API_PORT peer, not the X-Real-IP the client made up.
    expect(entry.ip).toBe("127.0.0.1");
    expect(entry.changed).toContain("target_url");
    expect(entry.after.target_url).toBe("http://127.0.0.1:9/one");
    expect(entry.after.hostname).toBe(host);
    expect(Date.parse(entry.ts)).toBeGreaterThan(Date.now() - 60_000);
  });

  test("update: the changed fields, from what to what", async () => {
    const updated = await call(GATEWAY_ADMIN, "PUT", `/api/v1/proxy/targets/${host}`, { target_url: "http://127.0.0.1:9/two" });
    expect(updated.status).toBe(200);
    const entry = await entryFor("PUT", `/api/v1/proxy/targets/${host}`);
    expect(entry).toMatchObject({ token: "admin", resource_kind: "proxy", resource_id: host, status: 200 });
    expect(entry.changed).toContain("target_url");
    expect(entry.changed).not.toContain("hostname");
    expect(entry.before.target_url).toBe("http://127.0.0.1:9/one");
    expect(entry.after.target_url).toBe("http://127.0.0.1:9/two");
  });

  test("a proxy's settings: the proxy's fields that changed", async () => {
    const auth = await call(GATEWAY_ADMIN, "POST", `/api/v1/proxy/targets/${host}/auth`, { auth_enabled: true, auth_mode: "redirect" });
    expect(auth.status).toBe(200);
    const entry = await entryFor("POST", `/api/v1/proxy/targets/${host}/auth`);
    expect(entry).toMatchObject({ resource_kind: "proxy.auth", resource_id: host, status: 200 });
    expect(entry.changed).toContain("auth_enabled");
    expect(entry.changed).not.toContain("target_url");
    expect(entry.before.auth_enabled).toBe(false);
    expect(entry.after.auth_enabled).toBe(true);
  });

  test("delete: what was there", async () => {
    const deleted = await call(GATEWAY_ADMIN, "DELETE", `/api/v1/proxy/targets/${host}`);
    expect(deleted.status).toBe(200);
    const entry = await entryFor("DELETE", `/api/v1/proxy/targets/${host}`);
    expect(entry).toMatchObject({ token: "admin", resource_kind: "proxy", resource_id: host, status: 200, after: null });
    expect(entry.before.target_url).toBe("http://127.0.0.1:9/two");
  });

  test("a failed write is audited with its status and error", async () => {
    const bad = await call(GATEWAY_ADMIN, "POST", "/api/v1/proxy/targets", "{not json");
    expect(bad.status).toBe(400);
    const refused = await call(GATEWAY_ADMIN, "POST", "/api/v1/proxy/targets", { hostname: "bad host!", target_url: "http://127.0.0.1:9" });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    let entries: any[] = [];
    await within(3000, async () => {
      entries = (await gw.api("GET", "/api/v1/logs/audit?path=/api/v1/proxy/targets")).json.entries.filter((e: any) => e.status >= 400);
      return entries.length >= 2;
    });
    expect(entries.find((e) => e.status === 400)).toMatchObject({ token: "admin", method: "POST", error: "invalid_json", changed: [] });
    const invalid = entries.find((e) => e.after?.hostname === "bad host!");
    expect(invalid).toMatchObject({ status: refused.status, resource_id: "bad host!" });
    // No valid token: nothing was written and nobody is named, so no entry (the request log has the 401).
    const anonymous = await call("acm_not_a_real_token_0000000000000", "POST", "/api/v1/proxy/targets", { hostname: "anon.example.test", target_url: "http://127.0.0.1:9" });
    expect(anonymous.status).toBe(401);
    await Bun.sleep(200);
    const all = (await gw.api("GET", "/api/v1/logs/audit?limit=1000")).json.entries;
    expect(all.some((e: any) => e.after?.hostname === "anon.example.test" || e.token === null)).toBe(false);
  });
});

describe("token writes", () => {
  test("create and delete a token: entries name it, its secret is never stored", async () => {
    const created = await call(GATEWAY_ADMIN, "POST", "/api/v1/tokens", { name: "audited-user", cert_email: "u@example.test" });
    expect(created.status).toBe(201);
    userSecret = created.json.token;
    expect(userSecret).toStartWith("acm_");
    const creation = await entryFor("POST", "/api/v1/tokens");
    expect(creation).toMatchObject({ token: "admin", resource_kind: "token", resource_id: "audited-user", status: 201 });
    expect(creation.after.cert_email).toBe("u@example.test");
    expect(creation.after.token).toBe("[redacted]");

    // The new token writes too: its name and role are the caller.
    const own = await call(userSecret, "POST", "/api/v1/proxy/targets", { hostname: "users.example.test", target_url: "http://127.0.0.1:9", enable_https: false });
    expect(own.status).toBe(201);
    const byUser = await entryFor("POST", "/api/v1/proxy/targets", "&token=audited-user");
    expect(byUser).toMatchObject({ token: "audited-user", role: "service-owner", resource_id: "users.example.test", status: 201 });

    const other = await call(GATEWAY_ADMIN, "POST", "/api/v1/tokens", { name: "short-lived" });
    expect(other.status).toBe(201);
    const deleted = await call(GATEWAY_ADMIN, "DELETE", "/api/v1/tokens/short-lived");
    expect(deleted.status).toBe(200);
    const deletion = await entryFor("DELETE", "/api/v1/tokens/short-lived");
    expect(deletion).toMatchObject({ token: "admin", resource_kind: "token", resource_id: "short-lived", status: 200 });
    expect(deletion.before.token).toBe("[redacted]");
    expect(deletion.before.name).toBe("short-lived");

    const stored = JSON.stringify(await redis.client.xrange("stream:audit", "-", "+"));
    expect(stored).toContain("audited-user");
    for (const secret of [userSecret, other.json.token, GATEWAY_ADMIN]) expect(stored.includes(secret)).toBe(false);
    const ttl = await redis.client.ttl("stream:audit");
    expect(ttl).toBeGreaterThan(89 * 86400);
    expect(ttl).toBeLessThanOrEqual(90 * 86400);
  });
});

describe("the caller's address", () => {
  test("through an API hostname on the edge: the real client address, never one the client made up", async () => {
    const viaEdge = await fetch(`${gw.edge}/api/v1/routes`, {
      method: "POST",
      headers: { host: "api.example.test", authorization: `Bearer ${GATEWAY_ADMIN}`, "content-type": "application/json", "x-real-ip": "6.6.6.6", "x-forwarded-for": "6.6.6.7" },
      body: JSON.stringify({ route_id: "edge-audited", path_pattern: "/edge-audited", target_type: "url", target_value: "http://127.0.0.1:9" }),
    });
    expect(viaEdge.status).toBe(201);
    const direct = await entryFor("POST", "/api/v1/routes");
    expect(direct.ip).toBe("127.0.0.1");
    expect(direct.request_id).toBe(viaEdge.headers.get("x-request-id"));

    // A load balancer in front (PROXY protocol) names the client: that address is the one audited.
    const balancer = startHeaderSender(gw.gateway.proxyProtocolPort, () => proxyHeader(1, { address: "203.0.113.7", port: 40000 }));
    try {
      const relayed = await fetch(`http://127.0.0.1:${balancer.port}/api/v1/routes/edge-audited`, { method: "DELETE", headers: { host: "api.example.test", authorization: `Bearer ${GATEWAY_ADMIN}` } });
      expect(relayed.status).toBe(200);
      const entry = await entryFor("DELETE", "/api/v1/routes/edge-audited");
      expect(entry.ip).toBe("203.0.113.7");
      expect(entry.resource_kind).toBe("route");
    } finally {
      balancer.stop();
    }
  });
});

describe("the audit endpoint", () => {
  test("a user token gets 403; filters by token and path work", async () => {
    const refused = await call(userSecret, "GET", "/api/v1/logs/audit");
    expect(refused.status).toBe(403);
    expect(refused.json.error).toBe("forbidden");
    const tokens = await gw.api("GET", "/api/v1/logs/audit?path=/api/v1/tokens*");
    expect(tokens.json.entries.length).toBeGreaterThanOrEqual(3);
    expect(tokens.json.entries.every((e: any) => e.path.startsWith("/api/v1/tokens"))).toBe(true);
    const mine = await gw.api("GET", "/api/v1/logs/audit?token=audited-user");
    expect(mine.json.entries.length).toBeGreaterThanOrEqual(1);
    expect(mine.json.entries.every((e: any) => e.token === "audited-user")).toBe(true);
    // Newest first.
    const all = (await gw.api("GET", "/api/v1/logs/audit")).json.entries.map((e: any) => Date.parse(e.ts));
    expect([...all].sort((a, b) => b - a)).toEqual(all);
    const future = await gw.api("GET", `/api/v1/logs/audit?since=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(future.json.entries).toEqual([]);
    expect((await gw.api("GET", "/api/v1/logs/audit?since=yesterday")).status).toBe(422);
    expect((await gw.api("GET", "/api/v1/logs/audit?limit=0")).status).toBe(422);
  });

  test("the CLI lists the entries", async () => {
    const { ok } = cliSession(apiUrl, GATEWAY_ADMIN, tempDir("cli-home"));
    const printed = await ok("logs", "audit", "--token", "audited-user");
    expect(printed).toContain("users.example.test");
    expect(printed).toContain("POST");
    const json = JSON.parse(await ok("--format", "json", "logs", "audit", "--path", "/api/v1/tokens*"));
    expect(json.some((e: any) => e.resource_id === "short-lived" && e.method === "DELETE")).toBe(true);
  });
});
