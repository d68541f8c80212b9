/**
 * Protected resources (RFC 9728): a proxy's `resource_*` fields (002 "Proxy
 * Target Schema", served at /.well-known/oauth-protected-resource) and the
 * resource registry's bodies (001 "Protected Resource Configuration",
 * `resource:{uri}`), with the checks a schema cannot express.
 */
import { t, type Static } from "elysia";
import { protectedResourceMetadata } from "../../auth/edge/protected-resource";
import { OAuthError } from "../../auth/oauth-error";
import { canonicalResource } from "../../auth/resources";
import { invalid } from "../../core/errors";
import { isLoopback } from "../../core/oauth-config";
import { MAX_SCOPE_LENGTH, MAX_SCOPES_PER_LIST, SCOPE_TOKENS } from "../../auth/scopes/scope-syntax";
import type { ProxyRecord } from "../../storage/proxy-repository";
import { checkHostnamePattern } from "./hostname";
import { checkScopes } from "./proxy-auth";

const nullableList = (maxItems: number, maxLength: number, description?: string) =>
  t.Optional(t.Union([t.Array(t.String({ maxLength }), { maxItems }), t.Null()], description ? { description } : {}));
const nullableObject = (description: string) => t.Optional(t.Union([t.Record(t.String(), t.Unknown()), t.Null()], { description }));

// ---------------------------------------------------------------- per proxy

export const ProxyResourceBody = t.Object(
  {
    resource_endpoint: t.Optional(
      t.Union([t.String({ maxLength: 512 }), t.Null()], { description: "Path of the protected endpoint, e.g. /mcp; the resource is https://<hostname><endpoint>" }),
    ),
    resource_scopes: nullableList(MAX_SCOPES_PER_LIST, MAX_SCOPE_LENGTH, `scopes_supported of the metadata: ${SCOPE_TOKENS}`),
    resource_stateful: t.Optional(t.Boolean({ description: "The server keeps session state" })),
    resource_versions: nullableList(20, 32, "MCP protocol versions served, e.g. 2025-06-18"),
    resource_server_info: nullableObject("Free-form server description, e.g. {name, version}"),
    resource_override_backend: t.Optional(t.Boolean({ description: "The gateway's metadata document wins over the backend's own" })),
    resource_bearer_methods: nullableList(3, 16, 'bearer_methods_supported; only "header" is honoured here'),
    resource_documentation_suffix: t.Optional(
      t.Union([t.String({ maxLength: 512 }), t.Null()], { description: "resource_documentation: a path appended to the resource URL (e.g. /docs), or an absolute https URL" }),
    ),
    resource_custom_metadata: nullableObject("Extra metadata members; never one RFC 9728 defines or the gateway sets"),
  },
  { additionalProperties: false },
);
export type ProxyResourceSettings = Static<typeof ProxyResourceBody>;

export type ResourceFields = Pick<
  ProxyRecord,
  | "resource_endpoint"
  | "resource_scopes"
  | "resource_stateful"
  | "resource_versions"
  | "resource_server_info"
  | "resource_override_backend"
  | "resource_bearer_methods"
  | "resource_documentation_suffix"
  | "resource_custom_metadata"
>;

export const RESOURCE_DEFAULTS: ResourceFields = {
  resource_endpoint: null,
  resource_scopes: null,
  resource_stateful: false,
  resource_versions: null,
  resource_server_info: null,
  resource_override_backend: false,
  resource_bearer_methods: null,
  resource_documentation_suffix: null,
  resource_custom_metadata: null,
};

export const RESOURCE_FIELDS = Object.keys(RESOURCE_DEFAULTS) as (keyof ResourceFields)[];

/** What resource_bearer_methods null means: the Authorization header only. */
export const DEFAULT_BEARER_METHODS = ["header"];

/** RFC 9728 §2 metadata parameters: the gateway sets them, or offers no such capability, so custom metadata may not. */
export const RFC9728_FIELDS = [
  "resource",
  "authorization_servers",
  "jwks_uri",
  "scopes_supported",
  "bearer_methods_supported",
  "resource_signing_alg_values_supported",
  "resource_name",
  "resource_documentation",
  "resource_policy_uri",
  "resource_tos_uri",
  "tls_client_certificate_bound_access_tokens",
  "authorization_details_types_supported",
  "dpop_signing_alg_values_supported",
  "dpop_bound_access_tokens_required",
  "signed_metadata",
];

/**
 * Members the gateway's metadata document sets (protected-resource.ts, its
 * non-standard ones included): a custom member of that name would silently
 * lose, so it is refused instead.
 */
const GATEWAY_METADATA_FIELDS = new Set([
  ...RFC9728_FIELDS,
  ...Object.keys(
    protectedResourceMetadata(
      {
        resource_scopes: ["mcp:read"],
        resource_stateful: true,
        resource_versions: ["2025-06-18"],
        resource_server_info: { name: "x" },
        resource_bearer_methods: ["header"],
        resource_documentation_suffix: "/docs",
        resource_custom_metadata: null,
        auth_allowed_scopes: null,
      },
      { resource: "https://example.invalid", asIssuer: "https://example.invalid", jwksUri: "https://example.invalid/jwks" },
    ),
  ),
]);

