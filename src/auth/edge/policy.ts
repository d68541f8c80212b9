/**
 * A proxy's auth settings compiled once (when the host table is built) into
 * what the edge checks per request: sets and matchers, no parsing on the hot
 * path. Pure.
 *
 * Readings of the spec made here:
 * - `auth_allowed_scopes`: the token's scopes must include every one of them
 *   (issue 7: "scopes ⊇ what the route needs"); a route override adds its own.
 * - `auth_required_users`: null or [] falls back to OAUTH_ALLOWED_GITHUB_USERS
 *   (OAUTH_ADMIN_USERS when that is unset); ["*"] admits every user; names
 *   compare case-insensitively.
 * - `auth_required_emails`: null or [] means no email check; otherwise the
 *   token's email must equal an entry or match a `*@domain` entry (both
 *   case-insensitive). Users and emails must both pass.
 * - `auth_excluded_paths`: `*` matches any run of characters, `/` included
 *   (`/.well-known/*` covers `/.well-known/a/b`, not `/.well-known` itself);
 *   every other character is literal. A pattern also matches the path with one
 *   trailing slash added (`/health` covers `/health/`), as routes never
 *   redirect between the two. A path with an encoded slash, dot or backslash
 *   is never excluded, so no spelling of a path a backend decodes differently
 *   can slip past authentication.
 */
import type { AuthMode, ProxyRecord } from "../../storage/proxy-repository";
import { canonicalResource } from "../resources";
import { effectiveIssuer } from "../server/metadata";

export interface EdgeAuthSettings {
  /** The authorization server's default issuer (OAUTH_ISSUER). */
  readonly issuer: string;
  /** OAUTH_ALLOWED_GITHUB_USERS (else OAUTH_ADMIN_USERS): the users of proxies that name none. */
  readonly allowedUsers: readonly string[];
}

/** A route's `auth_config` (RouteRecord), as far as the edge reads it. */
export interface RouteAuthOverride {
  readonly auth_type: "none" | "oauth";
  readonly required_scopes?: readonly string[] | null;
}

export interface EdgeAuthPolicy {
  readonly hostname: string;
  readonly mode: AuthMode;
  /** resource_endpoint without a trailing slash, or "" (the resource is the host itself). */
  readonly resourceEndpoint: string;
  /** auth_allowed_audiences in canonical resource form: a token for any of them is accepted besides this host's resource. */
  readonly allowedAudiences: readonly string[];
  /** Every one of these must be in the token's scope. */
  readonly requiredScopes: readonly string[];
  /** The `scope` hint of a 401 challenge: resource_scopes plus the required scopes; "" for none. */
  readonly scopeHint: string;
  /** The effective user allowlist, as configured. */
  readonly users: readonly string[];
  /** The email patterns, or null when emails are not checked. */
  readonly emails: readonly string[] | null;
  /** auth_excluded_paths, as configured. */
  readonly excludedPaths: readonly string[];
  readonly passHeaders: boolean;
  /** auth_header_prefix as configured (e.g. "X-Auth-"). */
  readonly headerPrefix: string;
  readonly cookieName: string;
  /** The hostname that runs sign-ins for this proxy (auth_proxy), or null for the default. */
  readonly authProxy: string | null;
  /** The issuer sign-ins for this proxy get: the proxy's own when it overrides the defaults. */
  readonly issuer: string;
  /** Pass the client's bearer token (and auth cookie) on to the backend. */
  readonly forwardBearer: boolean;

  /** True for a path that bypasses authentication. */
  isExcluded(path: string): boolean;
  /** True when the token's login passes the user allowlist. */
  userAllowed(login: string | undefined): boolean;
  /** True when the token's email passes the email patterns (always, when there are none). */
  emailAllowed(email: string | undefined): boolean;
  /** The identity header names, lower-case prefix first, computed once. */
  readonly identityHeaderNames: IdentityHeaderNames;
}

export interface IdentityHeaderNames {
  /** The prefix in lower case, for case-insensitive stripping. */
  readonly prefixLower: string;
  readonly userId: string;
  /** `{prefix}User`, the login (002 "Header Forwarding"), beside `{prefix}User-Name` with the same value. */
  readonly user: string;
  readonly userName: string;
  readonly email: string;
  readonly scopes: string;
  readonly clientId: string;
}

/** The compiled policy, or null when the proxy does not authenticate. */
export function compileEdgeAuthPolicy(proxy: ProxyRecord, settings: EdgeAuthSettings): EdgeAuthPolicy | null {
  if (!proxy.auth_enabled) return null;
  return compile(proxy, settings, { requiredScopes: nonEmpty(proxy.auth_allowed_scopes), excludedPaths: nonEmpty(proxy.auth_excluded_paths) });
}

/**
 * The policy for the paths of a route with `override_proxy_auth`: null for
 * `auth_type: "none"` (public); for `oauth`, the proxy's checks — whether or
 * not the proxy has auth on — with the route's `required_scopes` added and
 * without the proxy's excluded paths, since the route replaces the proxy's
 * policy for the paths it matches.
 */
