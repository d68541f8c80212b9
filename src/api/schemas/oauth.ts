/**
 * Request bodies of the OAuth admin API (/api/v1/oauth/...) and of a proxy's
 * `oauth-server` settings, with the checks a schema cannot express. Values
 * are checked against what this authorization server can actually do, so a
 * proxy cannot advertise a flow the server would then refuse.
 */
import { t, type Static } from "elysia";
import { invalid } from "../../core/errors";
import { MAX_SCOPE_LENGTH, MAX_SCOPES_PER_LIST, SCOPE_TOKENS, scopeTokenProblem } from "../../auth/scopes/scope-syntax";
import { checkScopes } from "./proxy-auth";
import { authorizationServerMetadata, GRANT_TYPES, TOKEN_AUTH_METHODS, type OAuthServerOverrides } from "../../auth/server/metadata";

const nullableText = (maxLength: number) => t.Optional(t.Union([t.String({ maxLength }), t.Null()]));
const nullableList = (maxItems: number) => t.Optional(t.Union([t.Array(t.String({ maxLength: 2000 }), { maxItems }), t.Null()]));

/**
 * RFC 7591 client metadata, as the admin registers a client. The deep checks
 * are those of POST /register (parseClientMetadata); unknown fields are a 422
 * here, as everywhere in the admin API.
 */
export const AdminClientBody = t.Object(
  {
    client_name: nullableText(256),
    redirect_uris: nullableList(20),
    grant_types: nullableList(10),
    response_types: nullableList(10),
    token_endpoint_auth_method: nullableText(64),
    scope: nullableText(1000),
    client_uri: nullableText(2000),
    logo_uri: nullableText(2000),
    contacts: nullableList(10),
    software_id: nullableText(256),
    software_version: nullableText(256),
  },
  { additionalProperties: false },
);

export const MAX_TEST_TOKEN_LIFETIME_SECONDS = 86_400;
export const MIN_TEST_TOKEN_LIFETIME_SECONDS = 60;
/** What a test token gets when the request names no scope: enough to call an MCP server, not to administer it. */
export const DEFAULT_TEST_TOKEN_SCOPE = "mcp:read mcp:write";

export const TestTokenBody = t.Object(
  {
    resource: t.Union([t.String({ maxLength: 2000 }), t.Array(t.String({ maxLength: 2000 }), { minItems: 1, maxItems: 100 })], {
      description: "The MCP server URL(s) the token is for; each becomes an aud entry",
    }),
    scope: t.Optional(t.String({ maxLength: 1000, description: `Space-separated scopes (RFC 6749 scope tokens); default "${DEFAULT_TEST_TOKEN_SCOPE}"` })),
    username: t.Optional(t.String({ maxLength: 64, description: "The token's login; sub is admin-<username>. Default: the API token's name" })),
    lifetime_seconds: t.Optional(
      t.Integer({
        minimum: MIN_TEST_TOKEN_LIFETIME_SECONDS,
        maximum: MAX_TEST_TOKEN_LIFETIME_SECONDS,
        description: "Default: OAUTH_ACCESS_TOKEN_LIFETIME",
      }),
    ),
  },
  { additionalProperties: false },
);
export type TestTokenRequest = Static<typeof TestTokenBody>;

const USERNAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export function checkTestTokenUsername(raw: string): string {
  const username = raw.trim().toLowerCase();
  if (!USERNAME.test(username)) throw invalid(`username: ${JSON.stringify(raw.slice(0, 64))} must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`);
  return username;
}

/**
 * Space-separated scope tokens, deduplicated; an empty scope is refused (a
 * token for nothing tests nothing). Any well-formed scope may be minted: the
 * admin tests proxies whose scopes are their own (files:read).
 */
