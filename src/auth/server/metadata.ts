/**
 * Authorization server metadata (RFC 8414), pure: the gateway's defaults, and
 * a proxy's `oauth_server_*` settings on top when that proxy asks for them
 * (`oauth_server_override_defaults`). What this server can actually do —
 * S256 PKCE, the code flow, its endpoints — is never overridden.
 */
import type { ProxyRecord } from "../../storage/proxy-repository";

export type OAuthServerOverrides = Pick<
  ProxyRecord,
  | "oauth_server_issuer"
  | "oauth_server_scopes"
  | "oauth_server_grant_types"
  | "oauth_server_response_types"
  | "oauth_server_token_auth_methods"
  | "oauth_server_claims"
  | "oauth_server_custom_metadata"
  | "oauth_server_override_defaults"
>;

export const GRANT_TYPES = ["authorization_code", "refresh_token"];
export const TOKEN_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"];

/** The issuer for requests arriving on a proxy host: the proxy's own when it overrides the defaults. */
export function effectiveIssuer(defaultIssuer: string, proxy: OAuthServerOverrides | null): string {
  return proxy?.oauth_server_override_defaults && proxy.oauth_server_issuer ? proxy.oauth_server_issuer.replace(/\/+$/, "") : defaultIssuer;
}

/** The scopes clients may ask for on this host: the proxy's own list when it overrides the defaults, else all the server offers. */
export function supportedScopes(proxy: OAuthServerOverrides | null, offered: readonly string[]): readonly string[] {
  return proxy?.oauth_server_override_defaults && proxy.oauth_server_scopes?.length ? proxy.oauth_server_scopes : offered;
}

export function authorizationServerMetadata(
  defaultIssuer: string,
  proxy: OAuthServerOverrides | null,
  options: { clientIdMetadataDocuments: boolean; /** Every scope the server offers (scope-catalog.ts). */ scopes: readonly string[] },
): Record<string, unknown> {
  const issuer = effectiveIssuer(defaultIssuer, proxy);
  const override = proxy?.oauth_server_override_defaults === true;
  const pick = (value: string[] | null | undefined, fallback: readonly string[], supported: readonly string[]) => {
    // A proxy may advertise less than the server supports, never more.
    const chosen = override && value?.length ? value.filter((v) => supported.includes(v)) : [...fallback];
    return chosen.length > 0 ? chosen : [...fallback];
  };
  const metadata: Record<string, unknown> = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    revocation_endpoint: `${issuer}/revoke`,
    introspection_endpoint: `${issuer}/introspect`,
    jwks_uri: `${issuer}/jwks`,
    scopes_supported: [...supportedScopes(proxy, options.scopes)],
    response_types_supported: pick(proxy?.oauth_server_response_types, ["code"], ["code"]),
    response_modes_supported: ["query"],
    grant_types_supported: pick(proxy?.oauth_server_grant_types, GRANT_TYPES, GRANT_TYPES),
    token_endpoint_auth_methods_supported: pick(proxy?.oauth_server_token_auth_methods, TOKEN_AUTH_METHODS, TOKEN_AUTH_METHODS),
    revocation_endpoint_auth_methods_supported: TOKEN_AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    code_challenge_methods_supported: ["S256"],
    resource_indicators_supported: true,
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: options.clientIdMetadataDocuments,
  };
  if (override && proxy?.oauth_server_claims?.length) metadata.claims_supported = proxy.oauth_server_claims;
  // Custom fields add to the document; they cannot replace what the server does.
  for (const [name, value] of Object.entries(proxy?.oauth_server_custom_metadata ?? {})) {
    if (!(name in metadata)) metadata[name] = value;
  }
  return metadata;
}