export function compileRouteAuthPolicy(proxy: ProxyRecord, settings: EdgeAuthSettings, auth: RouteAuthOverride): EdgeAuthPolicy | null {
  if (auth.auth_type !== "oauth") return null;
  const scopes = [...new Set([...nonEmpty(proxy.auth_allowed_scopes), ...nonEmpty(auth.required_scopes)])];
  return compile(proxy, settings, { requiredScopes: scopes, excludedPaths: [] });
}

/** The header names for a prefix; also what stripping uses for proxies without auth. */
export function identityHeaderNames(prefix: string): IdentityHeaderNames {
  return {
    prefixLower: prefix.toLowerCase(),
    userId: `${prefix}User-Id`,
    user: `${prefix}User`,
    userName: `${prefix}User-Name`,
    email: `${prefix}Email`,
    scopes: `${prefix}Scopes`,
    clientId: `${prefix}Client-Id`,
  };
}

function compile(
  proxy: ProxyRecord,
  settings: EdgeAuthSettings,
  parts: { requiredScopes: readonly string[]; excludedPaths: readonly string[] },
): EdgeAuthPolicy {
  const users = proxy.auth_required_users?.length ? proxy.auth_required_users : settings.allowedUsers;
  const emails = nonEmpty(proxy.auth_required_emails);
  const resourceScopes = nonEmpty(proxy.resource_scopes);
  const headerPrefix = proxy.auth_header_prefix || "X-Auth-";
  return {
    hostname: proxy.hostname,
    mode: proxy.auth_mode,
    resourceEndpoint: normalizeEndpoint(proxy.resource_endpoint),
    allowedAudiences: nonEmpty(proxy.auth_allowed_audiences).map(canonicalOrAsIs),
    requiredScopes: parts.requiredScopes,
    scopeHint: [...new Set([...resourceScopes, ...parts.requiredScopes])].join(" "),
    users,
    emails: emails.length > 0 ? emails : null,
    excludedPaths: parts.excludedPaths,
    passHeaders: proxy.auth_pass_headers,
    headerPrefix,
    cookieName: proxy.auth_cookie_name || "unified_auth_token",
    authProxy: proxy.auth_proxy || null,
    issuer: effectiveIssuer(settings.issuer, proxy),
    forwardBearer: proxy.auth_forward_bearer === true,
    isExcluded: pathMatcher(parts.excludedPaths),
    userAllowed: userMatcher(users),
    emailAllowed: emails.length > 0 ? emailMatcher(emails) : () => true,
    identityHeaderNames: identityHeaderNames(headerPrefix),
  };
}

/** "/mcp/" → "/mcp", "mcp" → "/mcp", "/" or null → "". */
export function normalizeEndpoint(endpoint: string | null | undefined): string {
  if (!endpoint) return "";
  return (endpoint.startsWith("/") ? endpoint : "/" + endpoint).replace(/\/+$/, "");
}

const nonEmpty = (list: readonly string[] | null | undefined): string[] => (list ?? []).filter((s) => typeof s === "string" && s !== "");

/** Tokens carry canonical resources; an entry that is no resource URL can only match byte for byte. */
function canonicalOrAsIs(audience: string): string {
  try {
    return canonicalResource(audience);
  } catch {
    return audience;
  }
}

function userMatcher(users: readonly string[]): (login: string | undefined) => boolean {
  if (users.includes("*")) return () => true;
  if (users.length === 0) return () => false;
  // The rule of identity.ts userAllowed, as one set lookup instead of a scan per request.
  const names = new Set(users.map((u) => u.toLowerCase()));
  return (login) => login !== undefined && names.has(login.toLowerCase());
}

function emailMatcher(patterns: readonly string[]): (email: string | undefined) => boolean {
  const exact = new Set<string>();
  const domains = new Set<string>();
  for (const pattern of patterns) {
    const p = pattern.trim().toLowerCase();
    if (p.startsWith("*@") && p.length > 2) domains.add(p.slice(2));
    else exact.add(p);
  }
  return (email) => {
    if (!email) return false;
    const e = email.toLowerCase();
    if (exact.has(e)) return true;
    const at = e.lastIndexOf("@");
    return at > 0 && domains.has(e.slice(at + 1));
  };
}

/** Encoded "/", "\" or "." (Bun has resolved plain dot segments already): a backend might decode them into another path. */
const AMBIGUOUS_PATH = /%2f|%5c|%2e|\\/i;

/** A matcher for excluded-path globs (see the file comment for the syntax). */
export function pathMatcher(globs: readonly string[]): (path: string) => boolean {
  const exact = new Set<string>();
  const patterns: string[] = [];
  for (const glob of globs) {
    if (!glob.includes("*")) {
      exact.add(glob);
      if (!glob.endsWith("/")) exact.add(glob + "/");
    } else {
      const body = glob.split("*").map(escapeRegExp).join(".*");
      patterns.push(glob.endsWith("/") || glob.endsWith("*") ? body : `${body}/?`);
    }
  }
  if (exact.size === 0 && patterns.length === 0) return () => false;
  const regex = patterns.length > 0 ? new RegExp(`^(?:${patterns.join("|")})$`, "s") : null;
  return (path) => (exact.has(path) || (regex !== null && regex.test(path))) && !AMBIGUOUS_PATH.test(path);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
