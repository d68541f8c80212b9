/**
 * The proxy target schema of the API (002 "Proxy Target Schema"): the shape of
 * request bodies, the defaults a new proxy gets, and the checks a shape cannot
 * express. Server-managed fields (owner, timestamps) and secrets are not
 * accepted here.
 */
import { t, type Static } from "elysia";
import { invalid } from "../../core/errors";
import { isLoopback } from "../../core/oauth-config";
import type { ProxyRecord } from "../../storage/proxy-repository";
import { isServiceName, serviceTargetName } from "../../storage/service-repository";
import { checkHeaderMap } from "./headers";
import { checkHostnamePattern } from "./hostname";
import { checkOAuthServerSettings, OAUTH_SERVER_DEFAULTS } from "./oauth";
import { AUTH_DEFAULTS, checkAuthSettings } from "./proxy-auth";
import { checkMcpPolicySettings, MCP_POLICY_DEFAULTS, ProxyMcpPolicyBody } from "./mcp-policy";
import { checkResourceSettings, RESOURCE_DEFAULTS } from "./resource";

/** Ten years: far beyond the two years browsers' preload lists ask for. */
const HSTS_MAX_AGE_LIMIT = 315_360_000;

const strings = t.Union([t.Array(t.String({ maxLength: 512 }), { maxItems: 1000 }), t.Null()]);
const object = t.Union([t.Record(t.String(), t.Unknown()), t.Null()]);
const headers = t.Union([t.Record(t.String(), t.String()), t.Null()]);

