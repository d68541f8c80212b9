/**
 * A proxy's edge authentication (002 "Authentication Integration", "OAuth
 * Configuration", "Per-Proxy User Allowlists"): the `auth_*` fields by their
 * schema names, and the checks a schema cannot express. The edge compares
 * these values as stored, so they are stored in one normal form: logins and
 * emails lower-case, audiences canonical, lists deduplicated, an empty list
 * meaning the default (null).
 */
import { t, type Static } from "elysia";
import { canonicalResource } from "../../auth/resources";
import { OAuthError } from "../../auth/oauth-error";
import { invalid } from "../../core/errors";
import { MAX_SCOPE_LENGTH, MAX_SCOPES_PER_LIST, SCOPE_TOKENS, scopeTokenProblem } from "../../auth/scopes/scope-syntax";
import type { ProxyRecord } from "../../storage/proxy-repository";
import { checkHostnamePattern } from "./hostname";

const nullableList = (maxItems: number, maxLength: number, description?: string) =>
  t.Optional(t.Union([t.Array(t.String({ maxLength }), { maxItems }), t.Null()], description ? { description } : {}));

export const ProxyAuthBody = t.Object(
  {
    auth_enabled: t.Optional(t.Boolean()),
    auth_proxy: t.Optional(
      t.Union([t.String({ maxLength: 253 }), t.Null()], { description: "Hostname of the authorization server; default when enabling: auth.{BASE_DOMAIN}" }),
    ),
    auth_mode: t.Optional(t.Union([t.Literal("forward"), t.Literal("redirect"), t.Literal("passthrough")])),
    auth_required_users: nullableList(1000, 128, 'Logins allowed in, or ["*"] for everyone; null or []: OAUTH_ALLOWED_GITHUB_USERS, else OAUTH_ADMIN_USERS'),
    auth_required_emails: nullableList(1000, 254, "user@domain or *@domain"),
    auth_required_groups: nullableList(100, 128, "Not supported: tokens carry no groups"),
    auth_allowed_scopes: nullableList(MAX_SCOPES_PER_LIST, MAX_SCOPE_LENGTH, `Scopes a token must carry: ${SCOPE_TOKENS}`),
    auth_allowed_audiences: nullableList(20, 2000, "Resource URIs accepted in aud besides the proxy's own"),
    auth_pass_headers: t.Optional(t.Boolean({ description: "Send X-Auth-* identity headers to the backend" })),
    auth_cookie_name: t.Optional(t.String({ pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]{1,128}$", description: "Session cookie of redirect mode" })),
    auth_header_prefix: t.Optional(t.String({ maxLength: 64, description: "Prefix of the identity headers: letters, digits and -, ending with -" })),
    auth_excluded_paths: nullableList(100, 512, "Paths that bypass authentication; * matches any characters"),
    auth_forward_bearer: t.Optional(t.Boolean({ description: "Forward the client's bearer token to the backend; false strips it" })),
  },
  { additionalProperties: false },
);
export type ProxyAuthSettings = Static<typeof ProxyAuthBody>;

export type AuthFields = Pick<
  ProxyRecord,
  | "auth_enabled"
  | "auth_proxy"
  | "auth_mode"
  | "auth_required_users"
  | "auth_required_emails"
  | "auth_required_groups"
  | "auth_allowed_scopes"
  | "auth_allowed_audiences"
  | "auth_pass_headers"
  | "auth_cookie_name"
  | "auth_header_prefix"
  | "auth_excluded_paths"
  | "auth_forward_bearer"
>;

/** Auth off; the values 002's schema gives a new proxy. */
export const AUTH_DEFAULTS: AuthFields = {
  auth_enabled: false,
  auth_proxy: null,
  auth_mode: "forward",
  auth_required_users: null,
  auth_required_emails: null,
  auth_required_groups: null,
  auth_allowed_scopes: null,
  auth_allowed_audiences: null,
  auth_pass_headers: true,
  auth_cookie_name: "unified_auth_token",
  auth_header_prefix: "X-Auth-",
  auth_excluded_paths: null,
  auth_forward_bearer: false,
};

export const AUTH_FIELDS = Object.keys(AUTH_DEFAULTS) as (keyof AuthFields)[];

/** A GitHub login or an OIDC username as allowlists compare them (lower-case). */
const LOGIN = /^[a-z0-9][a-z0-9_.@+-]{0,127}$/;
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const EMAIL = new RegExp(`^(?:\\*|[a-z0-9!#$%&'+/=?^_\`{|}~.-]{1,64})@${LABEL}(?:\\.${LABEL})+$`);
/** An excluded path: a path, where * stands for any characters; no query, fragment, space or control character. */
const EXCLUDED_PATH = /^\/[^\s?#\u0000-\u001f\u007f]{0,511}$/;

/**
 * Headers the gateway itself sets or owns. An identity header prefix that
 * could produce or shadow one of them is refused: the edge strips every header
 * with the prefix from the client's request, and sets its own.
 */
const GATEWAY_HEADERS = ["host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-real-ip"];
const GATEWAY_HEADER_FAMILIES = ["x-forwarded-", "x-real-", "forwarded-", "proxy-", "sec-", "content-"];

/**
 * Checks what the schema cannot and returns the values to store. Pure: the
 * default `auth_proxy` for an enabled proxy is the caller's business, as it
 * depends on the merged record.
 */
export function checkAuthSettings(body: ProxyAuthSettings): Partial<AuthFields> {
  const checked: Partial<AuthFields> = {};
  for (const name of ["auth_enabled", "auth_mode", "auth_pass_headers", "auth_cookie_name", "auth_forward_bearer"] as const) {
    if (body[name] !== undefined) (checked as Record<string, unknown>)[name] = body[name];
  }
  if (body.auth_proxy !== undefined) checked.auth_proxy = body.auth_proxy === null ? null : checkAuthProxy(body.auth_proxy);
  if (body.auth_required_users !== undefined) checked.auth_required_users = checkUsers(body.auth_required_users);
  if (body.auth_required_emails !== undefined) checked.auth_required_emails = listOf("auth_required_emails", body.auth_required_emails, checkEmail);
  if (body.auth_required_groups !== undefined) checked.auth_required_groups = checkGroups(body.auth_required_groups);
  if (body.auth_allowed_scopes !== undefined) checked.auth_allowed_scopes = checkScopes("auth_allowed_scopes", body.auth_allowed_scopes);
  if (body.auth_allowed_audiences !== undefined) checked.auth_allowed_audiences = listOf("auth_allowed_audiences", body.auth_allowed_audiences, checkAudience);
  if (body.auth_header_prefix !== undefined) checked.auth_header_prefix = checkHeaderPrefix(body.auth_header_prefix);
  if (body.auth_excluded_paths !== undefined) checked.auth_excluded_paths = listOf("auth_excluded_paths", body.auth_excluded_paths, checkExcludedPath);
  return checked;
}

/** Deduplicated checked values; an empty list means the default, null. */
function listOf(field: string, values: string[] | null, check: (field: string, value: string) => string): string[] | null {
  if (values === null) return null;
  const unique = [...new Set(values.map((v) => check(field, v)))];
  return unique.length > 0 ? unique : null;
}

const quoted = (value: string) => JSON.stringify(value.slice(0, 128));

function checkAuthProxy(value: string): string {
  const host = checkHostnamePattern("auth_proxy", value);
  if (host.startsWith("*.")) throw invalid("auth_proxy: the authorization server is one exact hostname, not a wildcard");
  return host;
}

function checkUsers(values: string[] | null): string[] | null {
  const users = listOf("auth_required_users", values, (field, raw) => {
    const login = raw.trim().toLowerCase();
    if (login === "*") return login;
    if (login.includes("*")) throw invalid(`${field}: ${quoted(raw)}: the only wildcard is ["*"] (every user); logins are matched exactly`);
    if (!LOGIN.test(login)) throw invalid(`${field}: ${quoted(raw)} is not a login (letters, digits, _ . @ + -)`);
    return login;
  });
  if (users && users.includes("*") && users.length > 1) throw invalid('auth_required_users: "*" admits every user; list it alone');
  return users;
}

function checkEmail(field: string, raw: string): string {
  const email = raw.trim().toLowerCase();
  if (!EMAIL.test(email)) throw invalid(`${field}: ${quoted(raw)} is neither user@domain nor *@domain`);
  return email;
}

function checkGroups(values: string[] | null): null {
  if (values !== null && values.length > 0) {
    throw invalid("auth_required_groups: not supported: the identity providers here report no groups, so no token could pass; use auth_required_users or auth_required_emails");
  }
  return null;
}

/**
 * Operators name their own scopes (files:read, admin): any RFC 6749 scope
 * token is accepted, and every configured one becomes a scope the
 * authorization server offers (auth/scopes/scope-catalog.ts).
 */
export function checkScopes(field: string, values: string[] | null): string[] | null {
  if (values !== null && values.length > MAX_SCOPES_PER_LIST) throw invalid(`${field}: at most ${MAX_SCOPES_PER_LIST} scopes`);
  return listOf(field, values, (_, scope) => {
    const problem = scopeTokenProblem(scope);
    if (problem) throw invalid(`${field}: scope ${quoted(scope)} ${problem}`);
    return scope;
  });
}

function checkAudience(field: string, raw: string): string {
  try {
    return canonicalResource(raw);
  } catch (err) {
    if (err instanceof OAuthError) throw invalid(`${field}: ${err.description}`);
    throw err;
  }
}

function checkHeaderPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,62}-$/.test(prefix)) throw invalid(`auth_header_prefix: ${quoted(prefix)} must be letters, digits and -, ending with - (e.g. X-Auth-)`);
  const lower = prefix.toLowerCase();
  const clash = GATEWAY_HEADERS.find((h) => h.startsWith(lower)) ?? GATEWAY_HEADER_FAMILIES.find((f) => lower.startsWith(f));
  if (clash !== undefined) throw invalid(`auth_header_prefix: ${quoted(prefix)} would cover ${clash.endsWith("-") ? `${clash}*` : clash} headers, which the gateway sets`);
  return prefix;
}

function checkExcludedPath(field: string, path: string): string {
  if (!EXCLUDED_PATH.test(path)) throw invalid(`${field}: ${quoted(path)} must start with / and contain no query, fragment or space (globs use *)`);
  return path;
}
