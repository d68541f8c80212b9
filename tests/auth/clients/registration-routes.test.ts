/** POST /register (RFC 7591) and /register/{id} (RFC 7592) over real HTTP, on a real Redis. */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { OAuthClientInformationFullSchema } from "@modelcontextprotocol/sdk/shared/auth.js";
import { Elysia } from "elysia";
import { ClientStore } from "../../../src/auth/clients/client-store";
import { registrationRoutes } from "../../../src/auth/server/registration-routes";
import { keys } from "../../../src/storage/keys";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

const ISSUER = "https://auth.example.test";
const SCOPES = ["mcp:read", "mcp:write", "mcp:admin"];
const LIFETIME = 86_400;

let redis: TestRedis;
let clients: ClientStore;
let server: ReturnType<typeof Bun.serve>;
let limitedServer: ReturnType<typeof Bun.serve>;

const serve = (rateLimitPerMinute: number) => {
  const app = new Elysia().use(registrationRoutes({ clients, redis: redis.client, issuer: ISSUER, supportedScopes: () => SCOPES, rateLimitPerMinute }));
  return Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => app.fetch(request) });
};

beforeAll(async () => {
  redis = await startTestRedis();
  clients = new ClientStore(redis.client, { clientLifetimeSeconds: LIFETIME });
  server = serve(10_000);
  limitedServer = serve(3);
});
afterAll(async () => {
  server.stop(true);
  limitedServer.stop(true);
  await redis.stop();
});
beforeEach(() => redis.client.flushdb());

interface CallOptions {
  body?: unknown;
  raw?: string | Uint8Array | ReadableStream<Uint8Array>;
  contentType?: string;
  token?: string;
  ip?: string;
  headers?: Record<string, string>;
  target?: ReturnType<typeof Bun.serve>;
}