/** Every field an operator may set; all optional so PUT can change any subset. */
export const proxySettingsFields = {
  target_url: t.String({ description: "Backend URL: http or https, no credentials; or service:{name}, the URL a registered service resolves to, followed live" }),
  cert_name: t.Union([t.String(), t.Null()]),
  enabled: t.Boolean(),
  enable_http: t.Boolean(),
  enable_https: t.Boolean(),
  preserve_host_header: t.Boolean({
    description: "Send the client's Host header to the backend (false: the backend's own host). Default for a new proxy: true, but false when target_url is on a loopback address",
  }),
  custom_headers: headers,
  custom_response_headers: headers,
  hsts_max_age: t.Union([t.Integer({ minimum: 0, maximum: HSTS_MAX_AGE_LIMIT }), t.Null()], {
    description: "Seconds; HTTPS responses carry Strict-Transport-Security: max-age=N. null (the default) sends none",
  }),
  https_redirect: t.Boolean({
    description:
      "With enable_https: plain-HTTP requests are redirected (308) to https once a publicly trusted certificate (ACME, not staging) serves the host; until then, and for the self-signed or local certificates, HTTP is served as is. Default true; false keeps serving HTTP",
  }),
  log_query: t.Boolean({
    description: "Keep the query string in request records (secret parameters such as code, access_token and client_secret are always redacted). Default false: records keep the path only",
  }),
  auth_enabled: t.Boolean(),
  auth_proxy: t.Union([t.String(), t.Null()]),
  auth_mode: t.Union([t.Literal("forward"), t.Literal("redirect"), t.Literal("passthrough")]),
  auth_required_users: strings,
  auth_required_emails: strings,
  auth_required_groups: strings,
  auth_allowed_scopes: strings,
  auth_allowed_audiences: strings,
  auth_pass_headers: t.Boolean(),
  auth_cookie_name: t.String({ pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]{1,128}$" }),
  auth_header_prefix: t.String({ pattern: "^[A-Za-z0-9-]{1,64}$" }),
  auth_excluded_paths: strings,
  auth_forward_bearer: t.Boolean({ description: "Forward the client's bearer token to the backend; false (the default) strips it" }),
  route_mode: t.Union([t.Literal("all"), t.Literal("selective"), t.Literal("none")]),
  enabled_routes: t.Array(t.String(), { maxItems: 1000 }),
  disabled_routes: t.Array(t.String(), { maxItems: 1000 }),
  resource_endpoint: t.Union([t.String(), t.Null()]),
  resource_scopes: strings,
  resource_stateful: t.Boolean(),
  resource_versions: strings,
  resource_server_info: object,
  resource_override_backend: t.Boolean(),
  resource_bearer_methods: strings,
  resource_documentation_suffix: t.Union([t.String(), t.Null()]),
  resource_custom_metadata: object,
  oauth_server_issuer: t.Union([t.String(), t.Null()]),
  oauth_server_scopes: strings,
  oauth_server_grant_types: strings,
  oauth_server_response_types: strings,
  oauth_server_token_auth_methods: strings,
  oauth_server_claims: strings,
  oauth_server_pkce_required: t.Boolean(),
  oauth_server_custom_metadata: object,
  oauth_server_override_defaults: t.Boolean(),
  mcp_tool_scopes: ProxyMcpPolicyBody.properties.mcp_tool_scopes,
  mcp_method_scopes: ProxyMcpPolicyBody.properties.mcp_method_scopes,
  mcp_filter_tools: ProxyMcpPolicyBody.properties.mcp_filter_tools,
  mcp_allowed_origins: ProxyMcpPolicyBody.properties.mcp_allowed_origins,
  mcp_rate_limits: ProxyMcpPolicyBody.properties.mcp_rate_limits,
};

const settings = t.Partial(t.Object(proxySettingsFields));

/** Not stored on the proxy: they shape the certificate requested for it. */
export const proxyCertificateFields = {
  staging: t.Optional(t.Boolean({ description: "Request the proxy's certificate from ACME_STAGING_URL" })),
  cert_email: t.Optional(t.String({ description: "ACME contact for the proxy's certificate; default: the token's cert_email, else ADMIN_EMAIL" })),
};

export const ProxyCreateBody = t.Composite(
  [
    settings,
    t.Object({ hostname: t.String({ description: "Exact hostname or *.wildcard" }), target_url: proxySettingsFields.target_url, ...proxyCertificateFields }),
  ],
  { additionalProperties: false },
);
export const ProxyUpdateBody = t.Composite(
  [settings, t.Partial(t.Object({ hostname: t.String({ description: "Must equal the path's hostname if given" }) }))],
  { additionalProperties: false },
);
export type ProxyCreate = Static<typeof ProxyCreateBody>;
export type ProxyUpdate = Static<typeof ProxyUpdateBody>;

export const PROXY_DEFAULTS: Omit<ProxyRecord, "hostname" | "target_url" | "owner_token_hash" | "created_by" | "created_at" | "updated_at"> = {
  cert_name: null,
  enabled: true,
  enable_http: true,
  enable_https: true,
  preserve_host_header: true,
  custom_headers: null,
  custom_response_headers: null,
  hsts_max_age: null,
  https_redirect: true,
  log_query: false,
  ...AUTH_DEFAULTS,
  route_mode: "all",
  enabled_routes: [],
  disabled_routes: [],
  ...RESOURCE_DEFAULTS,
  ...OAUTH_SERVER_DEFAULTS,
  github_client_id: null,
  github_client_secret: null,
  ...MCP_POLICY_DEFAULTS,
};

/**
 * preserve_host_header for a new proxy that does not set it: off for a backend
 * on a loopback address, on otherwise. Servers listening on loopback commonly
 * accept only loopback Host names, as DNS-rebinding protection — the MCP SDK's
 * createMcpExpressApp(), Vite's and webpack's dev servers — and answer the
 * public name with 403 "Invalid Host". Elsewhere the public name is what
 * backends build links from (and what an MCP server's allowedHosts lists).
 */
export function defaultPreserveHost(targetUrl: string): boolean {
  try {
    const hostname = new URL(targetUrl).hostname;
    return !(isLoopback(hostname) || hostname.endsWith(".localhost"));
  } catch {
    return PROXY_DEFAULTS.preserve_host_header;
  }
}

/**
 * The backend URL rules: http(s), a host, no credentials, no query or fragment.
 * Returns the URL exactly as sent (`http://backend:3000` stays without a
 * trailing slash): every use parses it the same way. Whitespace and control
 * characters are refused rather than kept, since the URL parser would
 * silently drop them (`http://back\nend` is `http://backend`).
 */
export function checkTargetUrl(field: string, value: string): string {
  if (/[\s\u0000-\u001f\u007f]/.test(value)) throw invalid(`${field}: ${JSON.stringify(value.slice(0, 200))} contains spaces or control characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${field}: ${JSON.stringify(value)} is not a URL; expected http://host[:port][/path]`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid(`${field}: only http and https URLs are supported`);
  if (url.username || url.password) throw invalid(`${field}: credentials in the URL are not allowed; use custom_headers`);
  if (!url.hostname) throw invalid(`${field}: the URL has no host`);
  if (url.search || url.hash || value.includes("#") || value.includes("?")) throw invalid(`${field}: a query or fragment is not allowed`);
  return value;
}

/** A backend URL, or `service:{name}` naming a registered service (resolved by the host table, live). */
function checkProxyTarget(value: string): string {
  const service = serviceTargetName(value);
  if (service === null) return checkTargetUrl("target_url", value);
  if (!isServiceName(service)) throw invalid(`target_url: ${JSON.stringify(value.slice(0, 100))} names no valid service; expected service:{name} with 1-63 lowercase letters, digits and '-'`);
  return value;
}

/** Checks what the schema cannot, and returns the values to store. */
export function checkProxySettings<T extends ProxyUpdate>(body: T): T {
  const checked = { ...body };
  if (body.target_url !== undefined) checked.target_url = checkProxyTarget(body.target_url);
  if (body.custom_headers) checkHeaderMap("custom_headers", body.custom_headers, "request");
  if (body.custom_response_headers) checkHeaderMap("custom_response_headers", body.custom_response_headers, "response");
  if (body.hostname !== undefined) checked.hostname = checkHostnamePattern("hostname", body.hostname);
  // The same rules as /proxy/targets/{hostname}/oauth-server, /auth and /resource, whichever endpoint sets them.
  Object.assign(checked, checkOAuthServerSettings(body), checkAuthSettings(body), checkResourceSettings(body), checkMcpPolicySettings(body));
  return checked;
}
