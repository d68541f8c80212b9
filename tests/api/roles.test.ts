/**
 * Roles on real records: a service-owner sees and changes only its own; a
 * viewer reads everything but secrets and other tokens and writes nothing;
 * tokens are created with a role by the admin only; stored records with the
 * former role name `user` act as service-owners.
 */
import { describe, expect, test } from "bun:test";
import { hashApiToken } from "../../src/core/api-token";
import { keys } from "../../src/storage/keys";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();

async function token(name: string, role?: string): Promise<string> {
  const res = await suite.api.call("POST", "/api/v1/tokens/", { body: role === undefined ? { name } : { name, role } });
  expect(res.status).toBe(201);
  return res.json.token;
}

async function proxyOf(owner: string, hostname: string): Promise<void> {
  const res = await suite.api.call("POST", "/api/v1/proxy/targets/", { token: owner, body: { hostname, target_url: "http://127.0.0.1:3000" } });
  expect(res.status).toBe(201);
}

describe("token roles", () => {
  test("new tokens are service-owners; role picks admin, viewer, or service-owner by its former name user", async () => {
    const created = await suite.api.call("POST", "/api/v1/tokens/", { body: { name: "plain" } });
    expect(created.json.role).toBe("service-owner");
    for (const [name, role, expected] of [["v", "viewer", "viewer"], ["legacy", "user", "service-owner"], ["second-admin", "admin", "admin"]] as const) {
      const res = await suite.api.call("POST", "/api/v1/tokens/", { body: { name, role } });
      expect(res.status).toBe(201);
      expect(res.json.role).toBe(expected);
      expect(JSON.parse((await suite.redis.client.get(keys.token(name)))!).role).toBe(expected);
    }
  });

  test("an unknown role is a 422 naming the roles, and nothing is written", async () => {
    const before = await snapshot(suite.redis);
    const res = await suite.api.call("POST", "/api/v1/tokens/", { body: { name: "x", role: "root" } });
    expect(res.status).toBe(422);
    expect(res.json.detail).toContain("viewer");
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("only the admin creates tokens, whatever role it asks for", async () => {
    const owner = await token("owner");
    const viewer = await token("viewer-1", "viewer");
    for (const caller of [owner, viewer]) {
      for (const role of ["viewer", "admin", "service-owner"]) {
        const res = await suite.api.call("POST", "/api/v1/tokens/", { token: caller, body: { name: `by-${role}`, role } });
        expect(res.status).toBe(403);
      }
    }
    expect(await suite.redis.client.exists(keys.token("by-admin"), keys.token("by-viewer"))).toBe(0);
  });

  test("a stored record with role user (before the rename) reads and acts as a service-owner", async () => {
    const secret = "acm_legacy_user_token_0123456789";
    const record = { name: "old", token: secret, hash: hashApiToken(secret), role: "user", cert_email: null, created_at: "2025-01-01T00:00:00.000Z", created_by: "admin", owner_token_hash: null };
    await suite.redis.client.set(keys.token("old"), JSON.stringify(record));
    await suite.redis.client.set(keys.tokenByHash(record.hash), "old");
    await suite.redis.client.sadd(keys.tokenNames, "old");
    expect((await suite.api.call("GET", "/api/v1/tokens/info", { token: secret })).json.role).toBe("service-owner");
    await proxyOf(secret, "old.example.test");
    const other = await token("other");
    await proxyOf(other, "other.example.test");
    const seen = (await suite.api.call("GET", "/api/v1/proxy/targets/", { token: secret })).json.map((p: any) => p.hostname);
    expect(seen).toEqual(["old.example.test"]);
    expect((await suite.api.call("POST", "/api/v1/tokens/", { token: secret, body: { name: "nope" } })).status).toBe(403);
  });

  test("a second admin token can be deleted by the admin; the bootstrap admin token cannot", async () => {
    await token("ops", "admin");
    expect((await suite.api.call("DELETE", "/api/v1/tokens/ops")).status).toBe(200);
    expect((await suite.api.call("DELETE", "/api/v1/tokens/admin")).status).toBe(403);
  });
});

describe("service-owners: two tokens never see or change each other's things", () => {
  test("proxies, certificates and tokens of A are 404 to B, unchanged after B tries", async () => {
    const a = await token("alice");
    const b = await token("bob");
    await proxyOf(a, "alice.example.test");
    const cert = await suite.api.call("POST", "/api/v1/certificates/", { token: a, body: { cert_name: "alice-cert", domain: "alice.example.test", acme: false } });
    expect(cert.status).toBe(201);
    const before = await snapshot(suite.redis);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/", { token: b })).json).toEqual([]);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/alice.example.test", { token: b })).status).toBe(404);
    expect((await suite.api.call("PUT", "/api/v1/proxy/targets/alice.example.test", { token: b, body: { target_url: "http://127.0.0.1:4000" } })).status).toBe(404);
    expect((await suite.api.call("DELETE", "/api/v1/proxy/targets/alice.example.test", { token: b })).status).toBe(404);
    expect((await suite.api.call("GET", "/api/v1/certificates/alice-cert", { token: b })).status).toBe(404);
    expect((await suite.api.call("DELETE", "/api/v1/certificates/alice-cert", { token: b })).status).toBe(404);
    expect((await suite.api.call("GET", "/api/v1/tokens/alice", { token: b })).status).toBe(404);
    expect((await suite.api.call("GET", "/api/v1/tokens/alice/reveal", { token: b })).status).toBe(404);
    expect((await suite.api.call("DELETE", "/api/v1/tokens/alice", { token: b })).status).toBe(404);
    expect((await suite.api.call("GET", "/api/v1/tokens/", { token: b })).json.map((t: any) => t.name)).toEqual(["bob"]);
    expect(await snapshot(suite.redis)).toEqual(before);
    // A still has everything.
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/alice.example.test", { token: a })).status).toBe(200);
  });
});

