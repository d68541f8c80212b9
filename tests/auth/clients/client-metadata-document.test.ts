/**
 * Client ID Metadata Documents fetched from a real HTTPS server (a certificate
 * from a throwaway CA, trusted through fetch's `tls.ca`), with a real Redis
 * behind for registered clients.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setSystemTime, test } from "bun:test";
import { authenticateClient } from "../../../src/auth/clients/client-authentication";
import { ClientResolverWithDocuments, type ClientResolverOptions } from "../../../src/auth/clients/client-metadata-document";
import type { ClientMetadata } from "../../../src/auth/clients/client-record";
import { ClientStore } from "../../../src/auth/clients/client-store";
import type { DocumentFetch } from "../../../src/auth/clients/metadata-document-fetch";
import { cacheLifetimeSeconds, documentUrl } from "../../../src/auth/clients/metadata-document-parse";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";
import { createTestCa } from "../../helpers/test-ca";

let redis: TestRedis;
let clients: ClientStore;
let server: ReturnType<typeof Bun.serve>;
let trustingFetch: DocumentFetch;
const hits = new Map<string, number>();
const hostHeaders: string[] = [];
/** The URLs the resolver actually connected to. */
const fetchedUrls: string[] = [];

let origin: string;
const id = (path: string) => `${origin}${path}`;

const document = (path: string, overrides: Record<string, unknown> = {}) => ({
  client_id: id(path),
  client_name: "Document Client",
  redirect_uris: ["http://127.0.0.1/callback", "https://app.example.com/cb"],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  scope: "mcp:read profile mcp:write",
  ...overrides,
});

/** Each path a document (or a way of failing to be one). */
function answer(path: string): Response | Promise<Response> {
  const json = (body: unknown, headers: Record<string, string> = {}) => Response.json(body, { headers });
  switch (path) {
    case "/client.json":
      return json(document(path), { "cache-control": "public, max-age=600" });
    case "/no-cache.json":
      return json(document(path), { "cache-control": "no-store" });
    case "/mismatch.json":
      return json(document(path, { client_id: id("/other.json") }));
    case "/confidential.json":
      return json(document(path, { token_endpoint_auth_method: "client_secret_basic" }));
    case "/with-secret.json":
      return json(document(path, { client_secret: "s3cret" }));
    case "/bad-redirect.json":
      return json(document(path, { redirect_uris: ["http://evil.example/cb"] }));
    case "/big.json":
      // Valid metadata in every field: only its size is wrong.
      return json(document(path, { contacts: Array.from({ length: 10 }, () => "y".repeat(250)), redirect_uris: Array.from({ length: 15 }, (_, i) => `https://app.example.com/${i}/${"r".repeat(200)}`) }));
    case "/big-streamed.json": {
      const body = JSON.stringify(document(path, { padding: "z".repeat(8000) }));
      const stream = new ReadableStream({
        start(controller) {
          for (let i = 0; i < body.length; i += 1000) controller.enqueue(new TextEncoder().encode(body.slice(i, i + 1000)));
          controller.close();
        },
      });
      return new Response(stream, { headers: { "content-type": "application/json" } });
    }
    case "/redirect.json":
      return new Response(null, { status: 302, headers: { location: id("/client.json") } });
    case "/html.json":
      return new Response(JSON.stringify(document(path)), { headers: { "content-type": "text/html" } });
    case "/not-json.json":
      return new Response("{client_id:", { headers: { "content-type": "application/json" } });
    case "/slow.json":
      return Bun.sleep(2000).then(() => json(document(path)));
    default:
      return new Response("not found", { status: 404 });
  }
}

beforeAll(async () => {
  redis = await startTestRedis();
  clients = new ClientStore(redis.client, { clientLifetimeSeconds: 3600 });
  const ca = await createTestCa();
  const certificate = await ca.issue("localhost", ["localhost"]);
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: certificate.fullchain_pem, key: certificate.private_key_pem },
    fetch(request) {
      const path = new URL(request.url).pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      hostHeaders.push(request.headers.get("host") ?? "");
      return answer(path);
    },
  });
  origin = `https://localhost:${server.port}`;
  // Bun's fetch takes extra CAs per request; the resolver's own tls options (SNI) are kept.
  trustingFetch = (input, init) => {
    fetchedUrls.push(input);
    return fetch(input, { ...init, tls: { ...init.tls, ca: ca.pem } });
  };
});
afterAll(async () => {
  server.stop(true);
  await redis.stop();
});
beforeEach(() => {
  hits.clear();
  hostHeaders.length = 0;
  fetchedUrls.length = 0;
});
afterEach(() => setSystemTime());

