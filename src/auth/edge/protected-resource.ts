/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for a proxy with
 * `resource_*` settings. Pure: the caller supplies the resource URL as clients
 * connect to it (request-origin.ts) and the authorization server's issuer.
 *
 * Non-standard members, named here: `stateful` (resource_stateful),
 * `versions_supported` (resource_versions) and `server_info`
 * (resource_server_info, whose `name` also becomes the standard
 * `resource_name`). resource_custom_metadata adds members but never replaces
 * one set here.
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-2
 */
import type { ProxyRecord } from "../../storage/proxy-repository";

export type ProtectedResourceSettings = Pick<
  ProxyRecord,
  | "resource_scopes"
  | "resource_stateful"
  | "resource_versions"
  | "resource_server_info"
  | "resource_bearer_methods"
  | "resource_documentation_suffix"
  | "resource_custom_metadata"
  | "auth_allowed_scopes"
>;

export interface ProtectedResourceFacts {
  /** The resource URL exactly as clients connect to it (resourceUrlFor). */
  readonly resource: string;
  /** The authorization server's issuer, byte for byte as its own metadata states it. */
  readonly asIssuer: string;
  readonly jwksUri: string;
}

export const PROTECTED_RESOURCE_WELL_KNOWN = "/.well-known/oauth-protected-resource";

export function protectedResourceMetadata(proxy: ProtectedResourceSettings, facts: ProtectedResourceFacts): Record<string, unknown> {
  const scopes = nonEmpty(proxy.resource_scopes) ?? nonEmpty(proxy.auth_allowed_scopes);
  const metadata: Record<string, unknown> = {
    resource: facts.resource,
    authorization_servers: [facts.asIssuer],
    jwks_uri: facts.jwksUri,
  };
  if (scopes) metadata.scopes_supported = scopes;
  metadata.bearer_methods_supported = nonEmpty(proxy.resource_bearer_methods) ?? ["header"];
  if (proxy.resource_documentation_suffix) metadata.resource_documentation = documentationUrl(facts.resource, proxy.resource_documentation_suffix);

  const info = proxy.resource_server_info;
  if (info && typeof info === "object") {
    const name = typeof info.resource_name === "string" ? info.resource_name : typeof info.name === "string" ? info.name : null;
    if (name) metadata.resource_name = name;
    metadata.server_info = info;
  }
  const versions = nonEmpty(proxy.resource_versions);
  if (versions) metadata.versions_supported = versions;
  metadata.stateful = proxy.resource_stateful === true;

  for (const [name, value] of Object.entries(proxy.resource_custom_metadata ?? {})) {
    if (!(name in metadata)) metadata[name] = value;
  }
  return metadata;
}

/**
 * Where the metadata is served (RFC 9728 §3.1): the root form always, and for
 * a resource with a path, the path-aware form that inserts the well-known
 * segment before it (`/mcp` → `/.well-known/oauth-protected-resource/mcp`).
 */
export function metadataPathFor(endpoint: string): { root: string; pathAware: string | null } {
  const path = endpoint.replace(/\/+$/, "");
  if (path === "") return { root: PROTECTED_RESOURCE_WELL_KNOWN, pathAware: null };
  return { root: PROTECTED_RESOURCE_WELL_KNOWN, pathAware: PROTECTED_RESOURCE_WELL_KNOWN + (path.startsWith("/") ? path : "/" + path) };
}

/** An absolute suffix is used as it is; a relative one is appended to the resource URL. */
function documentationUrl(resource: string, suffix: string): string {
  if (/^https?:\/\//i.test(suffix)) return suffix;
  return resource + (suffix.startsWith("/") ? suffix : "/" + suffix);
}

function nonEmpty(list: readonly string[] | null | undefined): string[] | null {
  const kept = (list ?? []).filter((s) => typeof s === "string" && s !== "");
  return kept.length > 0 ? kept : null;
}
