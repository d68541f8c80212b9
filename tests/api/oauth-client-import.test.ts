/**
 * PUT /api/v1/oauth/clients/{client_id} and GET .../secret-hashes on a real
 * gateway and Redis: a client imported with the stored hash of its secret
 * authenticates at the token endpoint with that secret (Basic and post) and
 * not with another; the metadata passes the checks of /register; a bad hash,
 * id or redirect URI writes nothing; only the admin may import or read
 * hashes; the audit log never holds a hash.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hashClientSecret } from "../../src/auth/clients/client-secrets";
import { keys } from "../../src/storage/keys";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { tokenRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const SECRET = "imported-client-secret-4f9a1c7e2b";
const HASH = hashClientSecret(SECRET);
const REDIRECT = "https://client.example.com/cb";
let redis: TestRedis;
let gw: TestGateway;
let user: string;
const path = (id: string) => `/api/v1/oauth/clients/${encodeURIComponent(id)}`;
const stored = async (id: string) => redis.client.get(keys.oauthClient(id));

/** A code exchange with a made-up code: invalid_grant means the client authenticated, invalid_client that it did not. */
const exchange = (clientId: string, secret: string, method: "basic" | "post") =>
  tokenRequest(
    gw,
    { grant_type: "authorization_code", code: "not-a-real-code", redirect_uri: REDIRECT, code_verifier: "v".repeat(43), ...(method === "post" ? { client_id: clientId, client_secret: secret } : {}) },
    method === "basic" ? { basic: [clientId, secret] } : {},
  );

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test" });
  user = (await gw.api("POST", "/api/v1/tokens/", { name: "carol" })).json.token;
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

