/** OAuth settings from the environment: defaults, and a clear message for each bad value. */
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { parseConfig } from "../../src/core/config";
import { configProblems as problems } from "../helpers/config-problems";


describe("OAuth settings", () => {
  test("defaults: issuer on auth.{BASE_DOMAIN}, spec lifetimes, nobody allowed until configured", () => {
    const { oauth } = parseConfig({ BASE_DOMAIN: "example.com" });
    expect(oauth.issuer).toBe("https://auth.example.com");
    expect(oauth.authHostnames).toEqual(["auth.example.com"]);
    expect(oauth.accessTokenLifetimeSeconds).toBe(1800);
    expect(oauth.refreshTokenLifetimeSeconds).toBe(31_536_000);
    expect(oauth.sessionTimeoutSeconds).toBe(300);
    expect(oauth.clientLifetimeSeconds).toBe(7_776_000);
    expect(oauth.allowedUsers).toEqual([]);
    expect(oauth.maxResourcesPerToken).toBe(5);
    expect(oauth.resourceValidationStrict).toBe(true);
    expect(oauth.upstream).toBe("github");
    expect(oauth.github.oauthBaseUrl).toBe("https://github.com");
    expect(oauth.github.apiBaseUrl).toBe("https://api.github.com");
  });

  test("OAUTH_ISSUER moves the issuer and adds its host; user lists are lower-cased", () => {
    const { oauth } = parseConfig({ BASE_DOMAIN: "example.com", OAUTH_ISSUER: "https://login.example.net/", OAUTH_ALLOWED_GITHUB_USERS: "Alice, bob ,," });
    expect(oauth.issuer).toBe("https://login.example.net");
    expect(oauth.authHostnames).toEqual(["auth.example.com", "login.example.net"]);
    expect(oauth.allowedUsers).toEqual(["alice", "bob"]);
  });

  test("OAUTH_ADMIN_USERS is the default allowlist while OAUTH_ALLOWED_GITHUB_USERS is unset or empty, never beside it", () => {
    expect(parseConfig({ OAUTH_ADMIN_USERS: "Root, ops" }).oauth.allowedUsers).toEqual(["root", "ops"]);
    expect(parseConfig({ OAUTH_ADMIN_USERS: "root", OAUTH_ALLOWED_GITHUB_USERS: " " }).oauth.allowedUsers).toEqual(["root"]);
    expect(parseConfig({ OAUTH_ADMIN_USERS: "root", OAUTH_ALLOWED_GITHUB_USERS: "alice" }).oauth.allowedUsers).toEqual(["alice"]);
    expect(parseConfig({ OAUTH_ADMIN_USERS: "*" }).oauth.allowedUsers).toEqual(["*"]);
  });

  test("a PEM key in OAUTH_JWT_PRIVATE_KEY_B64 is decoded", () => {
    const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    expect(parseConfig({ OAUTH_JWT_PRIVATE_KEY_B64: Buffer.from(pem).toString("base64") }).oauth.jwtPrivateKeyPem).toBe(pem);
  });

  test("OAUTH_JWT_ALGORITHM: RS256 by default, ES256 when asked; anything else names the variable and the allowed values", () => {
    expect(parseConfig({}).oauth.jwtAlgorithm).toBe("RS256");
    expect(parseConfig({ OAUTH_JWT_ALGORITHM: "RS256" }).oauth.jwtAlgorithm).toBe("RS256");
    expect(parseConfig({ OAUTH_JWT_ALGORITHM: "ES256" }).oauth.jwtAlgorithm).toBe("ES256");
    for (const value of ["es256", "HS256", "none", "RS512", "ES384"]) {
      expect(problems({ OAUTH_JWT_ALGORITHM: value })).toEqual([`OAUTH_JWT_ALGORITHM=${JSON.stringify(value)}: expected RS256 or ES256`]);
    }
  });

  test("with ES256, OAUTH_JWT_PRIVATE_KEY_B64 takes an EC PEM (PKCS#8 or SEC1) and refuses an RSA one, saying what it needs", () => {
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    for (const pem of [key.export({ type: "pkcs8", format: "pem" }) as string, key.export({ type: "sec1", format: "pem" }) as string]) {
      const { oauth } = parseConfig({ OAUTH_JWT_ALGORITHM: "ES256", OAUTH_JWT_PRIVATE_KEY_B64: Buffer.from(pem).toString("base64") });
      expect(oauth.jwtPrivateKeyPem).toBe(pem);
    }
    const rsaPkcs1 = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }) as string;
    expect(problems({ OAUTH_JWT_ALGORITHM: "ES256", OAUTH_JWT_PRIVATE_KEY_B64: Buffer.from(rsaPkcs1).toString("base64") })).toEqual([
      expect.stringMatching(/^OAUTH_JWT_PRIVATE_KEY_B64: expected a base64-encoded PEM EC P-256 private key .* for OAUTH_JWT_ALGORITHM=ES256$/),
    ]);
    // And the other way round: a SEC1 EC key is no RSA key.
    expect(problems({ OAUTH_JWT_PRIVATE_KEY_B64: Buffer.from(key.export({ type: "sec1", format: "pem" }) as string).toString("base64") })).toEqual([
      expect.stringMatching(/^OAUTH_JWT_PRIVATE_KEY_B64: expected a base64-encoded PEM RSA private key .* for OAUTH_JWT_ALGORITHM=RS256$/),
    ]);
  });

  test("bad values name their variable", () => {
    const cases: [Record<string, string>, string][] = [
      [{ OAUTH_ISSUER: "http://auth.example.com" }, "OAUTH_ISSUER"],
      [{ OAUTH_ISSUER: "https://auth.example.com/?x=1" }, "OAUTH_ISSUER"],
      [{ OAUTH_JWT_ALGORITHM: "HS256" }, "OAUTH_JWT_ALGORITHM"],
      [{ OAUTH_JWT_PRIVATE_KEY_B64: "bm90IGEga2V5" }, "OAUTH_JWT_PRIVATE_KEY_B64"],
      [{ OAUTH_ACCESS_TOKEN_LIFETIME: "10" }, "OAUTH_ACCESS_TOKEN_LIFETIME"],
      [{ GITHUB_CLIENT_ID: "only-the-id" }, "GITHUB_CLIENT_ID"],
      [{ GITHUB_OAUTH_BASE_URL: "http://github.example.com" }, "GITHUB_OAUTH_BASE_URL"],
      [{ OAUTH_UPSTREAM: "oidc" }, "OAUTH_UPSTREAM"],
      [{ OIDC_ISSUER_URL: "https://idp.example.com" }, "OIDC_ISSUER_URL"],
      [{ OAUTH_SECRETS_KEY: "c2hvcnQ=" }, "OAUTH_SECRETS_KEY"],
      [{ MCP_MAX_RESOURCES_PER_TOKEN: "0" }, "MCP_MAX_RESOURCES_PER_TOKEN"],
    ];
    for (const [env, name] of cases) {
      const found = problems(env);
      expect(found.length).toBeGreaterThan(0);
      expect(found.some((p) => p.startsWith(name))).toBe(true);
    }
  });

  test("GitHub base URLs may be plain http only on loopback (tests, tunnels)", () => {
    const { oauth } = parseConfig({ GITHUB_OAUTH_BASE_URL: "http://127.0.0.1:8080/", GITHUB_API_BASE_URL: "https://ghe.example.com/api/v3" });
    expect(oauth.github.oauthBaseUrl).toBe("http://127.0.0.1:8080");
    expect(oauth.github.apiBaseUrl).toBe("https://ghe.example.com/api/v3");
  });
});