export function checkTestTokenScope(raw: string | undefined): string {
  if (raw === undefined) return DEFAULT_TEST_TOKEN_SCOPE;
  const scopes = [...new Set(raw.split(" ").filter(Boolean))];
  if (scopes.length === 0) throw invalid("scope: name at least one scope");
  if (scopes.length > MAX_SCOPES_PER_LIST) throw invalid(`scope: at most ${MAX_SCOPES_PER_LIST} scopes`);
  for (const scope of scopes) {
    const problem = scopeTokenProblem(scope);
    if (problem) throw invalid(`scope: ${JSON.stringify(scope.slice(0, 64))} ${problem}`);
  }
  return scopes.join(" ");
}

/** The `oauth_server_*` fields of a proxy (002 "Proxy Target Schema"), by their schema names. */
export const OAuthServerBody = t.Object(
  {
    oauth_server_issuer: t.Optional(t.Union([t.String({ maxLength: 2000 }), t.Null()], { description: "https URL without query or fragment" })),
    oauth_server_scopes: t.Optional(t.Union([t.Array(t.String({ maxLength: MAX_SCOPE_LENGTH }), { maxItems: MAX_SCOPES_PER_LIST }), t.Null()], { description: `scopes_supported on this proxy's host: ${SCOPE_TOKENS}` })),
    oauth_server_grant_types: nullableList(10),
    oauth_server_response_types: nullableList(10),
    oauth_server_token_auth_methods: nullableList(10),
    oauth_server_claims: nullableList(100),
    oauth_server_pkce_required: t.Optional(t.Boolean()),
    oauth_server_custom_metadata: t.Optional(t.Union([t.Record(t.String(), t.Unknown()), t.Null()])),
    oauth_server_override_defaults: t.Optional(t.Boolean({ description: "Serve these settings in the proxy's metadata instead of the defaults" })),
  },
  { additionalProperties: false },
);
export type OAuthServerSettings = Static<typeof OAuthServerBody>;

export type OAuthServerFields = OAuthServerOverrides & { oauth_server_pkce_required: boolean };

export const OAUTH_SERVER_DEFAULTS: OAuthServerFields = {
  oauth_server_issuer: null,
  oauth_server_scopes: null,
  oauth_server_grant_types: null,
  oauth_server_response_types: null,
  oauth_server_token_auth_methods: null,
  oauth_server_claims: null,
  oauth_server_pkce_required: false,
  oauth_server_custom_metadata: null,
  oauth_server_override_defaults: false,
};

export const OAUTH_SERVER_FIELDS = Object.keys(OAUTH_SERVER_DEFAULTS) as (keyof OAuthServerFields)[];

const RESPONSE_TYPES = ["code"];
/** A claim name as OpenID Connect spells them (sub, email_verified, https://example.com/claims/x). */
const CLAIM_NAME = /^[A-Za-z0-9_.:/-]{1,128}$/;
const MAX_CUSTOM_METADATA_BYTES = 16_384;

/**
 * The fields the server always writes itself: a custom field of that name
 * would silently lose (metadata.ts), so it is refused instead.
 */
const SERVER_METADATA_FIELDS = new Set([
  ...Object.keys(authorizationServerMetadata("https://example.invalid", null, { clientIdMetadataDocuments: true, scopes: [] })),
  "claims_supported",
]);