describe("import with a secret hash", () => {
  test("creates the client under its own id (201); the imported secret authenticates with Basic, a wrong one does not", async () => {
    const made = await gw.api("PUT", path("client_restored01"), { client_name: "Restored", redirect_uris: [REDIRECT], client_secret_hash: HASH });
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({ client_id: "client_restored01", client_name: "Restored", token_endpoint_auth_method: "client_secret_basic", confidential: true, created: true });
    expect(JSON.stringify(made.json)).not.toContain(HASH);
    expect(await exchange("client_restored01", SECRET, "basic")).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    expect(await exchange("client_restored01", "not-the-secret", "basic")).toMatchObject({ status: 401, body: { error: "invalid_client" } });
    // The hash itself is not a credential.
    expect(await exchange("client_restored01", HASH, "basic")).toMatchObject({ status: 401, body: { error: "invalid_client" } });
  });

  test("client_secret_post the same way", async () => {
    const made = await gw.api("PUT", path("client_restored02"), { redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_post", client_secret_hash: HASH });
    expect(made.status).toBe(201);
    expect(await exchange("client_restored02", SECRET, "post")).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    expect(await exchange("client_restored02", `${SECRET}x`, "post")).toMatchObject({ status: 401, body: { error: "invalid_client" } });
  });

  test("a second PUT replaces the metadata (200), keeps the secret when no hash is given, and a new hash replaces it", async () => {
    const before = JSON.parse((await stored("client_restored01"))!);
    const again = await gw.api("PUT", path("client_restored01"), { client_name: "Renamed", redirect_uris: [REDIRECT, "http://127.0.0.1/cb"] });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ client_name: "Renamed", created: false, client_id_issued_at: before.client_id_issued_at });
    expect(await exchange("client_restored01", SECRET, "basic")).toMatchObject({ status: 400 });
    const rotated = await gw.api("PUT", path("client_restored01"), { client_name: "Renamed", redirect_uris: [REDIRECT], client_secret_hash: hashClientSecret("second-secret") });
    expect(rotated.status).toBe(200);
    expect(await exchange("client_restored01", SECRET, "basic")).toMatchObject({ status: 401 });
    expect(await exchange("client_restored01", "second-secret", "basic")).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  test("secret-hashes answers the stored hashes to the admin, no-store; the list never shows them", async () => {
    const res = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}${path("client_restored02")}/secret-hashes`, { headers: { authorization: `Bearer ${GATEWAY_ADMIN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const answer = await res.json();
    expect(answer).toEqual({ client_id: "client_restored02", client_secret_hash: HASH, registration_access_token_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(JSON.stringify((await gw.api("GET", "/api/v1/oauth/clients")).json)).not.toContain(HASH);
    expect((await gw.api("GET", `${path("client_unknown")}/secret-hashes`)).status).toBe(404);
  });

  test("a public client is imported without a hash and authenticates with its id alone", async () => {
    const made = await gw.api("PUT", path("native-app"), { redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" });
    expect(made.status).toBe(201);
    expect(JSON.parse((await stored("native-app"))!).client_secret_hash).toBeNull();
  });
});

describe("refused, writing nothing", () => {
  const cases: [string, string, Record<string, unknown>, RegExp][] = [
    ["a redirect URI with a script scheme", "client_bad01", { redirect_uris: ["javascript:alert(1)"], client_secret_hash: HASH }, /redirect_uris.*forbidden scheme/],
    ["plain http to a remote host (open redirect)", "client_bad02", { redirect_uris: ["http://evil.example.com/cb"], client_secret_hash: HASH }, /must use https/],
    ["a fragment in the redirect URI", "client_bad03", { redirect_uris: ["https://client.example.com/cb#x"], client_secret_hash: HASH }, /fragment/],
    ["a plaintext secret where the hash goes", "client_bad04", { redirect_uris: [REDIRECT], client_secret_hash: SECRET }, /client_secret_hash/],
    ["an upper-case hash", "client_bad05", { redirect_uris: [REDIRECT], client_secret_hash: HASH.toUpperCase() }, /client_secret_hash/],
    ["a short hash", "client_bad06", { redirect_uris: [REDIRECT], client_secret_hash: HASH.slice(1) }, /client_secret_hash/],
    ["a malformed registration token hash", "client_bad07", { redirect_uris: [REDIRECT], client_secret_hash: HASH, registration_access_token_hash: "abc" }, /registration_access_token_hash/],
    ["a plaintext secret field", "client_bad08", { redirect_uris: [REDIRECT], client_secret: SECRET }, /client_secret/],
    ["a confidential client without a hash", "client_bad09", { redirect_uris: [REDIRECT] }, /client_secret_hash: required/],
    ["a public client with a hash", "client_bad10", { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", client_secret_hash: HASH }, /public client/],
    ["an unsupported scope", "client_bad11", { redirect_uris: [REDIRECT], client_secret_hash: HASH, scope: "root" }, /unsupported scope/],
    ["a URL as client_id", "https://client.example.com/meta.json", { redirect_uris: [REDIRECT], client_secret_hash: HASH }, /client_id/],
    ["the admin test client's id", "portcullis-admin", { redirect_uris: [REDIRECT], client_secret_hash: HASH }, /reserved/],
    ["a client_id with spaces", "two words", { redirect_uris: [REDIRECT], client_secret_hash: HASH }, /client_id/],
  ];
  for (const [what, id, body, message] of cases) {
    test(what, async () => {
      const res = await gw.api("PUT", path(id), body);
      expect({ status: res.status, error: res.json.error }).toEqual({ status: 422, error: "invalid_request" });
      expect(res.json.detail).toMatch(message);
      expect(JSON.stringify(res.json)).not.toContain(SECRET);
      expect(await stored(id)).toBeNull();
    });
  }

  test("switching an existing client between public and confidential leaves it as it was", async () => {
    const before = await stored("native-app");
    const res = await gw.api("PUT", path("native-app"), { redirect_uris: ["http://127.0.0.1/cb"], client_secret_hash: HASH });
    expect(res.status).toBe(422);
    expect(res.json.detail).toMatch(/cannot switch between public/);
    expect(await stored("native-app")).toBe(before);
  });
});

describe("two tokens", () => {
  test("a non-admin token gets 403 for the import and the hashes, and nothing changes", async () => {
    const before = await stored("client_restored02");
    const put = await gw.apiAs(user, "PUT", path("client_restored02"), { redirect_uris: ["https://attacker.example.net/cb"], client_secret_hash: hashClientSecret("attacker") });
    expect(put).toMatchObject({ status: 403, json: { error: "forbidden" } });
    const create = await gw.apiAs(user, "PUT", path("client_carol01"), { redirect_uris: [REDIRECT], client_secret_hash: HASH });
    expect(create.status).toBe(403);
    expect(await stored("client_carol01")).toBeNull();
    expect(await stored("client_restored02")).toBe(before);
    const read = await gw.apiAs(user, "GET", `${path("client_restored02")}/secret-hashes`);
    expect(read.status).toBe(403);
    expect(JSON.stringify(read.json)).not.toContain(HASH);
    // Without a token at all: 401.
    const anonymous = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}${path("client_restored02")}/secret-hashes`);
    expect(anonymous.status).toBe(401);
  });
});

describe("audit", () => {
  test("imports and hash reads are audited by name and status, never with a hash", async () => {
    let entries: any[] = [];
    for (let i = 0; i < 100; i++) {
      entries = (await gw.api("GET", "/api/v1/logs/audit?limit=1000")).json.entries.filter((e: any) => e.path.startsWith("/api/v1/oauth/clients/"));
      if (entries.some((e) => e.method === "GET") && entries.some((e) => e.token === "carol")) break;
      await Bun.sleep(20);
    }
    expect(entries.find((e) => e.method === "PUT" && e.resource_id === "client_restored01" && e.status === 201)).toBeDefined();
    expect(entries.find((e) => e.method === "GET" && e.resource_id === "client_restored02" && e.status === 200)).toMatchObject({ resource_kind: "oauth.clients.secret", before: null, after: null });
    expect(entries.find((e) => e.token === "carol" && e.method === "PUT")).toMatchObject({ status: 403 });
    const everything = JSON.stringify((await gw.api("GET", "/api/v1/logs/audit?limit=1000")).json);
    expect(everything).not.toContain(HASH);
    expect(everything).not.toContain(hashClientSecret("second-secret"));
  });
});
