/**
 * OAUTH_JWT_ALGORITHM=ES256 through real gateways on one Redis: a node
 * started with ES256 next to an RS256 node switches the cluster's key, the
 * RS256 token issued before keeps working at /verify (the edge's verifier)
 * and /introspect, new tokens are ES256 and verify with node:crypto against
 * the published JWKS, and the other node follows within a second.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createPublicKey, verify as verifySignature, type JsonWebKeyInput } from "node:crypto";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { AUTH_HOST, authorizeThroughLogin, edgeRequest, formPost, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

const REDIRECT = "http://127.0.0.1:7777/callback";
const RESOURCE = "https://mcp.example.test";

let redis: TestRedis;
let github: GitHubTestServer;
let rsNode: TestGateway;
let esNode: TestGateway;

const env = (algorithm: string) => ({
  BASE_DOMAIN: "example.test",
  GITHUB_CLIENT_ID: "app",
  GITHUB_CLIENT_SECRET: "app-secret",
  GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
  GITHUB_API_BASE_URL: github.apiBaseUrl,
  OAUTH_ALLOWED_GITHUB_USERS: "*",
  MCP_RESOURCE_VALIDATION_STRICT: "false",
  OAUTH_JWT_ALGORITHM: algorithm,
});

beforeAll(async () => {
  redis = await startTestRedis();
  github = startGitHubServer();
  github.addApp("app", "app-secret");
  github.setUser({ id: 1, login: "alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
  rsNode = await startTestGateway(redis, env("RS256"));
});

afterAll(async () => {
  await rsNode?.stop();
  await esNode?.stop();
  await github?.stop();
  await redis?.stop();
});

interface Jwk {
  kid: string;
  kty: string;
  alg: string;
}
const jwksOf = async (node: TestGateway) => ((await (await edgeRequest(node, AUTH_HOST, "/jwks")).json()) as { keys: Jwk[] }).keys;
const verifyOn = async (node: TestGateway, token: string) =>
  (await edgeRequest(node, AUTH_HOST, "/verify", { headers: { authorization: `Bearer ${token}` } })).status;
const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[0]!, "base64url").toString());

/** A confidential client's login on `node`, returning the token response and the client. */
async function issue(node: TestGateway) {
  const client = await register(node, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_post" });
  const pkce = pkcePair();
  const query = await authorizeThroughLogin(node, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, code_challenge_method: "S256", resource: [RESOURCE] });
  const issued = await tokenRequest(node, {
    grant_type: "authorization_code",
    code: query.get("code")!,
    redirect_uri: REDIRECT,
    code_verifier: pkce.verifier,
    client_id: client.client_id,
    client_secret: client.client_secret,
  });
  expect(issued.status).toBe(200);
  return { token: issued.body.access_token as string, client };
}

/** ES256 verification with node:crypto against a node's JWKS (JWS signatures are r‖s, IEEE P1363). */
async function es256ValidAgainstJwks(node: TestGateway, jwt: string): Promise<boolean> {
  const [headerB64, payloadB64, signatureB64] = jwt.split(".");
  const jwk = (await jwksOf(node)).find((k) => k.kid === headerOf(jwt).kid);
  expect(jwk).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
  const key = createPublicKey({ key: jwk, format: "jwk" } as JsonWebKeyInput);
  return verifySignature("sha256", Buffer.from(`${headerB64}.${payloadB64}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(signatureB64!, "base64url"));
}

test("a node started with ES256 switches the cluster's key; RS256 tokens keep working, new ones are ES256 everywhere", async () => {
  const before = await issue(rsNode);
  expect(headerOf(before.token).alg).toBe("RS256");
  const [rsKey] = await jwksOf(rsNode);

  esNode = await startTestGateway(redis, env("ES256"));
  const published = await jwksOf(esNode);
  expect(published.map((k) => [k.kty, k.alg])).toEqual([
    ["EC", "ES256"],
    ["RSA", "RS256"],
  ]);
  expect(published[1]!.kid).toBe(rsKey!.kid);
  const discovery = (await (await edgeRequest(esNode, AUTH_HOST, "/.well-known/openid-configuration")).json()) as Record<string, unknown>;
  expect(discovery.id_token_signing_alg_values_supported).toEqual(["ES256"]);

  // The RS256 token from before the switch: still valid at the edge and at introspection, on both nodes.
  for (const node of [esNode, rsNode]) expect(await verifyOn(node, before.token)).toBe(200);
  const introspected = (await (await formPost(esNode, "/introspect", { token: before.token, client_id: before.client.client_id, client_secret: before.client.client_secret })).json()) as any;
  expect(introspected.active).toBe(true);

  const after = await issue(esNode);
  expect(headerOf(after.token)).toMatchObject({ alg: "ES256", typ: "at+jwt", kid: published[0]!.kid });
  expect(after.token.split(".")[2]).toHaveLength(86);
  expect(await es256ValidAgainstJwks(esNode, after.token)).toBe(true);
  expect(await verifyOn(rsNode, after.token)).toBe(200);

  // The RS256 node learns of the new current key from the event, and signs with it from then on.
  expect(await within(1000, async () => (await jwksOf(rsNode))[0]?.kty === "EC")).toBe(true);
  const fromRsNode = await issue(rsNode);
  expect(headerOf(fromRsNode.token).alg).toBe("ES256");
  expect(await es256ValidAgainstJwks(rsNode, fromRsNode.token)).toBe(true);
});
