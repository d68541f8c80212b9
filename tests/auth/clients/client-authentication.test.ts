/**
 * Client authentication at a token endpoint served over real HTTP, against
 * clients registered in a real Redis: each method works only for the clients
 * registered with it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authenticateClient, clientAuthenticationChallenge } from "../../../src/auth/clients/client-authentication";
import type { ClientMetadata } from "../../../src/auth/clients/client-record";
import { ClientStore } from "../../../src/auth/clients/client-store";
import { OAuthError, oauthErrorResponse } from "../../../src/auth/oauth-error";
import { startTestRedis, type TestRedis } from "../../helpers/redis-server";

let redis: TestRedis;
let clients: ClientStore;
let server: ReturnType<typeof Bun.serve>;

const metadata = (method: ClientMetadata["token_endpoint_auth_method"]): ClientMetadata => ({
  client_name: method,
  redirect_uris: ["https://client.example.com/cb"],
  grant_types: ["authorization_code"],
  response_types: ["code"],
  token_endpoint_auth_method: method,
  scope: "mcp:read",
  client_uri: null,
  logo_uri: null,
  contacts: [],
  software_id: null,
  software_version: null,
});

let basicClient: { id: string; secret: string };
let postClient: { id: string; secret: string };
let publicClient: { id: string };

beforeAll(async () => {
  redis = await startTestRedis();
  clients = new ClientStore(redis.client, { clientLifetimeSeconds: 3600 });
  const basic = await clients.register(metadata("client_secret_basic"), { ip: null });
  const post = await clients.register(metadata("client_secret_post"), { ip: null });
  const none = await clients.register(metadata("none"), { ip: null });
  basicClient = { id: basic.record.client_id, secret: basic.clientSecret! };
  postClient = { id: post.record.client_id, secret: post.clientSecret! };
  publicClient = { id: none.record.client_id };

  // A token endpoint reduced to client authentication.
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const form = new URLSearchParams(await request.text());
      try {
        const client = await authenticateClient(request, form, clients);
        return Response.json({ client_id: client.client_id });
      } catch (error) {
        if (error instanceof OAuthError) return oauthErrorResponse(error, clientAuthenticationChallenge(error, "portcullis"));
        throw error;
      }
    },
  });
});
afterAll(async () => {
  server.stop(true);
  await redis.stop();
});

const basicHeader = (id: string, secret: string) => `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;

async function tokenRequest(form: Record<string, string | string[]>, authorization?: string) {
  const body = new URLSearchParams();
  body.set("grant_type", "authorization_code");
  for (const [name, value] of Object.entries(form)) for (const v of [value].flat()) body.append(name, v);
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(`http://127.0.0.1:${server.port}/token`, { method: "POST", headers, body });
  return { status: response.status, json: (await response.json()) as Record<string, string>, challenge: response.headers.get("www-authenticate") };
}

describe("each registered method works", () => {
  test("client_secret_basic", async () => {
    const response = await tokenRequest({}, basicHeader(basicClient.id, basicClient.secret));
    expect(response).toEqual({ status: 200, json: { client_id: basicClient.id }, challenge: null });
  });

  test("client_secret_basic with the client_id repeated in the body", async () => {
    const response = await tokenRequest({ client_id: basicClient.id }, basicHeader(basicClient.id, basicClient.secret));
    expect(response.status).toBe(200);
  });

  test("client_secret_post", async () => {
    const response = await tokenRequest({ client_id: postClient.id, client_secret: postClient.secret });
    expect(response).toEqual({ status: 200, json: { client_id: postClient.id }, challenge: null });
  });

  test("none: a public client named by client_id", async () => {
    const response = await tokenRequest({ client_id: publicClient.id });
    expect(response).toEqual({ status: 200, json: { client_id: publicClient.id }, challenge: null });
  });

  test("none: an empty client_secret counts as absent (RFC 6749 §3.1)", async () => {
    const response = await tokenRequest({ client_id: publicClient.id, client_secret: "" });
    expect(response.status).toBe(200);
  });
});

describe("refusals", () => {
  const invalidClient = (response: Awaited<ReturnType<typeof tokenRequest>>, basic: boolean) => {
    expect(response.status).toBe(401);
    expect(response.json.error).toBe("invalid_client");
    if (basic) expect(response.challenge).toBe('Basic realm="portcullis", charset="UTF-8"');
    else expect(response.challenge).toBeNull();
  };

  test("a wrong secret, Basic: 401 invalid_client with a Basic challenge", async () => {
    invalidClient(await tokenRequest({}, basicHeader(basicClient.id, basicClient.secret + "x")), true);
    invalidClient(await tokenRequest({}, basicHeader(basicClient.id, "")), true);
  });

  test("a wrong secret, post: 401 invalid_client without a challenge", async () => {
    invalidClient(await tokenRequest({ client_id: postClient.id, client_secret: "nope" }), false);
  });

  test("another client's secret does not authenticate", async () => {
    invalidClient(await tokenRequest({}, basicHeader(basicClient.id, postClient.secret)), true);
  });

  test("a method other than the registered one", async () => {
    invalidClient(await tokenRequest({ client_id: basicClient.id, client_secret: basicClient.secret }), false);
    invalidClient(await tokenRequest({}, basicHeader(postClient.id, postClient.secret)), true);
    const noSecret = await tokenRequest({ client_id: basicClient.id });
    invalidClient(noSecret, false);
    expect(noSecret.json.error_description).toContain("client_secret_basic");
    invalidClient(await tokenRequest({ client_id: publicClient.id, client_secret: "anything" }), false);
    invalidClient(await tokenRequest({}, basicHeader(publicClient.id, "anything")), true);
  });

  test("an unknown client", async () => {
    invalidClient(await tokenRequest({ client_id: "client_unknown" }), false);
    invalidClient(await tokenRequest({}, basicHeader("client_unknown", "secret")), true);
    invalidClient(await tokenRequest({ client_id: "client_unknown", client_secret: "secret" }), false);
  });

  test("no client identification at all", async () => {
    invalidClient(await tokenRequest({}), false);
    invalidClient(await tokenRequest({ client_secret: postClient.secret }), false);
  });

  test("two methods at once: 400 invalid_request", async () => {
    const both = await tokenRequest({ client_id: basicClient.id, client_secret: basicClient.secret }, basicHeader(basicClient.id, basicClient.secret));
    expect(both.status).toBe(400);
    expect(both.json.error).toBe("invalid_request");
  });

  test("Basic credentials for one client and a body client_id for another: 400 invalid_request", async () => {
    const mixed = await tokenRequest({ client_id: publicClient.id }, basicHeader(basicClient.id, basicClient.secret));
    expect(mixed.status).toBe(400);
    expect(mixed.json.error).toBe("invalid_request");
  });

  test("a repeated client_id: 400 invalid_request", async () => {
    const repeated = await tokenRequest({ client_id: [publicClient.id, publicClient.id] });
    expect(repeated.status).toBe(400);
    expect(repeated.json.error).toBe("invalid_request");
  });

  test("malformed or foreign Authorization headers: 401 with a Basic challenge", async () => {
    for (const header of ["Basic", "Basic !!!", `Basic ${btoa("no-colon")}`, `Basic ${btoa(":secret")}`, `Basic ${btoa(`${basicClient.id}:%zz`)}`, "Bearer abc"]) {
      invalidClient(await tokenRequest({}, header), true);
    }
  });

  test("Basic credentials are form-urlencoded inside (RFC 6749 §2.3.1)", async () => {
    // An encoded id must decode to the real one; a raw '+' would decode to a space and fail.
    const encodedId = basicClient.id.replace(/_/g, "%5F");
    expect((await tokenRequest({}, `Basic ${btoa(`${encodedId}:${basicClient.secret}`)}`)).status).toBe(200);
  });
});
