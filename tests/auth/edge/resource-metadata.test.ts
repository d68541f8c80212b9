/** The resource URL as clients connect, RFC 9728 metadata documents and paths, and Bearer challenges. Pure. */
import { describe, expect, test } from "bun:test";
import { authorizationServerMetadataUrl, bearerChallenge } from "../../../src/auth/edge/challenge";
import { metadataPathFor, protectedResourceMetadata } from "../../../src/auth/edge/protected-resource";
import { metadataUrlFor, originFor, resourceUrlFor } from "../../../src/auth/edge/request-origin";
import { canonicalResource } from "../../../src/auth/resources";
import { proxyRecord } from "../../helpers/records";

describe("resourceUrlFor", () => {
  test("drops the scheme's default port and keeps any other", () => {
    expect(resourceUrlFor("https", "mcp.example.test", "/mcp")).toBe("https://mcp.example.test/mcp");
    expect(resourceUrlFor("https", "mcp.example.test:443", "/mcp")).toBe("https://mcp.example.test/mcp");
    expect(resourceUrlFor("https", "mcp.example.test:8443", "/mcp")).toBe("https://mcp.example.test:8443/mcp");
    expect(resourceUrlFor("http", "localhost:80", "")).toBe("http://localhost");
    expect(resourceUrlFor("http", "localhost:443", "")).toBe("http://localhost:443");
    expect(resourceUrlFor("https", "localhost:80", "")).toBe("https://localhost:80");
    expect(resourceUrlFor("http", "127.0.0.1:9000", "/x")).toBe("http://127.0.0.1:9000/x");
  });

  test("lower-case host, no trailing dot, no trailing slash, IPv6 literals kept", () => {
    expect(resourceUrlFor("https", "MCP.Example.TEST", "/Mcp/")).toBe("https://mcp.example.test/Mcp");
    expect(resourceUrlFor("https", "mcp.example.test.", "/")).toBe("https://mcp.example.test");
    expect(resourceUrlFor("https", "[::1]:8443", "")).toBe("https://[::1]:8443");
    expect(resourceUrlFor("https", "[::1]:443", "")).toBe("https://[::1]");
    expect(resourceUrlFor("https", "[::1]", "")).toBe("https://[::1]");
  });

  test("is already in the canonical form tokens carry", () => {
    for (const [proto, host, endpoint] of [
      ["https", "A.Example.test:443", "/mcp/"],
      ["https", "a.example.test:8443", ""],
      ["http", "127.0.0.1:80", "/v1"],
    ] as const) {
      const url = resourceUrlFor(proto, host, endpoint);
      expect(canonicalResource(url)).toBe(url);
    }
  });

  test("the same answer from the memo, for either scheme", () => {
    expect(originFor("https", "memo.example.test:443")).toBe("https://memo.example.test");
    expect(originFor("https", "memo.example.test:443")).toBe("https://memo.example.test");
    expect(originFor("http", "memo.example.test:443")).toBe("http://memo.example.test:443");
  });

  test("the metadata URL puts the well-known segment before the resource's path", () => {
    expect(metadataUrlFor("https", "mcp.example.test:443", "/mcp")).toBe("https://mcp.example.test/.well-known/oauth-protected-resource/mcp");
    expect(metadataUrlFor("https", "mcp.example.test", "")).toBe("https://mcp.example.test/.well-known/oauth-protected-resource");
  });
});

