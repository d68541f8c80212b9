/** Resource indicators and authorization server metadata: the pure rules. */
import { describe, expect, test } from "bun:test";
import { OAuthError } from "../../src/auth/oauth-error";
import { canonicalResource, checkRequestedResources, narrowResources, narrowScope, type ResourcePolicy } from "../../src/auth/resources";
import { MCP_SCOPES } from "../../src/core/oauth-config";
import { authorizationServerMetadata, effectiveIssuer, type OAuthServerOverrides } from "../../src/auth/server/metadata";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as OAuthError).code;
  }
  return "ok";
};

describe("canonicalResource", () => {
  test("lower-cases scheme and host, drops the default port and trailing slash", () => {
    expect(canonicalResource("HTTPS://MCP.Example.COM:443/")).toBe("https://mcp.example.com");
    expect(canonicalResource("https://mcp.example.com/mcp/")).toBe("https://mcp.example.com/mcp");
    expect(canonicalResource("https://mcp.example.com:8443/mcp")).toBe("https://mcp.example.com:8443/mcp");
    expect(canonicalResource("http://127.0.0.1:3000/mcp")).toBe("http://127.0.0.1:3000/mcp");
  });
  test("refuses what RFC 8707 forbids with invalid_target", () => {
    for (const bad of ["mcp.example.com", "https://a.example/#x", "https://a.example/?q=1", "http://a.example", "ftp://a.example", "https://u:p@a.example", ""]) {
      expect(code(() => canonicalResource(bad))).toBe("invalid_target");
    }
  });
});

describe("checkRequestedResources", () => {
  const policy = (strict: boolean, served: string[] = ["mcp.example.com"]): ResourcePolicy => ({
    maxResources: 2,
    strict,
    isServed: (_r, host) => served.includes(host),
  });
  test("strict mode admits only served hosts; lax mode any https URL", async () => {
    expect(await checkRequestedResources(["https://mcp.example.com/"], policy(true))).toEqual(["https://mcp.example.com"]);
    await expect(checkRequestedResources(["https://other.example.com"], policy(true))).rejects.toMatchObject({ code: "invalid_target" });
    expect(await checkRequestedResources(["https://other.example.com"], policy(false))).toEqual(["https://other.example.com"]);
  });
  test("MCP_MAX_RESOURCES_PER_TOKEN counts distinct resources", async () => {
    expect(await checkRequestedResources(["https://mcp.example.com", "https://mcp.example.com/"], policy(true))).toHaveLength(1);
    await expect(checkRequestedResources(["https://a.example", "https://b.example", "https://c.example"], policy(false))).rejects.toMatchObject({ code: "invalid_target" });
  });
});

describe("narrowing", () => {
  test("resources: none asked = all granted; a subset is fine; anything else is invalid_target", () => {
    const granted = ["https://a.example", "https://b.example"];
    expect(narrowResources([], granted)).toEqual(granted);
    expect(narrowResources(["https://b.example/"], granted)).toEqual(["https://b.example"]);
    expect(code(() => narrowResources(["https://c.example"], granted))).toBe("invalid_target");
  });
  test("scope: may narrow, never widen", () => {
    expect(narrowScope(null, "mcp:read mcp:write")).toBe("mcp:read mcp:write");
    expect(narrowScope("mcp:read", "mcp:read mcp:write")).toBe("mcp:read");
    expect(code(() => narrowScope("mcp:admin", "mcp:read"))).toBe("invalid_scope");
  });
});

describe("authorization server metadata", () => {
  const none: OAuthServerOverrides = {
    oauth_server_issuer: null,
    oauth_server_scopes: null,
    oauth_server_grant_types: null,
    oauth_server_response_types: null,
    oauth_server_token_auth_methods: null,
    oauth_server_claims: null,
    oauth_server_custom_metadata: null,
    oauth_server_override_defaults: false,
  };
  test("a proxy's settings apply only with override_defaults, and only within what the server supports", () => {
    const custom = { ...none, oauth_server_issuer: "https://login.tenant.example/", oauth_server_scopes: ["read"], oauth_server_token_auth_methods: ["none", "private_key_jwt"] };
    const ignored = authorizationServerMetadata("https://auth.example.com", custom, { clientIdMetadataDocuments: true, scopes: MCP_SCOPES });
    expect(ignored.issuer).toBe("https://auth.example.com");
    const applied = authorizationServerMetadata("https://auth.example.com", { ...custom, oauth_server_override_defaults: true }, { clientIdMetadataDocuments: true, scopes: MCP_SCOPES });
    expect(applied.issuer).toBe("https://login.tenant.example");
    expect(applied.token_endpoint).toBe("https://login.tenant.example/token");
    expect(applied.scopes_supported).toEqual(["read"]);
    expect(applied.token_endpoint_auth_methods_supported).toEqual(["none"]);
    expect(applied.code_challenge_methods_supported).toEqual(["S256"]);
    expect(effectiveIssuer("https://auth.example.com", null)).toBe("https://auth.example.com");
  });
  test("custom metadata adds fields but cannot replace the server's", () => {
    const doc = authorizationServerMetadata("https://auth.example.com", { ...none, oauth_server_custom_metadata: { service_documentation: "https://docs.example.com", issuer: "https://evil.example" } }, { clientIdMetadataDocuments: false, scopes: MCP_SCOPES });
    expect(doc.service_documentation).toBe("https://docs.example.com");
    expect(doc.issuer).toBe("https://auth.example.com");
    expect(doc.client_id_metadata_document_supported).toBe(false);
  });
});
