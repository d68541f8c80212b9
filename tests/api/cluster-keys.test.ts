/**
 * Cluster API keys: created, listed and deleted by the admin only; shown
 * once and stored hashed; scoped to CLUSTER_NAME; able to manage
 * configuration like an admin, never tokens or cluster keys.
 */
import { describe, expect, test } from "bun:test";
import { hashApiToken } from "../../src/core/api-token";
import { keys } from "../../src/storage/keys";
import { snapshot, useApiHarness } from "../helpers/api-app";
import { startTestGateway } from "../helpers/gateway-in-process";
import { startTestRedis } from "../helpers/redis-server";

const DEFAULT_KEY = "default-cluster-key-for-tests-0123456789";
const suite = useApiHarness({ CLUSTER_NAME: "blue", CLUSTER_API_KEY: DEFAULT_KEY });

async function createKey(name: string, cluster?: string): Promise<string> {
  const res = await suite.api.call("POST", "/api/v1/cluster/keys/", { body: cluster === undefined ? { name } : { name, cluster } });
  expect(res.status).toBe(201);
  return res.json.key;
}

async function userToken(name: string, role?: string): Promise<string> {
  return (await suite.api.call("POST", "/api/v1/tokens/", { body: { name, role } })).json.token;
}

describe("managing cluster keys", () => {
  test("create shows the key once; list shows a preview; Redis holds only its hash", async () => {
    const created = await suite.api.call("POST", "/api/v1/cluster/keys/", { body: { name: "node-a" } });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const key: string = created.json.key;
    expect(key).toMatch(/^pck_[0-9a-f]{64}$/);
    expect(created.json).toMatchObject({ name: "node-a", cluster: "blue", created_by: "admin", key_preview: key.slice(0, 10) + "…" });

    const list = await suite.api.call("GET", "/api/v1/cluster/keys/");
    expect(list.json).toEqual([{ name: "node-a", key_preview: key.slice(0, 10) + "…", cluster: "blue", created_at: created.json.created_at, created_by: "admin" }]);
    expect(JSON.stringify(list.json)).not.toContain(key);
    expect(JSON.stringify(await snapshot(suite.redis))).not.toContain(key);
    expect(await suite.redis.client.get(keys.clusterKeyByHash(hashApiToken(key)))).toBe("node-a");
  });

  test("bad names are 422, a taken name 409, and nothing is written", async () => {
    await createKey("node-a");
    const before = await snapshot(suite.redis);
    for (const body of [{ name: "" }, { name: "a b" }, { name: "x", cluster: "Not Valid" }, { name: "x", secret: "y" }]) {
      expect((await suite.api.call("POST", "/api/v1/cluster/keys/", { body })).status).toBe(422);
    }
    expect((await suite.api.call("POST", "/api/v1/cluster/keys/", { body: { name: "node-a" } })).status).toBe(409);
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("only the admin manages keys: service-owners, viewers and cluster keys get 403", async () => {
    const key = await createKey("node-a");
    const owner = await userToken("owner");
    const viewer = await userToken("viewer", "viewer");
    const before = await snapshot(suite.redis);
    for (const caller of [owner, viewer, key, DEFAULT_KEY]) {
      expect((await suite.api.call("GET", "/api/v1/cluster/keys/", { token: caller })).status).toBe(403);
      expect((await suite.api.call("POST", "/api/v1/cluster/keys/", { token: caller, body: { name: "more" } })).status).toBe(403);
      expect((await suite.api.call("DELETE", "/api/v1/cluster/keys/node-a", { token: caller })).status).toBe(403);
    }
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("a deleted key stops working at once; deleting it again is a 404", async () => {
    const key = await createKey("node-a");
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/", { token: key })).status).toBe(200);
    expect((await suite.api.call("DELETE", "/api/v1/cluster/keys/node-a")).json).toEqual({ deleted: "node-a" });
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/", { token: key })).status).toBe(401);
    expect((await suite.api.call("DELETE", "/api/v1/cluster/keys/node-a")).status).toBe(404);
    expect(await suite.redis.client.exists(keys.clusterKey("node-a"), keys.clusterKeyByHash(hashApiToken(key)))).toBe(0);
  });
});

describe("what a cluster key may do", () => {
  test("it manages every token's proxies like the admin", async () => {
    const key = await createKey("automation");
    const owner = await userToken("owner");
    expect((await suite.api.call("POST", "/api/v1/proxy/targets/", { token: owner, body: { hostname: "owned.example.test", target_url: "http://127.0.0.1:3000" } })).status).toBe(201);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/", { token: key })).json.map((p: any) => p.hostname)).toEqual(["owned.example.test"]);
    expect((await suite.api.call("PUT", "/api/v1/proxy/targets/owned.example.test", { token: key, body: { target_url: "http://127.0.0.1:4000" } })).status).toBe(200);
    const created = await suite.api.call("POST", "/api/v1/proxy/targets/", { token: key, body: { hostname: "auto.example.test", target_url: "http://127.0.0.1:3000" } });
    expect(created.status).toBe(201);
    expect(created.json.created_by).toBe("cluster-key:automation");
  });

  test("it never touches tokens: every /tokens endpoint is a 403 and nothing changes", async () => {
    const key = await createKey("automation");
    await userToken("owner");
    const before = await snapshot(suite.redis);
    const calls: [string, string, unknown][] = [
      ["GET", "/api/v1/tokens/", undefined],
      ["POST", "/api/v1/tokens/", { name: "sneaky", role: "admin" }],
      ["POST", "/api/v1/tokens/generate", { name: "sneaky" }],
      ["GET", "/api/v1/tokens/info", undefined],
      ["GET", "/api/v1/tokens/owner", undefined],
      ["GET", "/api/v1/tokens/owner/reveal", undefined],
      ["GET", "/api/v1/tokens/admin/reveal", undefined],
      ["GET", "/api/v1/tokens/owner/owned", undefined],
      ["PUT", "/api/v1/tokens/email", { name: "owner", email: "x@example.test" }],
      ["DELETE", "/api/v1/tokens/owner", undefined],
    ];
    for (const token of [key, DEFAULT_KEY]) {
      for (const [method, path, body] of calls) expect((await suite.api.call(method, path, { token, body })).status, `${method} ${path}`).toBe(403);
    }
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("it reads no secret: a certificate's private key is a 403", async () => {
    const key = await createKey("automation");
    expect((await suite.api.call("POST", "/api/v1/certificates/", { token: key, body: { cert_name: "c", domain: "c.example.test", acme: false } })).status).toBe(201);
    expect((await suite.api.call("GET", "/api/v1/certificates/c", { token: key })).status).toBe(200);
    expect((await suite.api.call("GET", "/api/v1/certificates/c?pem=true", { token: key })).status).toBe(403);
  });
});

describe("cluster scope and CLUSTER_API_KEY", () => {
  test("a key made for another cluster is refused here (401)", async () => {
    const key = await createKey("for-green", "green");
    const res = await suite.api.call("GET", "/api/v1/proxy/targets/", { token: key });
    expect(res.status).toBe(401);
    expect(res.json.detail).toContain("another cluster");
  });

  test("CLUSTER_API_KEY works without any record; a near miss does not", async () => {
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/", { token: DEFAULT_KEY })).status).toBe(200);
    const nearMiss = DEFAULT_KEY.slice(0, -1) + (DEFAULT_KEY.endsWith("9") ? "8" : "9");
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/", { token: nearMiss })).status).toBe(401);
    expect(JSON.stringify(await snapshot(suite.redis))).not.toContain(DEFAULT_KEY);
  });
});

test("keys never reach the gateway's log or audit log, and the audit names the key by name and role cluster", async () => {
  const redis = await startTestRedis();
  const lines: string[] = [];
  const gw = await startTestGateway(redis, { CLUSTER_API_KEY: DEFAULT_KEY }, { logLines: lines });
  try {
    const created = await gw.api("POST", "/api/v1/cluster/keys/", { name: "logged" });
    expect(created.status).toBe(201);
    const key: string = created.json.key;
    expect((await gw.apiAs(key, "POST", "/api/v1/proxy/targets/", { hostname: "k.example.test", target_url: "http://127.0.0.1:3000" })).status).toBe(201);
    expect((await gw.apiAs(DEFAULT_KEY, "GET", "/api/v1/proxy/targets/")).status).toBe(200);
    let audit: any[] = [];
    for (let i = 0; i < 100 && audit.length < 2; i++) {
      audit = (await gw.api("GET", "/api/v1/logs/audit")).json.entries;
      await Bun.sleep(20);
    }
    const byKey = audit.find((e: any) => e.path.startsWith("/api/v1/proxy/targets"));
    expect(byKey).toMatchObject({ token: "cluster-key:logged", role: "cluster" });
    const everything = lines.join("\n") + JSON.stringify(audit) + JSON.stringify(await snapshot(redis));
    expect(everything).not.toContain(key);
    expect(everything).not.toContain(DEFAULT_KEY);
  } finally {
    await gw.stop();
    await redis.stop();
  }
});