const MAX_OBJECT_BYTES = 16_384;
const VERSION = /^[A-Za-z0-9._-]{1,32}$/;
/** RFC 3986 path characters (pchar and "/"), percent-encoding included. */
const PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

const quoted = (value: string) => JSON.stringify(value.slice(0, 128));

export function checkResourceSettings(body: ProxyResourceSettings): Partial<ResourceFields> {
  const checked: Partial<ResourceFields> = {};
  for (const name of ["resource_stateful", "resource_override_backend"] as const) if (body[name] !== undefined) checked[name] = body[name];
  if (body.resource_endpoint !== undefined) checked.resource_endpoint = body.resource_endpoint === null ? null : checkEndpoint("resource_endpoint", body.resource_endpoint);
  if (body.resource_scopes !== undefined) checked.resource_scopes = checkScopes("resource_scopes", body.resource_scopes);
  if (body.resource_versions !== undefined) checked.resource_versions = checkVersions(body.resource_versions);
  if (body.resource_server_info !== undefined) checked.resource_server_info = checkObject("resource_server_info", body.resource_server_info);
  if (body.resource_bearer_methods !== undefined) checked.resource_bearer_methods = checkBearerMethods(body.resource_bearer_methods);
  if (body.resource_documentation_suffix !== undefined) {
    const suffix = body.resource_documentation_suffix;
    checked.resource_documentation_suffix = suffix === null || suffix === "" ? null : checkDocumentation(suffix);
  }
  if (body.resource_custom_metadata !== undefined) checked.resource_custom_metadata = checkCustomMetadata(body.resource_custom_metadata);
  return checked;
}