async function call(method: string, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { "x-real-ip": options.ip ?? "192.0.2.10", ...options.headers };
  let body: string | Uint8Array | ReadableStream<Uint8Array> | undefined = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`http://127.0.0.1:${(options.target ?? server).port}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: text ? JSON.parse(text) : null };
}

const publicClient = {
  client_name: "Example MCP Client",
  redirect_uris: ["http://127.0.0.1:33418/callback", "https://client.example.com/callback"],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "none",
  scope: "mcp:read mcp:write",
  software_id: "mcp-client-example",
  software_version: "1.0.0",
};

const register = async (body: unknown = publicClient) => {
  const response = await call("POST", "/register", { body });
  expect(response.status).toBe(201);
  return response.json as Record<string, unknown> & { client_id: string; registration_access_token: string; client_secret?: string };
};

describe("POST /register", () => {
  test("a public client: 201 with the RFC 7591 client information response, no secret", async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await call("POST", "/register", { body: publicClient });
    expect(response.status).toBe(201);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const info = response.json;

    expect(info).toMatchObject(publicClient);
    expect(typeof info.client_id).toBe("string");
    expect(info.client_secret).toBeUndefined();
    expect(Number.isInteger(info.client_id_issued_at)).toBe(true);
    expect(info.client_id_issued_at).toBeGreaterThanOrEqual(before);
    expect(info.client_secret_expires_at).toBe(info.client_id_issued_at + LIFETIME);
    expect(typeof info.registration_access_token).toBe("string");
    expect(info.registration_client_uri).toBe(`${ISSUER}/register/${info.client_id}`);
    for (const field of ["client_secret_hash", "registration_access_token_hash", "registered_from"]) expect(info).not.toHaveProperty(field);
    // What an MCP client library accepts (it validates the response before using it).
    expect(() => OAuthClientInformationFullSchema.parse(info)).not.toThrow();

    const stored = await clients.get(info.client_id);
    expect(stored?.registered_from).toBe("192.0.2.10");
    expect(stored?.token_endpoint_auth_method).toBe("none");
  });

  test("a confidential client: the RFC default method client_secret_basic and a secret, shown once", async () => {
    const response = await call("POST", "/register", { body: { redirect_uris: ["https://client.example.com/cb"] } });
    expect(response.status).toBe(201);
    const info = response.json;
    expect(info.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(info.grant_types).toEqual(["authorization_code"]);
    expect(info.response_types).toEqual(["code"]);
    expect(info.scope).toBe(SCOPES.join(" "));
    expect(typeof info.client_secret).toBe("string");
    expect(info.client_secret.length).toBeGreaterThanOrEqual(32);
    expect(typeof info.client_secret_expires_at).toBe("number");
    expect(() => OAuthClientInformationFullSchema.parse(info)).not.toThrow();

    const raw = (await redis.client.get(keys.oauthClient(info.client_id)))!;
    expect(raw).not.toContain(info.client_secret);
    expect(raw).not.toContain(info.registration_access_token);
    expect(clients.secretMatches(JSON.parse(raw), info.client_secret)).toBe(true);
    expect(await redis.client.ttl(keys.oauthClient(info.client_id))).toBeGreaterThan(LIFETIME - 5);
  });

  const rejections: Array<[string, unknown, string]> = [
    ["no redirect_uris", { client_name: "x" }, "invalid_redirect_uri"],
    ["an http redirect URI off loopback", { redirect_uris: ["http://client.example.com/cb"] }, "invalid_redirect_uri"],
    ["a redirect URI with a fragment", { redirect_uris: ["https://client.example.com/cb#top"] }, "invalid_redirect_uri"],
    ["a javascript: redirect URI", { redirect_uris: ["javascript:alert(document.cookie)"] }, "invalid_redirect_uri"],
    ["a bad grant type", { redirect_uris: ["https://c.example/cb"], grant_types: ["password"] }, "invalid_client_metadata"],
    ["inconsistent response types", { redirect_uris: ["https://c.example/cb"], grant_types: ["authorization_code"], response_types: [] }, "invalid_client_metadata"],
    ["an unknown auth method", { redirect_uris: ["https://c.example/cb"], token_endpoint_auth_method: "client_secret_jwt" }, "invalid_client_metadata"],
    ["an unsupported scope", { redirect_uris: ["https://c.example/cb"], scope: "mcp:read admin:everything" }, "invalid_client_metadata"],
    ["a JSON array", [{ redirect_uris: ["https://c.example/cb"] }], "invalid_client_metadata"],
    ["JSON null", null, "invalid_client_metadata"],
    ["wrong types", { redirect_uris: [42] }, "invalid_client_metadata"],
  ];
  for (const [name, body, code] of rejections) {
    test(`refuses ${name}: 400 ${code}, nothing stored`, async () => {
      const response = await call("POST", "/register", { body });
      expect(response.status).toBe(400);
      expect(response.json.error).toBe(code);
      expect(typeof response.json.error_description).toBe("string");
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(await clients.count()).toBe(0);
    });
  }

  const badBodies: Array<[string, CallOptions, number, string]> = [
    ["malformed JSON", { raw: '{"redirect_uris": [' }, 400, "invalid_client_metadata"],
    ["an empty body", { raw: "" }, 400, "invalid_client_metadata"],
    ["invalid UTF-8", { raw: new Uint8Array([0x7b, 0xff, 0x7d]) }, 400, "invalid_client_metadata"],
    ["a form body", { raw: "redirect_uris=https://c.example/cb", contentType: "application/x-www-form-urlencoded" }, 400, "invalid_client_metadata"],
    ["no content type", { raw: "{}", contentType: "" }, 400, "invalid_client_metadata"],
    ["deeply nested JSON", { raw: `{"redirect_uris":${"[".repeat(30_000)}${"]".repeat(30_000)}}` }, 400, "invalid_client_metadata"],
    ["a 65 KiB body", { raw: JSON.stringify({ redirect_uris: ["https://c.example/cb"], pad: "x".repeat(65 * 1024) }) }, 413, "invalid_request"],
  ];
  for (const [name, options, status, code] of badBodies) {
    test(`refuses ${name}: ${status} ${code}`, async () => {
      const response = await call("POST", "/register", options);
      expect(response.status).toBe(status);
      expect(response.json.error).toBe(code);
      expect(await clients.count()).toBe(0);
    });
  }

  test("refuses a streamed body without Content-Length once it passes 64 KiB", async () => {
    const chunk = new TextEncoder().encode(" ".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await call("POST", "/register", { raw: stream });
    expect(response.status).toBe(413);
    expect(response.json.error).toBe("invalid_request");
  });

  test("unknown fields are ignored, not stored and not echoed", async () => {
    const info = await register({ ...publicClient, jwks_uri: "https://c.example/jwks", client_secret: "mine" });
    expect(info).not.toHaveProperty("jwks_uri");
    expect(info).not.toHaveProperty("client_secret");
    expect(await redis.client.get(keys.oauthClient(info.client_id))).not.toContain("jwks_uri");
  });

  test("also answers at /register/ with a trailing slash", async () => {
    const response = await call("POST", "/register/", { body: publicClient });
    expect(response.status).toBe(201);
  });
});

describe("rate limit", () => {
  const waitForFreshMinute = async () => {
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 55_000) await Bun.sleep(60_000 - intoMinute + 50);
  };

  test("the registration after the configured count from one IP gets 429 with Retry-After; another IP is unaffected", async () => {
    await waitForFreshMinute();
    const from = (ip: string, body: unknown = publicClient) => call("POST", "/register", { body, ip, target: limitedServer });
    expect((await from("203.0.113.5")).status).toBe(201);
    // Refused attempts count too.
    expect((await from("203.0.113.5", { redirect_uris: ["javascript:x"] })).status).toBe(400);
    expect((await from("203.0.113.5")).status).toBe(201);

    const limited = await from("203.0.113.5");
    expect(limited.status).toBe(429);
    expect(limited.json.error).toBe("slow_down");
    expect(typeof limited.json.error_description).toBe("string");
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await clients.count()).toBe(2);

    expect((await from("203.0.113.6")).status).toBe(201);
    expect((await from("2001:db8::6")).status).toBe(201);

    const key = keys.oauthRegistrationRate("203.0.113.5", Math.floor(Date.now() / 60_000));
    expect(await redis.client.get(key)).toBe("4");
    const ttl = await redis.client.ttl(key);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
  });
});

describe("RFC 7592 client configuration endpoint", () => {
  test("GET with the registration access token: the metadata, without any secret", async () => {
    const confidential = await register({ ...publicClient, token_endpoint_auth_method: "client_secret_post" });
    const response = await call("GET", `/register/${confidential.client_id}`, { token: confidential.registration_access_token });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const { client_secret, registration_access_token, ...expected } = confidential;
    expect(response.json).toEqual(expected);
    expect(response.text).not.toContain(client_secret!);
    expect(response.text).not.toContain(registration_access_token);
    expect(response.text).not.toContain("hash");
  });

  test("a wrong, missing or other client's token, and an unknown client, are the same 401 invalid_token", async () => {
    const one = await register();
    const two = await register();
    const attempts = [
      await call("GET", `/register/${one.client_id}`, { token: one.registration_access_token + "x" }),
      await call("GET", `/register/${one.client_id}`),
      await call("GET", `/register/${one.client_id}`, { headers: { authorization: `Basic ${btoa(`${one.client_id}:${one.registration_access_token}`)}` } }),
      await call("GET", `/register/${one.client_id}`, { token: two.registration_access_token }),
      await call("GET", `/register/client_unknown`, { token: one.registration_access_token }),
    ];
    for (const response of attempts) {
      expect(response.status).toBe(401);
      expect(response.json).toEqual(attempts[0]!.json);
      expect(response.json.error).toBe("invalid_token");
      expect(response.headers.get("www-authenticate")).toStartWith("Bearer");
    }
  });

  test("PUT replaces the metadata, validated as on POST, and keeps id, secret and issue time", async () => {
    const client = await register({ ...publicClient, token_endpoint_auth_method: "client_secret_basic" });
    const replacement = { client_id: client.client_id, client_name: "Renamed", redirect_uris: ["https://client.example.com/v2"], token_endpoint_auth_method: "client_secret_post" };
    const response = await call("PUT", `/register/${client.client_id}`, { body: replacement, token: client.registration_access_token });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ ...replacement, grant_types: ["authorization_code"], client_id_issued_at: client.client_id_issued_at, client_secret_expires_at: client.client_secret_expires_at });
    expect(response.json).not.toHaveProperty("software_id");
    expect(response.json).not.toHaveProperty("client_secret");

    const stored = (await clients.get(client.client_id))!;
    expect(stored.client_name).toBe("Renamed");
    expect(stored.redirect_uris).toEqual(["https://client.example.com/v2"]);
    expect(clients.secretMatches(stored, client.client_secret!)).toBe(true);
    expect(clients.registrationTokenMatches(stored, client.registration_access_token)).toBe(true);
  });

  test("PUT refusals leave the client unchanged", async () => {
    const client = await register({ ...publicClient, token_endpoint_auth_method: "client_secret_basic" });
    const path = `/register/${client.client_id}`;
    const token = client.registration_access_token;
    const valid = { client_id: client.client_id, redirect_uris: ["https://client.example.com/v2"], token_endpoint_auth_method: "client_secret_basic" };
    const cases: Array<[string, CallOptions, number, string]> = [
      ["a wrong token", { body: valid, token: "reg_wrong" }, 401, "invalid_token"],
      ["no client_id", { body: { ...valid, client_id: undefined }, token }, 400, "invalid_client_metadata"],
      ["another client_id", { body: { ...valid, client_id: "client_other" }, token }, 400, "invalid_client_metadata"],
      ["a wrong client_secret", { body: { ...valid, client_secret: "guess" }, token }, 400, "invalid_client_metadata"],
      ["a bad redirect URI", { body: { ...valid, redirect_uris: ["http://evil.example/cb"] }, token }, 400, "invalid_redirect_uri"],
      ["becoming public", { body: { ...valid, token_endpoint_auth_method: "none" }, token }, 400, "invalid_client_metadata"],
      ["malformed JSON", { raw: "{", token }, 400, "invalid_client_metadata"],
    ];
    for (const [name, options, status, code] of cases) {
      const response = await call("PUT", path, options);
      expect({ name, status: response.status, error: response.json.error }).toEqual({ name, status, error: code });
    }
    const stored = (await clients.get(client.client_id))!;
    expect(stored.redirect_uris).toEqual(publicClient.redirect_uris);

    const withSecret = await call("PUT", path, { body: { ...valid, client_secret: client.client_secret }, token });
    expect(withSecret.status).toBe(200);
  });

  test("DELETE with a wrong token changes nothing; with the right one: 204 and the client is gone", async () => {
    const client = await register();
    const path = `/register/${client.client_id}`;
    expect((await call("DELETE", path, { token: "reg_wrong" })).status).toBe(401);
    expect(await clients.get(client.client_id)).not.toBeNull();

    const deleted = await call("DELETE", path, { token: client.registration_access_token });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe("");
    expect(await redis.client.exists(keys.oauthClient(client.client_id))).toBe(0);
    expect((await call("GET", path, { token: client.registration_access_token })).status).toBe(401);
    expect((await call("DELETE", path, { token: client.registration_access_token })).status).toBe(401);
  });
});
