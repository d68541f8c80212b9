/**
 * The per-request auth decision of a proxy with auth on: allow (with the
 * verified identity, or none), deny (a ready 401/403), or send a browser to
 * sign in (redirect mode; the dispatcher builds that redirect). Memory only;
 * synchronous whenever the token was seen before.
 *
 * Order: excluded path → token present? → token valid (signature, expiry,
 * revocation, issuer) → audience → user and email allowlists → scopes.
 * The allowlists come before scopes so a user who may not use the resource at
 * all is told so (403 access_denied), instead of being sent on a step-up
 * sign-in that cannot help.
 *
 * Answers:
 * - no token: 401 with a challenge without `error` (RFC 6750 §3.1);
 * - bad, expired, revoked or foreign-audience token: 401 `invalid_token`;
 * - scopes missing: 403 `insufficient_scope` with the needed `scope`;
 * - user or email not allowed: 403 `access_denied`, without a challenge. RFC
 *   6750 has no error code for "this identity may not", `insufficient_scope`
 *   would send MCP clients into a step-up loop, and RFC 9470's
 *   `insufficient_user_authentication` is about how (acr, age) the user
 *   authenticated, not who they are.
 * In passthrough mode every one of these becomes "allow, no identity".
 *
 * The token comes from `Authorization: Bearer` (scheme case-insensitive), or in
 * redirect and passthrough mode from the `auth_cookie_name` cookie; never
 * from the query string (RFC 9700 §2.4).
 */
import { OAuthError } from "../oauth-error";
import type { AccessTokenClaims } from "../tokens/access-token";
import { bearerChallenge } from "./challenge";
import type { EdgeTokenVerifier, RememberedToken } from "./edge-tokens";
import { isBearer } from "./identity-headers";
import type { EdgeAuthPolicy } from "./policy";
import { originFor, resourceUrlFor } from "./request-origin";
import type { HeaderView } from "../../proxies/header-view";

export type EdgeAuthDecision =
  | { readonly kind: "allow"; readonly identity: AccessTokenClaims | null }
  | { readonly kind: "deny"; readonly response: Response }
  | { readonly kind: "login"; readonly returnTo: string };

/** What the decision reads of a request: a Bun Request, or the raw edge's parsed head (dispatcher/raw-edge). */
export interface EdgeAuthRequest {
  readonly method: string;
  /** Absolute; only a sign-in redirect reads it (its return address). */
  readonly url: string;
  readonly headers: HeaderView;
  /** The token its connection presented last (the raw edge's connections keep one). */
  readonly rememberedToken?: RememberedToken;
}

export interface EdgeRequestFacts {
  /** How the client reached the gateway (PROXY protocol / trusted X-Forwarded-Proto already applied). */
  readonly proto: "http" | "https";
  /** The Host the client used, as sent (a port included), lower-case or not. */
  readonly host: string;
  /** The request path, without the query. */
  readonly path: string;
  /** The protected resource metadata URL (metadataUrlFor), or null when the proxy has no resource configured. */
  readonly metadataUrl: string | null;
  /** The authorization server's issuer, as its metadata states it. */
  readonly asIssuer: string;
}

const ANONYMOUS: EdgeAuthDecision = Object.freeze({ kind: "allow", identity: null });
/** A Bearer header whose credential is not RFC 6750 b64token syntax. */
const MALFORMED = Symbol("malformed");

export function authenticateAtEdge(
  policy: EdgeAuthPolicy,
  verifier: EdgeTokenVerifier,
  request: EdgeAuthRequest,
  facts: EdgeRequestFacts,
): EdgeAuthDecision | Promise<EdgeAuthDecision> {
  if (policy.isExcluded(facts.path)) return ANONYMOUS;
  const token = presentedToken(policy, request.headers, request.rememberedToken);
  if (token === null) return withoutToken(policy, request, facts);
  if (token === MALFORMED) return badToken(policy, request, facts, "malformed bearer token");

  let verified: AccessTokenClaims | Promise<AccessTokenClaims>;
  try {
    verified = verifier.verify(token, request.rememberedToken);
  } catch (err) {
    return badToken(policy, request, facts, reasonOf(err));
  }
  if (verified instanceof Promise) {
    return verified.then(
      (claims) => decide(policy, request, facts, claims),
      (err: unknown) => badToken(policy, request, facts, reasonOf(err)),
    );
  }
  return decide(policy, request, facts, verified);
}

