import { describe, expect, test } from "bun:test";
import { hashApiToken } from "../../src/core/api-token";
import { keys } from "../../src/storage/keys";
import { queueOwn } from "../../src/storage/ownership";
import { ADMIN, useApiHarness, snapshot } from "../helpers/api-app";

const suite = useApiHarness();

async function createToken(name: string, email: string | null = null): Promise<string> {
  const res = await suite.api.call("POST", "/api/v1/tokens/", { body: { name, cert_email: email } });
  expect(res.status).toBe(201);
  return res.json.token;
}

describe("token lifecycle", () => {
  test("create, list, show, info, reveal, email, delete", async () => {
    const created = await suite.api.call("POST", "/api/v1/tokens/", { body: { name: "dev", cert_email: "dev@example.com" } });
    expect(created.status).toBe(201);
    expect(created.json.token).toMatch(/^acm_[0-9a-f]{64}$/);
    expect(created.json.hash).toBe(hashApiToken(created.json.token));
    expect(created.json.created_by).toBe("admin");
    const secret: string = created.json.token;

    // Stored under both keys of the schema.
    expect(await suite.redis.client.get(keys.tokenByHash(created.json.hash))).toBe("dev");
    expect(JSON.parse((await suite.redis.client.get(keys.token("dev")))!).cert_email).toBe("dev@example.com");

    const list = await suite.api.call("GET", "/api/v1/tokens/");
    expect(list.status).toBe(200);
    expect(list.json.map((t: any) => t.name)).toEqual(["admin", "dev"]);
    // Listings never carry a secret.
    expect(JSON.stringify(list.json)).not.toContain(secret);
    expect(JSON.stringify(list.json)).not.toContain(ADMIN);
    expect(list.json[1].token_preview).toBe(secret.slice(0, 10) + "…");

    const shown = await suite.api.call("GET", "/api/v1/tokens/dev");
    expect(shown.status).toBe(200);
    expect(shown.json.token).toBeUndefined();

    const info = await suite.api.call("GET", "/api/v1/tokens/info", { token: secret });
    expect(info.json.name).toBe("dev");
    expect(info.json.role).toBe("service-owner");

    const revealedByOwner = await suite.api.call("GET", "/api/v1/tokens/dev/reveal", { token: secret });
    expect(revealedByOwner.json.token).toBe(secret);
    const revealedByAdmin = await suite.api.call("GET", "/api/v1/tokens/dev/reveal");
    expect(revealedByAdmin.json.token).toBe(secret);

    const ownEmail = await suite.api.call("PUT", "/api/v1/tokens/email", { token: secret, body: { email: "me@example.org" } });
    expect(ownEmail.status).toBe(200);
    expect(ownEmail.json.cert_email).toBe("me@example.org");
    const adminEmail = await suite.api.call("PUT", "/api/v1/tokens/email", { body: { name: "dev", email: "ops@example.org" } });
    expect(adminEmail.json.cert_email).toBe("ops@example.org");

    const deleted = await suite.api.call("DELETE", "/api/v1/tokens/dev");
    expect(deleted.status).toBe(200);
    expect(deleted.json.deleted).toBe("dev");
    expect(await suite.redis.client.exists(keys.token("dev"), keys.tokenByHash(created.json.hash))).toBe(0);
    expect((await suite.api.call("GET", "/api/v1/tokens/info", { token: secret })).status).toBe(401);
  });

  test("paths answer with and without the trailing slash, never redirecting", async () => {
    for (const path of ["/api/v1/tokens", "/api/v1/tokens/", "/api/v1/tokens/info", "/api/v1/tokens/info/", "/api/v1/tokens/admin/"]) {
      const res = await suite.api.call("GET", path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
    }
    const res = await suite.api.call("POST", "/api/v1/tokens", { body: { name: "noslash" } });
    expect(res.status).toBe(201);
  });

  test("generate is the same operation as create", async () => {
    const res = await suite.api.call("POST", "/api/v1/tokens/generate", { body: { name: "shown" } });
    expect(res.status).toBe(201);
    expect(res.json.token).toMatch(/^acm_/);
    expect((await suite.api.call("GET", "/api/v1/tokens/info", { token: res.json.token })).json.name).toBe("shown");
  });
});

describe("ownership", () => {
  test("a non-admin token sees and changes only itself", async () => {
    const alice = await createToken("alice");
    await createToken("bob");

    const list = await suite.api.call("GET", "/api/v1/tokens/", { token: alice });
    expect(list.json.map((t: any) => t.name)).toEqual(["alice"]);

    for (const [method, path, body] of [
      ["GET", "/api/v1/tokens/bob", undefined],
      ["GET", "/api/v1/tokens/bob/reveal", undefined],
      ["GET", "/api/v1/tokens/admin/reveal", undefined],
      ["DELETE", "/api/v1/tokens/bob", undefined],
      ["PUT", "/api/v1/tokens/email", { name: "bob", email: "x@example.com" }],
    ] as const) {
      const res = await suite.api.call(method, path, { token: alice, body });
      expect({ path, status: res.status, error: res.json.error }).toEqual({ path, status: 404, error: "not_found" });
    }
    expect(await suite.redis.client.exists(keys.token("bob"))).toBe(1);
  });

  test("only the admin creates tokens", async () => {
    const alice = await createToken("alice");
    const before = await snapshot(suite.redis);
    const res = await suite.api.call("POST", "/api/v1/tokens/", { token: alice, body: { name: "sneaky" } });
    expect(res.status).toBe(403);
    expect(res.json.error).toBe("forbidden");
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("the admin token cannot be deleted; a token may delete itself", async () => {
    const res = await suite.api.call("DELETE", "/api/v1/tokens/admin");
    expect(res.status).toBe(403);
    expect(await suite.redis.client.exists(keys.token("admin"))).toBe(1);

    const alice = await createToken("alice");
    expect((await suite.api.call("DELETE", "/api/v1/tokens/alice", { token: alice })).status).toBe(200);
    expect(await suite.redis.client.exists(keys.token("alice"))).toBe(0);
  });
});

describe("cascade delete", () => {
  /** A resource type plugged in the way certificates, proxies and services do. */
  const registerWidgets = () =>
    suite.api.ownership.register({
      kind: "widget",
      async queueDelete(tx, ids) {
        for (const id of ids) tx.del(`widget:${id}`);
      },
    });

  async function createWidget(id: string, ownerToken: string) {
    const tx = suite.redis.client.multi();
    tx.set(`widget:${id}`, "{}");
    queueOwn(tx, hashApiToken(ownerToken), "widget", id);
    await tx.exec();
  }

  test("deleting a token deletes what it owns and nothing else", async () => {
    registerWidgets();
    const alice = await createToken("alice");
    const bob = await createToken("bob");
    await createWidget("a1", alice);
    await createWidget("a2", alice);
    await createWidget("b1", bob);

    const res = await suite.api.call("DELETE", "/api/v1/tokens/alice");
    expect(res.status).toBe(200);
    expect(res.json.owned_resources_deleted).toEqual({ widget: 2 });
    expect(await suite.redis.client.exists("widget:a1", "widget:a2")).toBe(0);
    expect(await suite.redis.client.exists("widget:b1")).toBe(1);
    expect(await suite.redis.client.exists(keys.ownedBy(hashApiToken(alice)))).toBe(0);
    expect(await suite.redis.client.smembers(keys.ownedBy(hashApiToken(bob)))).toEqual(["widget:b1"]);
  });

  test("a resource of an unregistered kind stops the delete instead of being orphaned", async () => {
    const alice = await createToken("alice");
    await createWidget("a1", alice);
    const before = await snapshot(suite.redis);
    const res = await suite.api.call("DELETE", "/api/v1/tokens/alice");
    expect(res.status).toBe(500);
    expect(await snapshot(suite.redis)).toEqual(before);
  });
});

describe("bad input gets a 4xx JSON error and writes nothing", () => {
  const cases: { name: string; method: string; path: string; token?: string | null; body?: unknown; raw?: string; status: number; error: string; detail?: RegExp }[] = [
    { name: "missing name", method: "POST", path: "/api/v1/tokens/", body: {}, status: 422, error: "invalid_request", detail: /name/ },
    { name: "name not a string", method: "POST", path: "/api/v1/tokens/", body: { name: 5 }, status: 422, error: "invalid_request", detail: /name/ },
    { name: "unknown field", method: "POST", path: "/api/v1/tokens/", body: { name: "x", admin: true }, status: 422, error: "invalid_request" },
    { name: "bad name characters", method: "POST", path: "/api/v1/tokens/", body: { name: "a b/c" }, status: 422, error: "invalid_request", detail: /name/ },
    { name: "reserved name", method: "POST", path: "/api/v1/tokens/", body: { name: "info" }, status: 422, error: "invalid_request", detail: /reserved/ },
    { name: "duplicate name", method: "POST", path: "/api/v1/tokens/", body: { name: "taken" }, status: 409, error: "conflict", detail: /taken/ },
    { name: "bad email", method: "POST", path: "/api/v1/tokens/", body: { name: "y", cert_email: "not-an-email" }, status: 422, error: "invalid_request", detail: /cert_email/ },
    { name: "malformed JSON", method: "POST", path: "/api/v1/tokens/", raw: '{"name": "z"', status: 400, error: "invalid_json" },
    { name: "no bearer", method: "POST", path: "/api/v1/tokens/", token: null, body: { name: "z" }, status: 401, error: "unauthorized" },
    { name: "unknown bearer", method: "POST", path: "/api/v1/tokens/", token: "acm_" + "0".repeat(64), body: { name: "z" }, status: 401, error: "unauthorized" },
    { name: "no bearer on a read", method: "GET", path: "/api/v1/tokens/", token: null, status: 401, error: "unauthorized" },
    { name: "bad email update", method: "PUT", path: "/api/v1/tokens/email", body: { email: "nope" }, status: 422, error: "invalid_request", detail: /email/ },
    { name: "email update of a missing token", method: "PUT", path: "/api/v1/tokens/email", body: { name: "ghost", email: "a@b.co" }, status: 404, error: "not_found" },
    { name: "delete a missing token", method: "DELETE", path: "/api/v1/tokens/ghost", status: 404, error: "not_found" },
    { name: "unknown endpoint", method: "GET", path: "/api/v1/nothing-here", status: 404, error: "not_found" },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      await createToken("taken");
      const before = await snapshot(suite.redis);
      const res = await suite.api.call(c.method, c.path, { token: c.token, body: c.body, raw: c.raw });
      expect(res.status).toBe(c.status);
      expect(res.headers.get("content-type")).toContain("application/json");
      expect(res.json.error).toBe(c.error);
      expect(typeof res.json.detail).toBe("string");
      if (c.detail) expect(res.json.detail).toMatch(c.detail);
      expect(await snapshot(suite.redis)).toEqual(before);
    });
  }
});