/** Checks what the schema cannot and returns the values to store: lists deduplicated, an empty list meaning the default (null). */
export function checkOAuthServerSettings(body: OAuthServerSettings): Partial<OAuthServerFields> {
  const checked: Partial<OAuthServerFields> = {};
  if (body.oauth_server_issuer !== undefined) checked.oauth_server_issuer = body.oauth_server_issuer === null ? null : checkIssuer(body.oauth_server_issuer);
  // The proxy's own scopes: each one configured here is one the server offers (scope-catalog.ts).
  if (body.oauth_server_scopes !== undefined) checked.oauth_server_scopes = checkScopes("oauth_server_scopes", body.oauth_server_scopes);
  const lists = [
    ["oauth_server_grant_types", GRANT_TYPES],
    ["oauth_server_response_types", RESPONSE_TYPES],
    ["oauth_server_token_auth_methods", TOKEN_AUTH_METHODS],
  ] as const;
  for (const [field, supported] of lists) {
    const value = body[field];
    if (value !== undefined) checked[field] = supportedSubset(field, value, supported);
  }
  if (body.oauth_server_claims !== undefined) checked.oauth_server_claims = claimNames(body.oauth_server_claims);
  if (body.oauth_server_custom_metadata !== undefined) checked.oauth_server_custom_metadata = customMetadata(body.oauth_server_custom_metadata);
  if (body.oauth_server_pkce_required !== undefined) checked.oauth_server_pkce_required = body.oauth_server_pkce_required;
  if (body.oauth_server_override_defaults !== undefined) checked.oauth_server_override_defaults = body.oauth_server_override_defaults;
  return checked;
}

/** RFC 8414 §2: an https URL with no query or fragment (and, here, no credentials). */
function checkIssuer(raw: string): string {
  const field = "oauth_server_issuer";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`${field}: ${JSON.stringify(raw.slice(0, 200))} is not a URL; expected https://host[/path]`);
  }
  if (url.protocol !== "https:") throw invalid(`${field}: the issuer must be an https URL`);
  if (url.search || url.hash || raw.includes("?") || raw.includes("#")) throw invalid(`${field}: the issuer must not have a query or fragment`);
  if (url.username || url.password) throw invalid(`${field}: the issuer must not carry credentials`);
  if (/[\s"'<>\\]/.test(raw)) throw invalid(`${field}: the issuer contains characters a URL cannot`);
  return `${url.protocol}//${url.host}${url.pathname}`.replace(/\/+$/, "");
}

function supportedSubset(field: string, value: string[] | null, supported: readonly string[]): string[] | null {
  if (value === null) return null;
  const unique = [...new Set(value)];
  const unsupported = unique.filter((v) => !supported.includes(v));
  if (unsupported.length > 0) {
    throw invalid(`${field}: unsupported value ${unsupported.map((v) => JSON.stringify(v.slice(0, 64))).join(", ")} (this server supports: ${supported.join(", ")})`);
  }
  if (field === "oauth_server_response_types" || field === "oauth_server_grant_types") {
    // The code flow is the only way in; advertising it away would describe a server no client can use.
    const required = field === "oauth_server_response_types" ? "code" : "authorization_code";
    if (unique.length > 0 && !unique.includes(required)) throw invalid(`${field}: must include ${JSON.stringify(required)}`);
  }
  return unique.length > 0 ? unique : null;
}

function claimNames(value: string[] | null): string[] | null {
  if (value === null) return null;
  const unique = [...new Set(value)];
  const bad = unique.find((claim) => !CLAIM_NAME.test(claim));
  if (bad !== undefined) throw invalid(`oauth_server_claims: ${JSON.stringify(bad.slice(0, 64))} is not a claim name (letters, digits, _ . : / -)`);
  return unique.length > 0 ? unique : null;
}

function customMetadata(value: Record<string, unknown> | null): Record<string, unknown> | null {
  if (value === null) return null;
  const field = "oauth_server_custom_metadata";
  for (const name of Object.keys(value)) {
    if (name.length === 0 || name.length > 128) throw invalid(`${field}: field names must be 1-128 characters`);
    if (SERVER_METADATA_FIELDS.has(name)) throw invalid(`${field}: ${JSON.stringify(name)} is set by the server; use the oauth_server_* fields, or leave it to the defaults`);
  }
  if (new TextEncoder().encode(JSON.stringify(value)).length > MAX_CUSTOM_METADATA_BYTES) {
    throw invalid(`${field}: at most ${MAX_CUSTOM_METADATA_BYTES} bytes of JSON`);
  }
  return Object.keys(value).length > 0 ? value : null;
}