describe("protectedResourceMetadata", () => {
  const facts = {
    resource: "https://mcp.example.test/mcp",
    asIssuer: "https://auth.example.test",
    jwksUri: "https://auth.example.test/jwks",
  };

  test("a fully configured resource", () => {
    const proxy = proxyRecord("mcp.example.test", {
      resource_endpoint: "/mcp",
      resource_scopes: ["mcp:read", "mcp:write"],
      resource_stateful: true,
      resource_versions: ["2025-06-18", "2025-11-25"],
      resource_server_info: { name: "Example MCP", version: "1.2.0" },
      resource_bearer_methods: ["header"],
      resource_documentation_suffix: "/docs",
      resource_custom_metadata: { resource: "https://evil.example.test", authorization_servers: ["https://evil.example.test"], tos_uri: "https://example.test/tos" },
    });
    const document = protectedResourceMetadata(proxy, facts);
    expect(document).toEqual({
      resource: "https://mcp.example.test/mcp",
      authorization_servers: ["https://auth.example.test"],
      jwks_uri: "https://auth.example.test/jwks",
      scopes_supported: ["mcp:read", "mcp:write"],
      bearer_methods_supported: ["header"],
      resource_documentation: "https://mcp.example.test/mcp/docs",
      resource_name: "Example MCP",
      server_info: { name: "Example MCP", version: "1.2.0" },
      versions_supported: ["2025-06-18", "2025-11-25"],
      stateful: true,
      tos_uri: "https://example.test/tos",
    });
    expect(Object.keys(document).slice(0, 3)).toEqual(["resource", "authorization_servers", "jwks_uri"]);
  });

  test("a minimal one: bearer methods default to the header, nothing invented", () => {
    const document = protectedResourceMetadata(proxyRecord("mcp.example.test", { resource_endpoint: "/mcp" }), facts);
    expect(document).toEqual({
      resource: "https://mcp.example.test/mcp",
      authorization_servers: ["https://auth.example.test"],
      jwks_uri: "https://auth.example.test/jwks",
      bearer_methods_supported: ["header"],
      stateful: false,
    });
  });

  test("scopes fall back to the required ones; an absolute documentation suffix is used as it is", () => {
    const document = protectedResourceMetadata(
      proxyRecord("mcp.example.test", { auth_allowed_scopes: ["mcp:read"], resource_documentation_suffix: "https://docs.example.test/mcp" }),
      facts,
    );
    expect(document.scopes_supported).toEqual(["mcp:read"]);
    expect(document.resource_documentation).toBe("https://docs.example.test/mcp");
  });

  test("the metadata paths, root and path-aware (RFC 9728 §3.1)", () => {
    expect(metadataPathFor("/mcp")).toEqual({ root: "/.well-known/oauth-protected-resource", pathAware: "/.well-known/oauth-protected-resource/mcp" });
    expect(metadataPathFor("/v1/mcp/")).toEqual({ root: "/.well-known/oauth-protected-resource", pathAware: "/.well-known/oauth-protected-resource/v1/mcp" });
    expect(metadataPathFor("")).toEqual({ root: "/.well-known/oauth-protected-resource", pathAware: null });
    expect(metadataPathFor("/")).toEqual({ root: "/.well-known/oauth-protected-resource", pathAware: null });
  });
});

describe("bearerChallenge", () => {
  const base = { realm: "mcp.example.test", metadataUrl: "https://mcp.example.test/.well-known/oauth-protected-resource/mcp", asIssuer: "https://auth.example.test" };

  test("no credentials: no error parameter", () => {
    expect(bearerChallenge({ ...base, scope: "mcp:read mcp:write" })).toBe(
      'Bearer realm="mcp.example.test", resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp", ' +
        'as_uri="https://auth.example.test/.well-known/oauth-authorization-server", ' +
        'resource_uri="https://mcp.example.test/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:write"',
    );
  });

  test("bad credentials: invalid_token with a description that cannot break the quoting", () => {
    expect(bearerChallenge({ ...base, metadataUrl: null, error: { code: "invalid_token", description: 'bad "token" \\ here\r\nX: y' } })).toBe(
      `Bearer realm="mcp.example.test", error="invalid_token", error_description="bad 'token' ' here??X: y", as_uri="https://auth.example.test/.well-known/oauth-authorization-server"`,
    );
  });

  test("quoted values escape quotes and backslashes and drop control characters", () => {
    expect(bearerChallenge({ realm: 'a"b\\c\r\n', metadataUrl: null, asIssuer: "https://auth.example.test" })).toStartWith('Bearer realm="a\\"b\\\\c"');
  });

  test("the challenge is a valid header value", () => {
    const value = bearerChallenge({ ...base, scope: "a b", error: { code: "insufficient_scope", description: "needs\u00e9 a b" } });
    expect(new Headers({ "www-authenticate": value }).get("www-authenticate")).toBe(value);
  });

  test("an issuer with a path gets the path-aware authorization server metadata URL (RFC 8414 §3.1)", () => {
    expect(authorizationServerMetadataUrl("https://auth.example.test")).toBe("https://auth.example.test/.well-known/oauth-authorization-server");
    expect(authorizationServerMetadataUrl("https://auth.example.test/")).toBe("https://auth.example.test/.well-known/oauth-authorization-server");
    expect(authorizationServerMetadataUrl("https://example.test/tenant/a")).toBe("https://example.test/.well-known/oauth-authorization-server/tenant/a");
  });
});
