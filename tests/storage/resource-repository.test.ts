/**
 * ResourceRepository against a real Redis: records and their index, refused
 * and concurrent writes, writes of many records in one transaction, and
 * cascade delete with the owning token.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { ownershipMember } from "../../src/storage/ownership";
import { RESOURCE_KIND, type ResourceRecord } from "../../src/storage/resource-repository";
import { createStores, type Stores } from "../../src/storage/stores";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let stores: Stores;

beforeAll(async () => {
  redis = await startTestRedis();
  stores = createStores(redis.client);
});
afterAll(() => redis?.stop());
beforeEach(() => redis.client.flushdb());

const NOW = "2026-01-01T00:00:00.000Z";
const record = (uri: string, overrides: Partial<ResourceRecord> = {}): ResourceRecord => ({
  uri,
  name: new URL(uri).host,
  proxy_target: null,
  scopes: [],
  metadata_url: `${new URL(uri).origin}/.well-known/oauth-protected-resource`,
  description: "",
  owner_token_hash: null,
  created_by: null,
  created_at: NOW,
  updated_at: NOW,
  ...overrides,
});
const owned = (hash: string) => redis.client.smembers(keys.ownedBy(hash));

describe("ResourceRepository", () => {
  test("create stores the record, indexes it and records its owner; a taken URI is refused", async () => {
    const a = record("https://a.example.com/mcp", { owner_token_hash: "sha256:alice" });
    expect(await stores.resources.create(a)).toBe(true);
    expect(await stores.resources.get(a.uri)).toEqual(a);
    expect(await redis.client.smembers(keys.resourceUris)).toEqual([a.uri]);
    expect(await owned("sha256:alice")).toEqual([ownershipMember(RESOURCE_KIND, a.uri)]);
    expect(await stores.resources.create(record(a.uri, { name: "other" }))).toBe(false);
    expect((await stores.resources.get(a.uri))?.name).toBe("a.example.com");
  });

  test("list is sorted by URI and skips index entries without a record", async () => {
    await stores.resources.create(record("https://b.example.com"));
    await stores.resources.create(record("https://a.example.com"));
    await redis.client.sadd(keys.resourceUris, "https://gone.example.com");
    expect((await stores.resources.list()).map((r) => r.uri)).toEqual(["https://a.example.com", "https://b.example.com"]);
  });

  test("update applies the change, keeps the URI and stamps updated_at; a throwing change writes nothing", async () => {
    await stores.resources.create(record("https://a.example.com"));
    const updated = await stores.resources.update("https://a.example.com", (r) => ({ ...r, name: "A", uri: "https://elsewhere.example.com" }));
    expect(updated).toMatchObject({ uri: "https://a.example.com", name: "A" });
    expect(updated!.updated_at > NOW).toBe(true);
    expect(await redis.client.exists(keys.resource("https://elsewhere.example.com"))).toBe(0);
    await expect(
      stores.resources.update("https://a.example.com", () => {
        throw new Error("refused");
      }),
    ).rejects.toThrow("refused");
    expect((await stores.resources.get("https://a.example.com"))?.name).toBe("A");
    expect(await stores.resources.update("https://none.example.com", (r) => r)).toBeNull();
  });

  test("update moves the ownership bookkeeping when the owner changes", async () => {
    await stores.resources.create(record("https://a.example.com", { owner_token_hash: "sha256:alice" }));
    await stores.resources.update("https://a.example.com", (r) => ({ ...r, owner_token_hash: "sha256:bob" }));
    expect(await owned("sha256:alice")).toEqual([]);
    expect(await owned("sha256:bob")).toEqual([ownershipMember(RESOURCE_KIND, "https://a.example.com")]);
  });

  test("concurrent updates both land (optimistic retry)", async () => {
    await stores.resources.create(record("https://a.example.com"));
    await Promise.all(
      ["mcp:read", "mcp:write", "mcp:admin"].map((scope) => stores.resources.update("https://a.example.com", (r) => ({ ...r, scopes: [...r.scopes, scope] }))),
    );
    expect((await stores.resources.get("https://a.example.com"))?.scopes.sort()).toEqual(["mcp:admin", "mcp:read", "mcp:write"]);
  });

  test("writeMany reads every URI, writes what decide returns in one go, and writes nothing when it returns nothing", async () => {
    await stores.resources.create(record("https://a.example.com", { name: "old" }));
    const uris = ["https://a.example.com", "https://b.example.com"];
    const seen = await stores.resources.writeMany(uris, (current) => ({
      writes: [{ ...current[0]!, name: "new" }, record("https://b.example.com", { owner_token_hash: "sha256:bob" })],
      result: current.map((r) => r?.name ?? null),
    }));
    expect(seen).toEqual(["old", null]);
    expect((await stores.resources.list()).map((r) => [r.uri, r.name])).toEqual([
      ["https://a.example.com", "new"],
      ["https://b.example.com", "b.example.com"],
    ]);
    expect(await owned("sha256:bob")).toEqual([ownershipMember(RESOURCE_KIND, "https://b.example.com")]);
    expect(await stores.resources.writeMany(uris, () => ({ writes: [], result: "none" }))).toBe("none");
    expect(await stores.resources.writeMany([], () => ({ writes: [], result: 0 }))).toBe(0);
  });

  test("writeMany refuses to write a record it did not read, and then writes nothing", async () => {
    await expect(
      stores.resources.writeMany(["https://a.example.com"], () => ({ writes: [record("https://a.example.com"), record("https://b.example.com")], result: null })),
    ).rejects.toThrow(/not read first/);
    expect(await redis.client.keys("resource*")).toEqual([]);
  });

  test("delete removes the record, its index entry and its owner's bookkeeping", async () => {
    await stores.resources.create(record("https://a.example.com", { owner_token_hash: "sha256:alice" }));
    expect(await stores.resources.delete("https://a.example.com")).toBe(true);
    expect(await stores.resources.get("https://a.example.com")).toBeNull();
    expect(await redis.client.smembers(keys.resourceUris)).toEqual([]);
    expect(await owned("sha256:alice")).toEqual([]);
    expect(await stores.resources.delete("https://a.example.com")).toBe(false);
  });

  test("deleting the owning token deletes its resources and nobody else's", async () => {
    const alice = { name: "alice", token: "acm_alice_secret", hash: "sha256:alice", role: "service-owner" as const, cert_email: null, created_at: NOW, created_by: null, owner_token_hash: null };
    await stores.tokens.create(alice);
    await stores.resources.create(record("https://a.example.com", { owner_token_hash: alice.hash }));
    await stores.resources.create(record("https://b.example.com", { owner_token_hash: "sha256:someone-else" }));
    expect(await stores.tokens.deleteCascading("alice")).toMatchObject({ [RESOURCE_KIND]: 1 });
    expect((await stores.resources.list()).map((r) => r.uri)).toEqual(["https://b.example.com"]);
    expect(await redis.client.smembers(keys.resourceUris)).toEqual(["https://b.example.com"]);
  });
});