/** The last allow decision made for a token (its claims), and what it was a function of. */
interface AllowedBefore {
  readonly policy: EdgeAuthPolicy;
  readonly proto: "http" | "https";
  readonly host: string;
  readonly decision: EdgeAuthDecision;
}

/**
 * An allow depends on the claims, the policy (immutable: a config change
 * compiles a new one) and the client's scheme and Host, nothing else, so a
 * token's next request to the same host reuses it instead of redoing the
 * audience, allowlist and scope checks (~0.25 µs). Expiry, revocation and the
 * issuer are the verifier's, checked on every request before this.
 */
const allowedBefore = new WeakMap<AccessTokenClaims, AllowedBefore>();

function decide(policy: EdgeAuthPolicy, request: EdgeAuthRequest, facts: EdgeRequestFacts, claims: AccessTokenClaims): EdgeAuthDecision {
  const before = allowedBefore.get(claims);
  if (before !== undefined && before.policy === policy && before.host === facts.host && before.proto === facts.proto) return before.decision;
  const decision = checkClaims(policy, request, facts, claims);
  if (decision.kind === "allow" && decision.identity === claims) allowedBefore.set(claims, { policy, proto: facts.proto, host: facts.host, decision });
  return decision;
}

function checkClaims(policy: EdgeAuthPolicy, request: EdgeAuthRequest, facts: EdgeRequestFacts, claims: AccessTokenClaims): EdgeAuthDecision {
  if (!audienceMatches(policy, facts, claims.aud)) {
    return badToken(policy, request, facts, "token audience does not include this resource");
  }
  const passthrough = policy.mode === "passthrough";
  if (!policy.userAllowed(claims.login)) {
    return passthrough ? ANONYMOUS : accessDenied(`user ${JSON.stringify(claims.login ?? claims.sub)} is not allowed on this host`);
  }
  if (!policy.emailAllowed(claims.email)) {
    return passthrough ? ANONYMOUS : accessDenied(claims.email ? "this account's email is not allowed on this host" : "this host requires an allowed email and the token carries none");
  }
  for (const scope of policy.requiredScopes) {
    if (!hasScope(claims.scope, scope)) return passthrough ? ANONYMOUS : insufficientScope(policy, facts);
  }
  return { kind: "allow", identity: claims };
}

/** The token's aud names this host's resource (or, for a resource with a path, the host itself), or an allowed audience. */
function audienceMatches(policy: EdgeAuthPolicy, facts: EdgeRequestFacts, aud: readonly string[]): boolean {
  const resource = resourceUrlFor(facts.proto, facts.host, policy.resourceEndpoint);
  if (aud.includes(resource)) return true;
  // A token for the whole host covers every resource on it.
  if (policy.resourceEndpoint !== "" && aud.includes(originFor(facts.proto, facts.host))) return true;
  const allowed = policy.allowedAudiences;
  for (let i = 0; i < allowed.length; i++) if (aud.includes(allowed[i]!)) return true;
  return false;
}

/** Whether a space-separated scope string holds one scope, without splitting it. */
export function hasScope(scopes: string, wanted: string): boolean {
  let from = 0;
  for (;;) {
    const at = scopes.indexOf(wanted, from);
    if (at < 0) return false;
    const end = at + wanted.length;
    if ((at === 0 || scopes.charCodeAt(at - 1) === 32) && (end === scopes.length || scopes.charCodeAt(end) === 32)) return true;
    from = at + 1;
  }
}

function presentedToken(policy: EdgeAuthPolicy, headers: HeaderView, remembered: RememberedToken | undefined): string | typeof MALFORMED | null {
  const authorization = headers.get("authorization");
  if (authorization !== null && isBearer(authorization)) {
    // The connection's last value (often the very same string: raw-edge headers are kept while the block repeats).
    if (remembered !== undefined && authorization === remembered.authorization) return remembered.bearer;
    // Syntax (RFC 6750 b64token) is the verifier's first check on a miss; a hit is a token already verified.
    const token = authorization.slice(7).trim();
    if (token === "") return MALFORMED;
    if (remembered !== undefined) {
      remembered.authorization = authorization;
      remembered.bearer = token;
    }
    return token;
  }
  if (policy.mode === "forward") return null;
  return cookieValue(headers.get("cookie"), policy.cookieName);
}