/** A path that URL parsing leaves as it is: no dot segments, no query, no fragment, nothing to escape. */
function checkPath(field: string, value: string, allowQuery = false): string {
  const [path, query] = allowQuery ? splitQuery(value) : [value, ""];
  if (!allowQuery && (value.includes("?") || value.includes("#"))) throw invalid(`${field}: ${quoted(value)} must be a path without query or fragment`);
  if (value.includes("#")) throw invalid(`${field}: ${quoted(value)} must not contain a fragment`);
  if (!PATH.test(path)) throw invalid(`${field}: ${quoted(value)} must be a path starting with / (letters, digits and URL path characters)`);
  if (new URL(path, "https://host.invalid").pathname !== path || path.includes("//") || /%(?![0-9A-Fa-f]{2})/.test(path)) {
    throw invalid(`${field}: ${quoted(value)} must not contain empty, "." or ".." segments or malformed escapes`);
  }
  if (query && !/^[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/.test(query)) throw invalid(`${field}: ${quoted(value)} has characters a query cannot`);
  return value;
}

/** A path appended to the resource URL (/docs → https://host/mcp/docs), or an absolute https URL used as it is. */
function checkDocumentation(value: string): string {
  const field = "resource_documentation_suffix";
  if (!/^[a-z][a-z0-9+.-]*:/i.test(value)) return checkPath(field, value, true);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${field}: ${quoted(value)} is not a URL`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) throw invalid(`${field}: an absolute documentation URL must be https`);
  if (url.username || url.password) throw invalid(`${field}: the URL must not carry credentials`);
  if (/[\s"'<>\\]/.test(value)) throw invalid(`${field}: ${quoted(value)} contains characters a URL cannot`);
  return value;
}

function splitQuery(value: string): [string, string] {
  const at = value.indexOf("?");
  return at < 0 ? [value, ""] : [value.slice(0, at), value.slice(at + 1)];
}

/** The endpoint without trailing slashes (the resource URI has none), "/" for the root. */
function checkEndpoint(field: string, value: string): string {
  checkPath(field, value);
  return value.replace(/\/+$/, "") || "/";
}

function checkVersions(values: string[] | null): string[] | null {
  if (values === null) return null;
  const unique = [...new Set(values)];
  const bad = unique.find((v) => !VERSION.test(v));
  if (bad !== undefined) throw invalid(`resource_versions: ${quoted(bad)} is not a version (letters, digits, . _ -), e.g. "2025-06-18"`);
  return unique.length > 0 ? unique : null;
}

function checkBearerMethods(values: string[] | null): string[] | null {
  if (values === null) return null;
  const unique = [...new Set(values)];
  for (const method of unique) {
    if (method === "query") throw invalid('resource_bearer_methods: "query" is refused: tokens in the query string are not honoured (they leak into logs and Referer headers); use "header"');
    if (method === "body") throw invalid('resource_bearer_methods: "body" is refused: the gateway streams request bodies and reads tokens only from the Authorization header; use "header"');
    if (method !== "header") throw invalid(`resource_bearer_methods: ${quoted(method)} is not an RFC 6750 method; the gateway honours "header"`);
  }
  return unique.length > 0 ? unique : null;
}

function checkObject(field: string, value: Record<string, unknown> | null): Record<string, unknown> | null {
  if (value === null) return null;
  if (Object.keys(value).some((name) => name.length === 0 || name.length > 128)) throw invalid(`${field}: field names must be 1-128 characters`);
  if (new TextEncoder().encode(JSON.stringify(value)).length > MAX_OBJECT_BYTES) throw invalid(`${field}: at most ${MAX_OBJECT_BYTES} bytes of JSON`);
  return Object.keys(value).length > 0 ? value : null;
}

function checkCustomMetadata(value: Record<string, unknown> | null): Record<string, unknown> | null {
  const field = "resource_custom_metadata";
  for (const name of Object.keys(value ?? {})) {
    if (GATEWAY_METADATA_FIELDS.has(name)) throw invalid(`${field}: ${JSON.stringify(name)} is an RFC 9728 field or one the gateway sets (use the resource_* fields)`);
  }
  return checkObject(field, value);
}

/** The resource URI clients connect to: https://<hostname><endpoint>, no trailing slash. */
export function resourceUri(hostname: string, endpoint: string | null): string {
  return `https://${hostname}${endpoint === null || endpoint === "/" ? "" : endpoint}`;
}

/** RFC 9728 §3.1: the well-known path goes between the host and the resource's path. */
export function metadataUrl(hostname: string, endpoint: string | null): string {
  return `https://${hostname}/.well-known/oauth-protected-resource${endpoint === null || endpoint === "/" ? "" : endpoint}`;
}

// ---------------------------------------------------------------- the registry

const registryFields = {
  name: t.String({ minLength: 1, maxLength: 256 }),
  proxy_target: t.Union([t.String({ maxLength: 253 }), t.Null()], { description: "Hostname of the proxy that serves the resource" }),
  scopes: t.Array(t.String({ maxLength: MAX_SCOPE_LENGTH }), { maxItems: MAX_SCOPES_PER_LIST, description: SCOPE_TOKENS }),
  metadata_url: t.String({ maxLength: 2000, description: "Default: the RFC 9728 well-known URL of uri" }),
  description: t.String({ maxLength: 1024 }),
};

export const ResourceCreateBody = t.Composite(
  [t.Object({ uri: t.String({ maxLength: 2000, description: "Resource URI (RFC 8707): https, no query or fragment" }) }), t.Partial(t.Object(registryFields))],
  { additionalProperties: false },
);
export const ResourceUpdateBody = t.Composite([t.Partial(t.Object({ uri: t.String({ maxLength: 2000, description: "Must equal the path's uri if given" }) })), t.Partial(t.Object(registryFields))], {
  additionalProperties: false,
});
export type ResourceCreate = Static<typeof ResourceCreateBody>;
export type ResourceUpdate = Static<typeof ResourceUpdateBody>;

export const ValidateTokenBody = t.Object({ token: t.String({ minLength: 1, maxLength: 16_384 }) }, { additionalProperties: false });

/** A resource URI in canonical form, or a 422 naming the field. */
export function checkResourceUri(field: string, raw: string): string {
  try {
    return canonicalResource(raw);
  } catch (err) {
    if (err instanceof OAuthError) throw invalid(`${field}: ${err.description}`);
    throw err;
  }
}

/** The RFC 9728 well-known URL of a canonical resource URI. */
export function metadataUrlOf(uri: string): string {
  const url = new URL(uri);
  return `${url.protocol}//${url.host}/.well-known/oauth-protected-resource${url.pathname === "/" ? "" : url.pathname}`;
}

export type RegistryFields = { name?: string; proxy_target?: string | null; scopes?: string[]; metadata_url?: string; description?: string };

export function checkRegistryFields(body: RegistryFields): RegistryFields {
  const checked: RegistryFields = {};
  if (body.name !== undefined) {
    if (/[\u0000-\u001f\u007f]/.test(body.name) || body.name.trim() === "") throw invalid("name: 1-256 characters, no control characters");
    checked.name = body.name.trim();
  }
  if (body.description !== undefined) {
    if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(body.description)) throw invalid("description: no control characters");
    checked.description = body.description;
  }
  if (body.proxy_target !== undefined) {
    checked.proxy_target = body.proxy_target === null ? null : checkHostnamePattern("proxy_target", body.proxy_target);
  }
  if (body.scopes !== undefined) checked.scopes = checkScopes("scopes", body.scopes) ?? [];
  if (body.metadata_url !== undefined) checked.metadata_url = checkMetadataUrl(body.metadata_url);
  return checked;
}

function checkMetadataUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`metadata_url: ${quoted(raw)} is not a URL`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) throw invalid("metadata_url: must be an https URL");
  if (url.username || url.password) throw invalid("metadata_url: must not carry credentials");
  if (raw.includes("#")) throw invalid("metadata_url: must not contain a fragment");
  return url.href;
}
