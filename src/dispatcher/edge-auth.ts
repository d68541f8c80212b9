/**
 * Authentication at the edge, per request, between route matching and
 * forwarding: the proxy's (or an overriding route's) policy decides from
 * memory alone; the protected resource metadata (RFC 9728) of the proxy is
 * answered here; redirect mode's sign-in is started and finished here.
 * Client-sent identity headers are stripped on every request, auth or not.
 */
import { authenticateAtEdge, type EdgeAuthDecision, type EdgeAuthRequest, type EdgeRequestFacts } from "../auth/edge/authenticate";
import type { HeaderView } from "../proxies/header-view";
import type { EdgeTokenVerifier } from "../auth/edge/edge-tokens";
import { hasBearerCredential, identityRewrite, stripIdentityHeaders } from "../auth/edge/identity-headers";
import type { IdentityRewrite } from "../proxies/forward-target";
import type { EdgeAuthPolicy } from "../auth/edge/policy";
import type { AccessTokenClaims } from "../auth/tokens/access-token";
import { metadataPathFor, protectedResourceMetadata } from "../auth/edge/protected-resource";
import { metadataUrlFor, resourceUrlFor } from "../auth/edge/request-origin";
import { effectiveIssuer } from "../auth/server/metadata";
import { isCorsPreflight, publicPreflightResponse } from "../auth/public-cors";
import type { HostEntry } from "./host-table";
import type { CompiledRoute } from "./routes";

/** Starts and finishes redirect mode's browser sign-in (edge-login.ts). */
export interface EdgeSignIn {
  /** The path on every proxy host where the authorization server sends the browser back. */
  readonly callbackPath: string;
  start(policy: EdgeAuthPolicy, facts: EdgeFacts, returnTo: string): Response | Promise<Response>;
  finish(policy: EdgeAuthPolicy, facts: EdgeFacts, request: Request): Promise<Response>;
  /** POST here ends the edge session: its cookie, and the sign-in behind it (edge-sign-out.ts). */
  readonly signOutPath?: string;
  signOut?(policy: EdgeAuthPolicy, facts: EdgeFacts, request: Request): Promise<Response>;
}

export interface EdgeAuthOptions {
  readonly verifier: EdgeTokenVerifier;
  /** The authorization server's issuer (OAUTH_ISSUER), for metadata and challenges. */
  readonly issuer: string;
  readonly signIn?: EdgeSignIn;
}

/** How the client reached us: scheme and Host, after trusted X-Forwarded-Proto/-Host. */
export interface EdgeFacts {
  readonly proto: "http" | "https";
  readonly host: string;
  readonly path: string;
}

/**
 * Forward the request, or answer it. `ifBackendLacks` is for the metadata
 * document when the backend's own wins: served only if the backend answers 404 or 405.
 * `claims` is the verified token, for the checks after auth (an MCP call's scopes).
 */
export type EdgeOutcome =
  | { readonly forward: true; readonly identity?: IdentityRewrite; readonly claims?: AccessTokenClaims | null; readonly ifBackendLacks?: () => Response }
  | Response;

const NO_SUCH_RESOURCE = { error: "not_found", error_description: "no protected resource is described at this path" };
type Forward = Exclude<EdgeOutcome, Response>;
const FORWARD: Forward = Object.freeze({ forward: true as const });


export function clientFacts(request: { readonly headers: HeaderView }, proto: "http" | "https", path: string, trustedPeer: boolean): EdgeFacts {
  const headers = request.headers;
  if (trustedPeer) {
    const forwardedProto = headers.get("x-forwarded-proto");
    const forwardedHost = headers.get("x-forwarded-host");
    return {
      proto: forwardedProto === "https" || forwardedProto === "http" ? forwardedProto : proto,
      host: (forwardedHost ?? headers.get("host") ?? "").split(",")[0]!.trim(),
      path,
    };
  }
  return { proto, host: headers.get("host") ?? "", path };
}

