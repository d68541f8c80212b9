/** ClientStore on a real Redis: what is stored, for how long, and what never is. */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { ClientMetadata } from "../../../src/auth/clients/client-record";
import { ClientStore } from "../../../src/auth/clients/client-store";
import { keys } from "../../../src/storage/keys";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

const LIFETIME = 7_776_000;

const metadata = (overrides: Partial<ClientMetadata> = {}): ClientMetadata => ({
  client_name: "Example",
  redirect_uris: ["https://client.example.com/cb"],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "client_secret_basic",
  scope: "mcp:read mcp:write",
  client_uri: null,
  logo_uri: null,
  contacts: [],
  software_id: null,
  software_version: null,
  ...overrides,
});

let redis: TestRedis;
let store: ClientStore;

beforeAll(async () => {
  redis = await startTestRedis();
  store = new ClientStore(redis.client, { clientLifetimeSeconds: LIFETIME });
});
afterAll(() => redis.stop());
beforeEach(() => redis.client.flushdb());

describe("register", () => {
  test("a confidential client gets an unguessable id, a secret and a registration token; Redis holds only their hashes", async () => {
    const before = Math.floor(Date.now() / 1000);
    const { record, clientSecret, registrationAccessToken } = await store.register(metadata(), { ip: "203.0.113.7" });

    expect(record.client_id).toMatch(/^client_[A-Za-z0-9_-]{22}$/);
    expect(clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(registrationAccessToken).toMatch(/^reg_[A-Za-z0-9_-]{43}$/);
    expect(record.client_id_issued_at).toBeGreaterThanOrEqual(before);
    expect(record.client_secret_expires_at).toBe(record.client_id_issued_at + LIFETIME);
    expect(record.registered_from).toBe("203.0.113.7");

    const raw = (await redis.client.get(keys.oauthClient(record.client_id)))!;
    expect(raw).not.toContain(clientSecret!);
    expect(raw).not.toContain(registrationAccessToken);
    const stored = JSON.parse(raw);
    expect(stored.client_secret_hash).toBe(new Bun.CryptoHasher("sha256").update(clientSecret!).digest("hex"));
    expect(stored.registration_access_token_hash).toBe(new Bun.CryptoHasher("sha256").update(registrationAccessToken).digest("hex"));
    expect(Object.keys(stored)).not.toContain("client_secret");
    expect(await store.get(record.client_id)).toEqual(record);
  });

  test("a public client gets no secret", async () => {
    const { record, clientSecret } = await store.register(metadata({ token_endpoint_auth_method: "none" }), { ip: null });
    expect(clientSecret).toBeNull();
    expect(record.client_secret_hash).toBeNull();
    expect(store.secretMatches(record, "")).toBe(false);
  });

  test("the client key expires after the client lifetime", async () => {
    const { record } = await store.register(metadata(), { ip: null });
    const ttl = await redis.client.ttl(keys.oauthClient(record.client_id));
    expect(ttl).toBeGreaterThan(LIFETIME - 5);
    expect(ttl).toBeLessThanOrEqual(LIFETIME);
  });

  test("lifetime 0: the client never expires and neither does its secret", async () => {
    const forever = new ClientStore(redis.client, { clientLifetimeSeconds: 0 });
    const { record } = await forever.register(metadata(), { ip: null });
    expect(await redis.client.ttl(keys.oauthClient(record.client_id))).toBe(-1);
    expect(record.client_secret_expires_at).toBe(0);
  });

  test("extra properties of the metadata object are not stored", async () => {
    const sneaky = { ...metadata(), client_secret_hash: "0".repeat(64), client_id: "client_chosen" } as ClientMetadata;
    const { record } = await store.register(sneaky, { ip: null });
    expect(record.client_id).not.toBe("client_chosen");
    expect(record.client_secret_hash).not.toBe("0".repeat(64));
  });

  test("two registrations never share an id", async () => {
    const ids = await Promise.all(Array.from({ length: 50 }, () => store.register(metadata(), { ip: null }).then((r) => r.record.client_id)));
    expect(new Set(ids).size).toBe(50);
  });
});

describe("secrets", () => {
  test("the secret and the registration token match only themselves", async () => {
    const { record, clientSecret, registrationAccessToken } = await store.register(metadata(), { ip: null });
    expect(store.secretMatches(record, clientSecret!)).toBe(true);
    expect(store.secretMatches(record, clientSecret! + "x")).toBe(false);
    expect(store.secretMatches(record, registrationAccessToken)).toBe(false);
    expect(store.registrationTokenMatches(record, registrationAccessToken)).toBe(true);
    expect(store.registrationTokenMatches(record, clientSecret!)).toBe(false);
    expect(store.registrationTokenMatches(record, "")).toBe(false);
  });

  test("an expired secret no longer matches", async () => {
    const { record, clientSecret } = await store.register(metadata(), { ip: null });
    expect(store.secretMatches({ ...record, client_secret_expires_at: Math.floor(Date.now() / 1000) - 1 }, clientSecret!)).toBe(false);
  });

  test("a metadata-document record (empty registration token hash) matches no token", () => {
    const record = { ...metadata({ token_endpoint_auth_method: "none" }), client_id: "https://a.example/c", client_secret_hash: null, registration_access_token_hash: "", client_id_issued_at: 0, client_secret_expires_at: 0, registered_from: null };
    expect(store.registrationTokenMatches(record, "")).toBe(false);
  });
});

describe("update, delete, list", () => {
  test("update replaces the metadata and keeps id, credentials, issue time and remaining lifetime", async () => {
    const { record, clientSecret } = await store.register(metadata(), { ip: "198.51.100.1" });
    await redis.client.expire(keys.oauthClient(record.client_id), 1000);

    const updated = await store.update(record.client_id, metadata({ client_name: "Renamed", token_endpoint_auth_method: "client_secret_post", redirect_uris: ["https://client.example.com/new"] }));
    expect(updated).toEqual({ ...record, client_name: "Renamed", token_endpoint_auth_method: "client_secret_post", redirect_uris: ["https://client.example.com/new"] });
    expect(await store.get(record.client_id)).toEqual(updated!);
    expect(store.secretMatches(updated!, clientSecret!)).toBe(true);
    const ttl = await redis.client.ttl(keys.oauthClient(record.client_id));
    expect(ttl).toBeGreaterThan(990);
    expect(ttl).toBeLessThanOrEqual(1000);
  });

  test("update cannot turn a public client confidential or back", async () => {
    const { record } = await store.register(metadata({ token_endpoint_auth_method: "none" }), { ip: null });
    await expect(store.update(record.client_id, metadata())).rejects.toMatchObject({ code: "invalid_client_metadata" });
    const confidential = (await store.register(metadata(), { ip: null })).record;
    await expect(store.update(confidential.client_id, metadata({ token_endpoint_auth_method: "none" }))).rejects.toMatchObject({ code: "invalid_client_metadata" });
  });

  test("update and delete of an unknown client report it and create nothing", async () => {
    expect(await store.update("client_nope", metadata())).toBeNull();
    expect(await store.delete("client_nope")).toBe(false);
    expect(await redis.client.exists(keys.oauthClient("client_nope"))).toBe(0);
  });

  test("delete removes the client", async () => {
    const { record } = await store.register(metadata(), { ip: null });
    expect(await store.delete(record.client_id)).toBe(true);
    expect(await store.get(record.client_id)).toBeNull();
  });

  test("list and count see every client (SCAN in batches) and nothing else", async () => {
    await redis.client.set("oauth:clientele", "not a client");
    await redis.client.set(keys.oauthClient("client_garbage"), "{not json");
    const registered = [];
    for (let i = 0; i < 1200; i += 100) {
      registered.push(...(await Promise.all(Array.from({ length: 100 }, () => store.register(metadata(), { ip: null })))));
    }
    const listed = await store.list();
    expect(listed.length).toBe(1200);
    expect(new Set(listed.map((r) => r.client_id))).toEqual(new Set(registered.map((r) => r.record.client_id)));
    expect(await store.count()).toBe(1201); // count counts keys; the garbage record is one
  });

  test("a corrupt record reads as absent", async () => {
    await redis.client.set(keys.oauthClient("client_bad"), "[1,2]");
    expect(await store.get("client_bad")).toBeNull();
  });
});
