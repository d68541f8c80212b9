/**
 * GET /api/v1/proxy/targets/{hostname}/github-oauth/secret on a real gateway:
 * the proxy's GitHub client secret in clear for its owner and the admin only
 * (another token gets the same 404 as for a proxy that does not exist), never
 * cached, never in any other answer, in the logs or in the audit log, whose
 * entry says who read it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { connect } from "node:net";

/** One request written byte for byte (fetch would normalise the path); the whole answer. */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(request));
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk));
    socket.on("end", () => resolve(answer));
    socket.on("error", () => resolve(answer));
  });
}

const SECRET = "5ecre7f00dba11a5ecre7f00dba11a5ecre7f00d";
const HOST = "alice.example.test";
let redis: TestRedis;
let gw: TestGateway;
const logLines: string[] = [];
let alice: string;
let bob: string;
const secretPath = (host: string) => `/api/v1/proxy/targets/${host}/github-oauth/secret`;
const raw = (token: string | null, path: string) =>
  fetch(`http://127.0.0.1:${gw.gateway.apiPort}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, {}, { logLines });
  alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token;
  expect((await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: HOST, target_url: "http://127.0.0.1:7000" })).status).toBe(201);
  expect((await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: "plain.example.test", target_url: "http://127.0.0.1:7001" })).status).toBe(201);
  const configured = await gw.apiAs(alice, "POST", `/api/v1/proxy/targets/${HOST}/github-oauth`, { github_client_id: "Ov23liAlice0001", github_client_secret: SECRET });
  expect(configured.status).toBe(200);
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

describe("the secret endpoint", () => {
  test("the owner and the admin read it in clear, with Cache-Control: no-store", async () => {
    for (const token of [alice, GATEWAY_ADMIN]) {
      const response = await raw(token, secretPath(HOST));
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(await response.json()).toEqual({ hostname: HOST, github_client_id: "Ov23liAlice0001", github_client_secret: SECRET });
    }
    // A proxy without its own app: nulls, not an error.
    expect((await gw.apiAs(alice, "GET", secretPath("plain.example.test"))).json).toEqual({ hostname: "plain.example.test", github_client_id: null, github_client_secret: null });
  });

  test("another token gets the 404 of a proxy that does not exist; no token is 401", async () => {
    const theirs = await raw(bob, secretPath(HOST));
    const nobody = await raw(bob, secretPath("nothing.example.test"));
    expect(theirs.status).toBe(404);
    expect(nobody.status).toBe(404);
    const [theirsBody, nobodyBody] = [await theirs.text(), await nobody.text()];
    expect(theirsBody).not.toContain(SECRET);
    expect(JSON.parse(theirsBody).error).toBe(JSON.parse(nobodyBody).error);
    expect((await raw(null, secretPath(HOST))).status).toBe(401);
    expect((await raw("acm_not_a_token_at_all_0000000000", secretPath(HOST))).status).toBe(401);
  });

  test("no list or show answer carries it, for the owner or the admin", async () => {
    const paths = [
      "/api/v1/proxy/targets/",
      `/api/v1/proxy/targets/${HOST}`,
      `/api/v1/proxy/targets/${HOST}/github-oauth`,
      "/api/v1/proxy/targets/github-oauth/configured",
      "/api/v1/oauth/proxies",
    ];
    for (const token of [alice, GATEWAY_ADMIN]) {
      for (const path of paths) {
        const response = await raw(token, path);
        expect({ path, text: await response.text() }).not.toEqual({ path, text: expect.stringContaining(SECRET) });
      }
    }
  });

  test("the audit log records each read (who, which proxy, the status), never the value; the logs never hold it", async () => {
    let entries: any[] = [];
    for (let i = 0; i < 100; i++) {
      entries = (await gw.api("GET", "/api/v1/logs/audit?limit=1000")).json.entries.filter((e: any) => e.method === "GET");
      if (entries.length >= 4) break;
      await Bun.sleep(20);
    }
    expect(entries.find((e) => e.token === "alice" && e.resource_id === HOST && e.status === 200)).toMatchObject({
      path: secretPath(HOST),
      resource_kind: "proxy.github-oauth.secret",
      changed: [],
      before: null,
      after: null,
    });
    expect(entries.find((e) => e.token === "admin" || e.role === "admin")).toMatchObject({ resource_id: HOST, status: 200 });
    expect(entries.find((e) => e.token === "bob" && e.resource_id === HOST)).toMatchObject({ status: 404, error: "not_found" });
    // Other reads are not audited.
    expect(entries.every((e) => e.path.endsWith("/github-oauth/secret"))).toBe(true);
    const everything = JSON.stringify((await gw.api("GET", "/api/v1/logs/audit?limit=1000")).json);
    expect(everything).not.toContain(SECRET);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join("\n")).not.toContain(SECRET);
  });

  test("a path spelt another way (dot segments, trailing slash, encoded name, absolute form) still reaches the audit log", async () => {
    const variants = [
      `/api/v1/proxy/targets/${HOST}/github-oauth/secret/`,
      `/api/v1/proxy/targets/${HOST}/github-oauth/./secret`,
      `/api/v1/proxy/targets/${HOST}/github-oauth/x/../secret`,
      `/api/v1/proxy/targets/${HOST.replace(".", "%2e")}/github-oauth/secret`,
      `http://127.0.0.1/api/v1/proxy/targets/${HOST}/github-oauth/secret`,
    ];
    const aliceReads = async () =>
      (await gw.api("GET", "/api/v1/logs/audit?limit=1000&token=alice")).json.entries.filter((e: any) => e.method === "GET" && e.status === 200);
    const before = (await aliceReads()).length;
    let served = 0;
    for (const path of variants) {
      const answer = await rawRequest(gw.gateway.apiPort, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${alice}\r\nConnection: close\r\n\r\n`);
      if (answer.includes(SECRET)) served++;
    }
    expect(served).toBeGreaterThan(0);
    let reads: any[] = [];
    for (let i = 0; i < 100; i++) {
      reads = (await aliceReads()).slice(0, -before || undefined);
      if (reads.length >= served) break;
      await Bun.sleep(20);
    }
    expect(reads.length).toBe(served);
    expect(reads.every((e) => e.resource_id === HOST && e.resource_kind === "proxy.github-oauth.secret" && e.after === null)).toBe(true);
  });

  test("the OpenAPI document lists it", async () => {
    const doc = (await gw.api("GET", "/api/v1/openapi.json")).json;
    expect(doc.paths["/api/v1/proxy/targets/{hostname}/github-oauth/secret"]?.get?.summary).toContain("secret");
  });
});