describe("viewers read and never write", () => {
  test("a viewer sees every proxy and certificate, but not other tokens, secrets or the OAuth admin API", async () => {
    const owner = await token("owner");
    const viewer = await token("watcher", "viewer");
    await proxyOf(owner, "owned.example.test");
    expect((await suite.api.call("POST", "/api/v1/certificates/", { token: owner, body: { cert_name: "owned", domain: "owned.example.test", acme: false } })).status).toBe(201);

    expect((await suite.api.call("GET", "/api/v1/proxy/targets/", { token: viewer })).json.map((p: any) => p.hostname)).toEqual(["owned.example.test"]);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/owned.example.test", { token: viewer })).status).toBe(200);
    const certificate = await suite.api.call("GET", "/api/v1/certificates/owned", { token: viewer });
    expect(certificate.status).toBe(200);
    expect(certificate.json.private_key_pem).toBeUndefined();
    // Secrets: the private key, another token's secret, a proxy's GitHub client secret.
    const pem = await suite.api.call("GET", "/api/v1/certificates/owned?pem=true", { token: viewer });
    expect(pem.status).toBe(403);
    expect(JSON.stringify(pem.json)).not.toContain("PRIVATE KEY");
    expect((await suite.api.call("GET", "/api/v1/certificates/owned?pem=true", { token: owner })).json.private_key_pem).toContain("PRIVATE KEY");
    expect((await suite.api.call("GET", "/api/v1/tokens/owner/reveal", { token: viewer })).status).toBe(403);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/owned.example.test/github-oauth/secret", { token: viewer })).status).toBe(403);
    // Tokens: itself only.
    expect((await suite.api.call("GET", "/api/v1/tokens/", { token: viewer })).json.map((t: any) => t.name)).toEqual(["watcher"]);
    expect((await suite.api.call("GET", "/api/v1/tokens/owner", { token: viewer })).status).toBe(404);
    expect((await suite.api.call("GET", "/api/v1/oauth/clients", { token: viewer })).status).toBe(403);
  });

  test("every write of a viewer is a 403 before its body is read, and changes nothing", async () => {
    const owner = await token("owner");
    const viewer = await token("watcher", "viewer");
    await proxyOf(owner, "owned.example.test");
    const before = await snapshot(suite.redis);
    const writes: [string, string, unknown][] = [
      ["POST", "/api/v1/proxy/targets/", { hostname: "viewer.example.test", target_url: "http://127.0.0.1:1" }],
      ["PUT", "/api/v1/proxy/targets/owned.example.test", { target_url: "http://127.0.0.1:2" }],
      ["DELETE", "/api/v1/proxy/targets/owned.example.test", undefined],
      ["POST", "/api/v1/routes/", { path_pattern: "/x", target_type: "hostname", target_value: "owned.example.test" }],
      ["POST", "/api/v1/certificates/", { cert_name: "v", domain: "v.example.test", acme: false }],
      ["PUT", "/api/v1/tokens/email", { email: "viewer@example.test" }],
      ["DELETE", "/api/v1/tokens/watcher", undefined],
      ["DELETE", "/api/v1/logs/", undefined],
    ];
    for (const [method, path, body] of writes) {
      const res = await suite.api.call(method, path, { token: viewer, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.error).toBe("forbidden");
    }
    // Not even malformed JSON gets parsed for it.
    expect((await suite.api.call("POST", "/api/v1/proxy/targets/", { token: viewer, raw: "{not json" })).status).toBe(403);
    expect(await snapshot(suite.redis)).toEqual(before);
  });
});