/**
 * Whether guardRequest has anything to do for this proxy and route: a policy
 * (the proxy's or an overriding route's), metadata to serve, or identity
 * headers under a custom prefix to strip. Most proxies have none of these and
 * skip the guard altogether.
 */
export function isGuarded(entry: HostEntry, route: CompiledRoute | undefined): boolean {
  return entry.auth !== null || entry.protectedResource !== null || entry.customIdentityPrefix !== null || route?.authPolicy !== undefined;
}

/**
 * What happens before a request to a proxy is forwarded: the metadata
 * document or the sign-in callback answered here, a 401/403/redirect, or
 * forwarding (with identity headers set and credentials stripped as the
 * policy says). Synchronous unless a token is seen for the first time.
 */
export function guardRequest(
  options: EdgeAuthOptions,
  entry: HostEntry,
  route: CompiledRoute | undefined,
  request: Request,
  facts: EdgeFacts,
): EdgeOutcome | Promise<EdgeOutcome> {
  const resource = entry.protectedResource;
  if (resource && facts.path.startsWith("/.well-known/oauth-protected-resource")) {
    const metadataOutcome = metadataRequest(options, entry, resource, request, facts);
    if (metadataOutcome) return metadataOutcome;
  }

  const policy = route?.authPolicy !== undefined ? route.authPolicy : entry.auth;
  if (!policy) {
    if (entry.customIdentityPrefix) stripIdentityHeaders(request.headers, entry.customIdentityPrefix);
    return FORWARD;
  }
  if (options.signIn && facts.path === options.signIn.callbackPath) return options.signIn.finish(policy, facts, request);
  if (options.signIn?.signOut && request.method === "POST" && facts.path === options.signIn.signOutPath) return options.signIn.signOut(policy, facts, request);
  // A CORS preflight never carries credentials (Fetch standard); refusing it would lock out browser-based clients.
  if (request.method === "OPTIONS" && request.headers.has("access-control-request-method")) {
    stripIdentityHeaders(request.headers, policy.headerPrefix);
    return FORWARD;
  }

  const decision = authenticateAtEdge(policy, options.verifier, request, decisionFacts(policy, resource, facts));
  return decision instanceof Promise ? decision.then((d) => act(options, policy, request, facts, d)) : act(options, policy, request, facts, decision);
}

/**
 * guardRequest's outcome when it is to forward and is known at once, from
 * memory (the raw edge's fast lane, which has no Request to give the rest);
 * null whenever guardRequest would answer, sign in, serve metadata or strip
 * headers from the request: the caller then hands the request to
 * guardRequest. A token seen for the first time is verified first (a
 * promise). The rules are the same calls in the same order.
 */
export function allowedAtOnce(
  options: EdgeAuthOptions,
  entry: HostEntry,
  route: CompiledRoute | undefined,
  request: EdgeAuthRequest,
  facts: EdgeFacts,
): Forward | null | Promise<Forward | null> {
  const resource = entry.protectedResource;
  if (resource && facts.path.startsWith("/.well-known/oauth-protected-resource")) return null;
  const policy = route?.authPolicy !== undefined ? route.authPolicy : entry.auth;
  if (!policy) return entry.customIdentityPrefix ? null : FORWARD;
  const signIn = options.signIn;
  if (signIn && (facts.path === signIn.callbackPath || facts.path === signIn.signOutPath)) return null;
  if (request.method === "OPTIONS") return null;
  const decision = authenticateAtEdge(policy, options.verifier, request, decisionFacts(policy, resource, facts));
  const allowed = (d: EdgeAuthDecision): Forward | null =>
    d.kind === "allow" ? { forward: true, identity: identityRewrite(policy, d.identity, hasBearerCredential(request.headers)), claims: d.identity } : null;
  return decision instanceof Promise ? decision.then(allowed) : allowed(decision);
}

