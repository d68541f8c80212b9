/** The pure metadata parser and redirect URI rules, as tables. */
import { describe, expect, test } from "bun:test";
import { parseClientMetadata, redirectUriMatches } from "../../../src/auth/clients/registration";

const SCOPES = ["mcp:read", "mcp:write", "mcp:admin"];
const parse = (body: unknown) => parseClientMetadata(body, { supportedScopes: SCOPES });
const base = { redirect_uris: ["https://client.example.com/cb"] };

describe("parseClientMetadata", () => {
  test("fills in the RFC 7591 defaults", () => {
    const result = parse(base);
    expect(result).toEqual({
      ok: true,
      metadata: {
        client_name: null,
        redirect_uris: ["https://client.example.com/cb"],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
        scope: "mcp:read mcp:write mcp:admin",
        client_uri: null,
        logo_uri: null,
        contacts: [],
        software_id: null,
        software_version: null,
      },
    });
  });

  test("keeps every field it knows and ignores the others", () => {
    const result = parse({
      ...base,
      client_name: "Example",
      grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "none",
      scope: "mcp:read  mcp:read mcp:write",
      client_uri: "https://client.example.com/",
      logo_uri: "https://client.example.com/logo.png",
      contacts: ["ops@example.com"],
      software_id: "example-client",
      software_version: "1.2.3",
      jwks_uri: "https://client.example.com/jwks",
      "client_name#de": "Beispiel",
    });
    if (!result.ok) throw result.error;
    expect(result.metadata.scope).toBe("mcp:read mcp:write");
    expect(result.metadata.grant_types).toEqual(["authorization_code", "refresh_token"]);
    expect(result.metadata.token_endpoint_auth_method).toBe("none");
    expect(result.metadata.contacts).toEqual(["ops@example.com"]);
    expect(Object.keys(result.metadata)).not.toContain("jwks_uri");
  });

  test("null and empty descriptive fields count as absent", () => {
    const result = parse({ ...base, client_name: null, software_id: "", scope: "" });
    if (!result.ok) throw result.error;
    expect(result.metadata.client_name).toBeNull();
    expect(result.metadata.software_id).toBeNull();
    expect(result.metadata.scope).toBe(SCOPES.join(" "));
  });

  const refusals: Array<[string, unknown, string, string]> = [
    ["not an object", ["https://a.example/cb"], "invalid_client_metadata", "body"],
    ["no redirect_uris", {}, "invalid_redirect_uri", "redirect_uris"],
    ["empty redirect_uris", { redirect_uris: [] }, "invalid_redirect_uri", "redirect_uris"],
    ["redirect_uris not an array", { redirect_uris: "https://a.example/cb" }, "invalid_client_metadata", "redirect_uris"],
    ["21 redirect URIs", { redirect_uris: Array.from({ length: 21 }, (_, i) => `https://a.example/${i}`) }, "invalid_client_metadata", "redirect_uris"],
    ["plain http elsewhere", { redirect_uris: ["http://client.example.com/cb"] }, "invalid_redirect_uri", "redirect_uris"],
    ["a fragment", { redirect_uris: ["https://client.example.com/cb#x"] }, "invalid_redirect_uri", "fragment"],
    ["javascript:", { redirect_uris: ["javascript:alert(1)"] }, "invalid_redirect_uri", "javascript:"],
    ["data:", { redirect_uris: ["data:text/html,hi"] }, "invalid_redirect_uri", "data:"],
    ["file:", { redirect_uris: ["file:///etc/passwd"] }, "invalid_redirect_uri", "file:"],
    ["a relative URI", { redirect_uris: ["/cb"] }, "invalid_redirect_uri", "absolute"],
    ["a scheme without a dot", { redirect_uris: ["myapp:/cb"] }, "invalid_redirect_uri", "myapp:"],
    ["credentials", { redirect_uris: ["https://user:pw@client.example.com/cb"] }, "invalid_redirect_uri", "credentials"],
    ["whitespace", { redirect_uris: ["https://client.example.com/c b"] }, "invalid_redirect_uri", "whitespace"],
    ["a 2001-character URI", { redirect_uris: ["https://a.example/" + "x".repeat(1990)] }, "invalid_redirect_uri", "longer"],
    ["an unsupported grant type", { ...base, grant_types: ["authorization_code", "client_credentials"] }, "invalid_client_metadata", "grant_types"],
    ["implicit grant", { ...base, grant_types: ["implicit"], response_types: ["token"] }, "invalid_client_metadata", "grant_types"],
    ["no grant types", { ...base, grant_types: [] }, "invalid_client_metadata", "grant_types"],
    ["a token response type", { ...base, response_types: ["code", "token"] }, "invalid_client_metadata", "response_types"],
    ["code without authorization_code", { ...base, grant_types: ["refresh_token"] }, "invalid_client_metadata", "response_types"],
    ["authorization_code without code", { ...base, response_types: [] }, "invalid_client_metadata", "response_types"],
    ["an unknown auth method", { ...base, token_endpoint_auth_method: "private_key_jwt" }, "invalid_client_metadata", "token_endpoint_auth_method"],
    ["an empty auth method", { ...base, token_endpoint_auth_method: "" }, "invalid_client_metadata", "token_endpoint_auth_method"],
    ["an unsupported scope", { ...base, scope: "mcp:read openid" }, "invalid_client_metadata", "openid"],
    ["scope as an array", { ...base, scope: ["mcp:read"] }, "invalid_client_metadata", "scope"],
    ["a numeric client_name", { ...base, client_name: 5 }, "invalid_client_metadata", "client_name"],
    ["a huge client_name", { ...base, client_name: "x".repeat(257) }, "invalid_client_metadata", "client_name"],
    ["a javascript: client_uri", { ...base, client_uri: "javascript:alert(1)" }, "invalid_client_metadata", "client_uri"],
    ["a data: logo_uri", { ...base, logo_uri: "data:image/png;base64,AAAA" }, "invalid_client_metadata", "logo_uri"],
    ["contacts of numbers", { ...base, contacts: [1] }, "invalid_client_metadata", "contacts"],
  ];
  for (const [name, body, code, mentions] of refusals) {
    test(`refuses ${name} with ${code}`, () => {
      const result = parse(body);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error.code).toBe(code as typeof result.error.code);
      expect(result.error.status).toBe(400);
      expect(result.error.description).toContain(mentions);
    });
  }

  const accepted = [
    "https://client.example.com/callback?x=1",
    "http://127.0.0.1/callback",
    "http://127.0.0.1:8123/callback",
    "http://[::1]:8123/callback",
    "http://localhost:3000/oauth/callback",
    "com.example.app:/oauth2redirect",
    "cursor.app://callback",
  ];
  for (const uri of accepted) {
    test(`accepts the redirect URI ${uri}`, () => {
      expect(parse({ redirect_uris: [uri] }).ok).toBe(true);
    });
  }

  test("refresh_token alone, with no response types, needs no redirect URI", () => {
    const result = parse({ grant_types: ["refresh_token"], response_types: [] });
    expect(result.ok).toBe(true);
  });
});