function cookieValue(cookie: string | null, name: string): string | null {
  if (cookie === null) return null;
  let from = 0;
  while (from < cookie.length) {
    const at = cookie.indexOf(name, from);
    if (at < 0) return null;
    const eq = at + name.length;
    const startsPair = at === 0 || cookie.charCodeAt(at - 1) === 59 /* ; */ || cookie.charCodeAt(at - 1) === 32;
    if (startsPair && cookie.charCodeAt(eq) === 61 /* = */) {
      const end = cookie.indexOf(";", eq);
      const value = (end < 0 ? cookie.slice(eq + 1) : cookie.slice(eq + 1, end)).trim();
      return value === "" ? null : value;
    }
    from = at + 1;
  }
  return null;
}

function withoutToken(policy: EdgeAuthPolicy, request: EdgeAuthRequest, facts: EdgeRequestFacts): EdgeAuthDecision {
  if (policy.mode === "passthrough") return ANONYMOUS;
  if (policy.mode === "redirect" && looksLikeBrowser(request)) return login(request, facts);
  const challenge = bearerChallenge({ realm: facts.host, metadataUrl: facts.metadataUrl, asIssuer: facts.asIssuer, scope: policy.scopeHint });
  return deny(401, { error: "unauthorized", error_description: "this resource needs a bearer token" }, challenge);
}

function badToken(policy: EdgeAuthPolicy, request: EdgeAuthRequest, facts: EdgeRequestFacts, reason: string): EdgeAuthDecision {
  if (policy.mode === "passthrough") return ANONYMOUS;
  if (policy.mode === "redirect" && looksLikeBrowser(request)) return login(request, facts);
  const challenge = bearerChallenge({
    realm: facts.host,
    metadataUrl: facts.metadataUrl,
    asIssuer: facts.asIssuer,
    scope: policy.scopeHint,
    error: { code: "invalid_token", description: reason },
  });
  return deny(401, { error: "invalid_token", error_description: reason }, challenge);
}

function insufficientScope(policy: EdgeAuthPolicy, facts: EdgeRequestFacts): EdgeAuthDecision {
  const needed = policy.requiredScopes.join(" ");
  const description = `this resource needs the scope ${needed}`;
  const challenge = bearerChallenge({
    realm: facts.host,
    metadataUrl: facts.metadataUrl,
    asIssuer: facts.asIssuer,
    scope: needed,
    error: { code: "insufficient_scope", description },
  });
  return deny(403, { error: "insufficient_scope", error_description: description, scope: needed }, challenge);
}

function accessDenied(description: string): EdgeAuthDecision {
  return deny(403, { error: "access_denied", error_description: description }, null);
}

function deny(status: number, body: Record<string, string>, challenge: string | null): EdgeAuthDecision {
  const headers: Record<string, string> = { "cache-control": "no-store" };
  if (challenge !== null) headers["www-authenticate"] = challenge;
  return { kind: "deny", response: Response.json(body, { status, headers }) };
}

/** A top-level navigation: only those can follow a sign-in redirect and come back. */
function looksLikeBrowser(request: EdgeAuthRequest): boolean {
  const method = request.method;
  return (method === "GET" || method === "HEAD") && (request.headers.get("accept")?.includes("text/html") ?? false);
}

/** The URL to come back to after signing in: as the client asked for it, query included. */
function login(request: EdgeAuthRequest, facts: EdgeRequestFacts): EdgeAuthDecision {
  const url = request.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const hash = url.indexOf("#", start);
  const target = start < 0 ? "/" : hash < 0 ? url.slice(start) : url.slice(start, hash);
  return { kind: "login", returnTo: originFor(facts.proto, facts.host) + target };
}

function reasonOf(err: unknown): string {
  return err instanceof OAuthError ? err.description : "token could not be verified";
}
