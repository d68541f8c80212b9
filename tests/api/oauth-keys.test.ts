/**
 * Signing keys through the admin API: what is published, rotation with the
 * old key still verifying, and a configured key that only its variable rotates.
 */
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { createLocalJWKSet, jwtVerify } from "jose";
import { snapshot, useApiHarness } from "../helpers/api-app";

describe("a generated signing key", () => {
  const suite = useApiHarness();
  const call = (method: string, path: string) => suite.api.call(method, `/api/v1${path}`);

  test("GET /oauth/keys: the current kid first, public RS256 parameters only", async () => {
    const res = await call("GET", "/oauth/keys");
    expect(res.status).toBe(200);
    const kid = suite.api.authorizationServer.context.signingKeys.current().kid;
    expect(res.json.current_kid).toBe(kid);
    expect(res.json.source).toBe("generated");
    expect(res.json.jwks.keys.map((k: any) => k.kid)).toEqual([kid]);
    expect(Object.keys(res.json.jwks.keys[0]).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
  });

  test("rotate: a new current kid, the old key still published, tokens it signed still verify", async () => {
    const minted = await suite.api.call("POST", "/api/v1/oauth/test-tokens", { body: { resource: "https://mcp.example.com" } });
    const before = (await call("GET", "/oauth/keys")).json.current_kid;

    const rotated = await call("POST", "/oauth/keys/rotate");
    expect(rotated.status).toBe(200);
    expect(rotated.json.previous_kid).toBe(before);
    expect(rotated.json.kid).not.toBe(before);
    expect(rotated.json.retired).toEqual([before]);

    const after = await call("GET", "/oauth/keys");
    expect(after.json.current_kid).toBe(rotated.json.kid);
    expect(after.json.jwks.keys.map((k: any) => k.kid)).toEqual([rotated.json.kid, before]);
    const { signingKeys, settings } = suite.api.authorizationServer.context;
    expect(signingKeys.current().kid).toBe(rotated.json.kid);
    const verified = await jwtVerify(minted.json.access_token, createLocalJWKSet(after.json.jwks), { issuer: settings.issuer });
    expect(verified.protectedHeader.kid).toBe(before);

    // New tokens are signed with the new key.
    const fresh = await suite.api.call("POST", "/api/v1/oauth/test-tokens", { body: { resource: "https://mcp.example.com" } });
    expect((await jwtVerify(fresh.json.access_token, createLocalJWKSet(after.json.jwks))).protectedHeader.kid).toBe(rotated.json.kid);
  });
});

describe("a configured signing key (OAUTH_JWT_PRIVATE_KEY_B64)", () => {
  const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const suite = useApiHarness({ OAUTH_JWT_PRIVATE_KEY_B64: Buffer.from(pem).toString("base64") });

  test("cannot be rotated through the API: 409 saying how, and nothing changes", async () => {
    const before = await snapshot(suite.redis);
    const res = await suite.api.call("POST", "/api/v1/oauth/keys/rotate");
    expect(res.status).toBe(409);
    expect(res.json.error).toBe("conflict");
    expect(res.json.detail).toMatch(/OAUTH_JWT_PRIVATE_KEY_B64/);
    expect(await snapshot(suite.redis)).toEqual(before);
    const keys = await suite.api.call("GET", "/api/v1/oauth/keys");
    expect(keys.json.source).toBe("configured");
    expect(JSON.stringify(keys.json)).not.toContain(pem.split("\n")[1]!);
  });
});