function decisionFacts(policy: EdgeAuthPolicy, resource: HostEntry["protectedResource"], facts: EdgeFacts): EdgeRequestFacts {
  return new DecisionFacts(facts.proto, facts.host, facts.path, policy.issuer, resource?.endpoint);
}

/** A class rather than an object literal with a getter, which is slow to make (this runs per request). */
class DecisionFacts implements EdgeRequestFacts {
  constructor(
    readonly proto: "http" | "https",
    readonly host: string,
    readonly path: string,
    readonly asIssuer: string,
    private readonly resourceEndpoint: string | undefined,
  ) {}

  /** Only a refusal names the metadata URL: allowed requests never build it. */
  get metadataUrl(): string | null {
    return this.resourceEndpoint === undefined ? null : metadataUrlFor(this.proto, this.host, this.resourceEndpoint);
  }
}

/**
 * GET of the metadata document, or a CORS preflight for it, on a protected
 * resource's host; null for anything else under the well-known name (the
 * backend's, or a request the policy decides). The preflight is answered here
 * even when the backend's own document may win: browser clients need it to
 * send `MCP-Protocol-Version`, and a backend's 404 to it would lock them out.
 */
function metadataRequest(
  options: EdgeAuthOptions,
  entry: HostEntry,
  resource: NonNullable<HostEntry["protectedResource"]>,
  request: Request,
  facts: EdgeFacts,
): EdgeOutcome | null {
  const preflight = isCorsPreflight(request);
  if (request.method !== "GET" && !preflight) return null;
  const paths = metadataPathFor(resource.endpoint);
  const ours = facts.path === paths.root || facts.path === paths.pathAware;
  // Another resource's path-aware form: the gateway owns this namespace only with resource_override_backend.
  const owned = ours || (resource.record.resource_override_backend && facts.path.startsWith(`${paths.root}/`));
  if (!owned) return null;
  if (preflight) return publicPreflightResponse();
  if (!ours) return Response.json(NO_SUCH_RESOURCE, { status: 404 });
  // With resource_override_backend off, a backend that publishes its own document keeps it.
  if (resource.record.resource_override_backend || !resource.record.resource_endpoint) return metadataResponse(options, entry, facts);
  return { forward: true, ifBackendLacks: () => metadataResponse(options, entry, facts) };
}

function act(options: EdgeAuthOptions, policy: EdgeAuthPolicy, request: Request, facts: EdgeFacts, decision: EdgeAuthDecision): EdgeOutcome | Promise<EdgeOutcome> {
  switch (decision.kind) {
    case "allow":
      return { forward: true, identity: identityRewrite(policy, decision.identity, hasBearerCredential(request.headers)), claims: decision.identity };
    case "deny":
      // Browser-based clients on another origin must be able to read the challenge.
      decision.response.headers.set("access-control-allow-origin", "*");
      decision.response.headers.set("access-control-expose-headers", "WWW-Authenticate");
      return decision.response;
    case "login":
      return options.signIn ? options.signIn.start(policy, facts, decision.returnTo) : decisionWithoutSignIn();
  }
}

/** Redirect mode without a sign-in service configured: nobody can log in, so say so plainly. */
function decisionWithoutSignIn(): Response {
  return Response.json({ error: "unauthorized", error_description: "sign-in is not available on this gateway" }, { status: 401 });
}

function metadataResponse(options: EdgeAuthOptions, entry: HostEntry, facts: EdgeFacts): Response {
  const resource = entry.protectedResource!;
  // The issuer clients of this host sign in with: the proxy's own when it overrides the defaults.
  const asIssuer = entry.auth?.issuer ?? effectiveIssuer(options.issuer, resource.record);
  const document = protectedResourceMetadata(resource.record, {
    resource: resourceUrlFor(facts.proto, facts.host, resource.endpoint),
    asIssuer,
    jwksUri: `${asIssuer}/jwks`,
  });
  return Response.json(document, {
    headers: { "cache-control": "public, max-age=300", "access-control-allow-origin": "*" },
  });
}
