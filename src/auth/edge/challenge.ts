/**
 * The `WWW-Authenticate: Bearer ...` challenge of the edge's 401 and 403
 * answers. Pure.
 *
 * - RFC 6750 §3: no `error` when the request carried no credentials;
 *   `error="invalid_token"` when it carried bad ones; `insufficient_scope`
 *   with the `scope` the resource needs (the client's step-up request).
 * - RFC 9728 §5.1: `resource_metadata` names the protected resource metadata,
 *   which is how MCP clients discover the authorization server.
 * - The spec's `as_uri` and `resource_uri`, for older clients.
 */

export interface ChallengeParams {
  /** The protection space: the host the client asked for. */
  readonly realm: string;
  /** The protected resource metadata URL, or null when the proxy has no resource configured. */
  readonly metadataUrl: string | null;
  /** The authorization server's issuer. */
  readonly asIssuer: string;
  /** Space-separated scopes: the hint on a 401, the needed scopes on a 403; "" or null for none. */
  readonly scope?: string | null;
  /** Absent when no credentials were sent. */
  readonly error?: { readonly code: "invalid_token" | "insufficient_scope"; readonly description?: string };
}

export function bearerChallenge(params: ChallengeParams): string {
  const parts = [`Bearer realm=${quoted(params.realm)}`];
  if (params.error) {
    parts.push(`error="${params.error.code}"`);
    if (params.error.description) parts.push(`error_description="${descriptionText(params.error.description)}"`);
  }
  if (params.metadataUrl !== null) parts.push(`resource_metadata=${quoted(params.metadataUrl)}`);
  parts.push(`as_uri=${quoted(authorizationServerMetadataUrl(params.asIssuer))}`);
  if (params.metadataUrl !== null) parts.push(`resource_uri=${quoted(params.metadataUrl)}`);
  if (params.scope) parts.push(`scope=${quoted(params.scope)}`);
  return parts.join(", ");
}

/**
 * The issuer's RFC 8414 metadata URL: the well-known segment goes between the
 * origin and the issuer's path (§3.1), so an issuer with a path still resolves.
 */
export function authorizationServerMetadataUrl(issuer: string): string {
  const base = issuer.replace(/\/+$/, "");
  const scheme = base.indexOf("://");
  const slash = scheme < 0 ? -1 : base.indexOf("/", scheme + 3);
  if (slash < 0) return `${base}/.well-known/oauth-authorization-server`;
  return `${base.slice(0, slash)}/.well-known/oauth-authorization-server${base.slice(slash)}`;
}

/** An RFC 9110 quoted-string; control characters (never in a header) are dropped. */
function quoted(value: string): string {
  return `"${value.replace(/[\x00-\x1f\x7f]/g, "").replace(/["\\]/g, "\\$&")}"`;
}

/** RFC 6750 §3 allows neither '"' nor '\' in error_description, escaped or not; nor anything outside printable ASCII. */
function descriptionText(text: string): string {
  return text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, "?");
}