const resolver = (options: Partial<ClientResolverOptions> = {}) =>
  new ClientResolverWithDocuments(clients, { enabled: true, allowPrivateAddresses: true, fetch: trustingFetch, supportedScopes: () => ["mcp:read", "mcp:write"], ...options });

const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => null,
    (e: unknown) => e as { code: string; status: number; description: string },
  );
  expect(error).not.toBeNull();
  expect(error!.code).toBe("invalid_client");
  expect(error!.status).toBe(401);
  return error!.description;
};

describe("fetching a document", () => {
  test("a valid document becomes a public client record", async () => {
    const before = Math.floor(Date.now() / 1000);
    const record = await resolver().get(id("/client.json"));
    expect(record).toEqual({
      client_id: id("/client.json"),
      client_secret_hash: null,
      registration_access_token_hash: "",
      client_name: "Document Client",
      redirect_uris: ["http://127.0.0.1/callback", "https://app.example.com/cb"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      // "profile" is not ours to grant: dropped, not refused.
      scope: "mcp:read mcp:write",
      client_uri: null,
      logo_uri: null,
      contacts: [],
      software_id: null,
      software_version: null,
      client_id_issued_at: expect.any(Number),
      client_secret_expires_at: 0,
      registered_from: null,
    });
    expect(record!.client_id_issued_at).toBeGreaterThanOrEqual(before);
    // Connected to the address that was checked (DNS cannot change its answer in between),
    // named by its host: the Host header and SNI (the certificate is only for localhost) say localhost.
    expect(fetchedUrls).toEqual([`https://127.0.0.1:${server.port}/client.json`]);
    expect(hostHeaders).toEqual([`localhost:${server.port}`]);
  });

  test("scopes an operator configured since start are kept: the offered scopes are read at fetch time", async () => {
    let offered = ["mcp:read", "mcp:write"];
    const documents = resolver({ supportedScopes: () => offered });
    offered = ["mcp:read", "mcp:write", "mcp:admin", "profile"];
    expect((await documents.get(id("/client.json")))!.scope).toBe("mcp:read profile mcp:write");
  });

  test("the document is cached for its max-age, then fetched again", async () => {
    const documents = resolver();
    await documents.get(id("/client.json"));
    await documents.get(id("/client.json"));
    await Promise.all(Array.from({ length: 5 }, () => documents.get(id("/client.json"))));
    expect(hits.get("/client.json")).toBe(1);

    setSystemTime(new Date(Date.now() + 590_000));
    await documents.get(id("/client.json"));
    expect(hits.get("/client.json")).toBe(1);
    setSystemTime(new Date(Date.now() + 20_000));
    await documents.get(id("/client.json"));
    expect(hits.get("/client.json")).toBe(2);
  });

  test("no-store still caches for the 5 minute floor; concurrent requests share one fetch", async () => {
    const documents = resolver();
    await Promise.all(Array.from({ length: 5 }, () => documents.get(id("/no-cache.json"))));
    expect(hits.get("/no-cache.json")).toBe(1);
    setSystemTime(new Date(Date.now() + 290_000));
    await documents.get(id("/no-cache.json"));
    expect(hits.get("/no-cache.json")).toBe(1);
    setSystemTime(new Date(Date.now() + 311_000));
    await documents.get(id("/no-cache.json"));
    expect(hits.get("/no-cache.json")).toBe(2);
  });

  test("a failed document is not cached", async () => {
    const documents = resolver();
    await refusal(documents.get(id("/mismatch.json")));
    await refusal(documents.get(id("/mismatch.json")));
    expect(hits.get("/mismatch.json")).toBe(2);
  });
});

describe("refused documents", () => {
  const cases: Array<[string, string]> = [
    ["/mismatch.json", "differs from its URL"],
    ["/confidential.json", 'token_endpoint_auth_method "none"'],
    ["/with-secret.json", "client_secret"],
    ["/bad-redirect.json", "redirect"],
    ["/big.json", "larger than 5120 bytes"],
    ["/big-streamed.json", "larger than 5120 bytes"],
    ["/redirect.json", "redirect"],
    ["/html.json", "application/json"],
    ["/not-json.json", "not valid JSON"],
    ["/missing.json", "HTTP 404"],
  ];
  for (const [path, why] of cases) {
    test(`${path}: invalid_client (${why})`, async () => {
      expect(await refusal(resolver().get(id(path)))).toContain(why);
    });
  }

  test("the redirect is not followed", async () => {
    await refusal(resolver().get(id("/redirect.json")));
    expect(hits.get("/client.json")).toBeUndefined();
  });

  test("a document slower than the deadline", async () => {
    const started = Date.now();
    expect(await refusal(resolver({ timeoutMs: 300 }).get(id("/slow.json")))).toContain("timed out");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  test("a server whose certificate is not trusted", async () => {
    expect(await refusal(resolver({ fetch: (input, init) => fetch(input, init) }).get(id("/client.json")))).toContain("could not be fetched");
  });
});

describe("SSRF: private addresses", () => {
  test("a host resolving to loopback is refused before any request is made", async () => {
    const documents = resolver({ allowPrivateAddresses: false });
    expect(await refusal(documents.get(id("/client.json")))).toContain("non-public address");
    expect(await refusal(documents.get(`https://127.0.0.1:${server.port}/client.json`))).toContain("non-public address");
    expect(await refusal(documents.get(`https://[::1]:${server.port}/client.json`))).toContain("non-public address");
    expect(await refusal(documents.get("https://169.254.169.254/latest/meta-data"))).toContain("non-public address");
    expect(await refusal(documents.get("https://10.0.0.1/client.json"))).toContain("non-public address");
    expect(hits.size).toBe(0);
  });

  test("a host that does not resolve", async () => {
    expect(await refusal(resolver({ allowPrivateAddresses: false }).get("https://no-such-host.invalid/client.json"))).toContain("does not resolve");
  });
});

describe("which client_ids are documents", () => {
  const bad: Array<[string, string]> = [
    ["https://app.example.com", "path"],
    ["https://app.example.com/", "path"],
    ["https://app.example.com/c.json#x", "fragment"],
    ["https://user:pw@app.example.com/c.json", "credentials"],
    ["https://app.example.com/a/../c.json", "normalized"],
    ["https://App.example.com/c.json", "normalized"],
    ["https://app.example.com:443/c.json", "normalized"],
    ["https://app example.com/c.json", "valid URL"],
  ];
  for (const [clientId, why] of bad) {
    test(`${clientId} is refused (${why})`, async () => {
      expect(() => documentUrl(clientId)).toThrow(why);
      expect(await refusal(resolver().get(clientId))).toContain(why);
    });
  }

  test("registered clients still come from the store; disabled documents are unknown clients", async () => {
    const metadata: ClientMetadata = {
      client_name: null,
      redirect_uris: ["https://c.example/cb"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: "mcp:read",
      client_uri: null,
      logo_uri: null,
      contacts: [],
      software_id: null,
      software_version: null,
    };
    const { record } = await clients.register(metadata, { ip: null });
    expect(await resolver().get(record.client_id)).toEqual(record);
    expect(await resolver().get("client_unknown")).toBeNull();
    expect(await resolver({ enabled: false }).get(record.client_id)).toEqual(record);
    expect(await resolver({ enabled: false }).get(id("/client.json"))).toBeNull();
    expect(hits.size).toBe(0);
  });
});

describe("at the token endpoint", () => {
  const request = (form: URLSearchParams) => new Request("https://auth.example.test/token", { method: "POST", body: form });

  test("a document client authenticates as a public client", async () => {
    const form = new URLSearchParams({ client_id: id("/client.json") });
    const client = await authenticateClient(request(form), form, resolver());
    expect(client.client_id).toBe(id("/client.json"));
  });

  test("a broken document is invalid_client with the reason", async () => {
    const form = new URLSearchParams({ client_id: id("/mismatch.json") });
    await expect(authenticateClient(request(form), form, resolver())).rejects.toMatchObject({ code: "invalid_client", status: 401 });
  });

  test("a document client cannot use a secret", async () => {
    const form = new URLSearchParams({ client_id: id("/client.json"), client_secret: "x" });
    await expect(authenticateClient(request(form), form, resolver())).rejects.toMatchObject({ code: "invalid_client" });
  });
});

describe("cacheLifetimeSeconds", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  const cases: Array<[Record<string, string>, number]> = [
    [{}, 300],
    [{ "cache-control": "max-age=600" }, 600],
    [{ "cache-control": "public, max-age=10" }, 300],
    [{ "cache-control": "max-age=9999999" }, 86_400],
    [{ "cache-control": "max-age=600, s-maxage=1200" }, 1200],
    [{ "cache-control": "no-cache, max-age=3600" }, 300],
    [{ "cache-control": "max-age=abc" }, 300],
    [{ expires: "Thu, 01 Jan 2026 02:00:00 GMT" }, 7200],
    [{ expires: "Thu, 01 Jan 2026 02:00:00 GMT", date: "Thu, 01 Jan 2026 01:00:00 GMT" }, 3600],
    [{ expires: "0" }, 300],
  ];
  for (const [headers, expected] of cases) {
    test(`${JSON.stringify(headers)} → ${expected} s`, () => {
      expect(cacheLifetimeSeconds(new Headers(headers), now)).toBe(expected);
    });
  }
});