describe("redirectUriMatches", () => {
  const registered = ["https://client.example.com/cb", "http://127.0.0.1/callback", "http://[::1]:9000/cb?x=1", "com.example.app:/redirect"];
  const cases: Array<[string, boolean]> = [
    ["https://client.example.com/cb", true],
    ["https://client.example.com/cb/", false],
    ["https://client.example.com/cb?x=1", false],
    ["https://client.example.com:8443/cb", false],
    ["https://CLIENT.example.com/cb", false],
    ["https://client.example.com/CB", false],
    ["com.example.app:/redirect", true],
    ["com.example.app:/redirect2", false],
    // Loopback: any port, but the same host, path and query.
    ["http://127.0.0.1/callback", true],
    ["http://127.0.0.1:51004/callback", true],
    ["http://127.0.0.1:1/callback", true],
    ["http://127.0.0.1:70000/callback", false],
    ["http://127.0.0.1:51004/callback/", false],
    ["http://127.0.0.1:51004/callback?x=1", false],
    ["http://127.0.0.1:51004/other", false],
    ["http://localhost:51004/callback", false],
    ["https://127.0.0.1:51004/callback", false],
    ["http://127.0.0.1:51004@evil.example/callback", false],
    ["http://127.0.0.1:51004/callback#frag", false],
    ["http://[::1]:1234/cb?x=1", true],
    ["http://[::1]/cb?x=1", true],
    ["http://[::1]:1234/cb", false],
  ];
  for (const [requested, expected] of cases) {
    test(`${requested} ${expected ? "matches" : "does not match"}`, () => {
      expect(redirectUriMatches(registered, requested)).toBe(expected);
    });
  }

  test("a non-loopback https port is never wildcarded", () => {
    expect(redirectUriMatches(["https://client.example.com:8443/cb"], "https://client.example.com:9443/cb")).toBe(false);
  });
});
