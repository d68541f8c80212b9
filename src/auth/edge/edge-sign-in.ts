/**
 * Redirect mode: a browser without a valid token is sent to sign in at the
 * proxy's authorization server, comes back to `/_portcullis/callback` on the
 * proxy host, and leaves with the access token in the proxy's session cookie
 * (`auth_cookie_name`: HttpOnly, SameSite=Lax, Secure over HTTPS, host-only).
 *
 * The gateway signs in as its own public client (`portcullis-edge`, PKCE
 * S256). The PKCE verifier and the page to return to travel in a short-lived
 * HttpOnly cookie bound to the sign-in's state, so only the browser that
 * started a sign-in can finish it, and it only ever returns to its own host.
 * The code is exchanged in-process, by a request to the OAuth app that never
 * leaves the gateway.
 */
import { createHash, randomBytes } from "node:crypto";
import type { EdgeFacts, EdgeSignIn } from "../../dispatcher/edge-auth";
import { readCookie } from "../server/request-facts";
import { DISCARD_EVENTS, type OAuthEventSink } from "../../consumers/oauth-events/event";
import { edgeFlowId, FlowTrace } from "../server/flow-trace";
import { authorizationErrorPage } from "../server/pages";
import { EDGE_CALLBACK_PATH, EDGE_CLIENT_ID } from "./edge-client";
import { EDGE_SIGN_OUT_PATH, signOut } from "./edge-sign-out";
import type { EdgeAuthPolicy } from "./policy";
import { originFor, resourceUrlFor } from "./request-origin";

export interface EdgeSignInOptions {
  /** The OAuth app, called in-process for the code exchange. */
  readonly oauthApp: { fetch(request: Request): Response | Promise<Response> };
  /** Where sign-ins go when a proxy names no auth_proxy: auth.{BASE_DOMAIN}. */
  readonly defaultAuthHost: string;
  /** OAUTH_SESSION_TIMEOUT: how long the sign-in cookie lives. */
  readonly sessionTimeoutSeconds: number;
  /** The OAuth flow trace: the edge's start and finish join the sign-in's flow (edgeFlowId). */
  readonly events?: OAuthEventSink;
}

const STATE_COOKIE_PREFIX = "portcullis_edge_";

export function createEdgeSignIn(options: EdgeSignInOptions): EdgeSignIn {
  return {
    callbackPath: EDGE_CALLBACK_PATH,
    start: (policy, facts, returnTo) => start(options, policy, facts, returnTo),
    finish: (policy, facts, request) => finish(options, policy, facts, request),
    // Sign-out (edge-sign-out.ts) ends what sign-in started.
    signOutPath: EDGE_SIGN_OUT_PATH,
    signOut: (policy, facts, request) => signOut(options, policy, facts, request),
  };
}

function start(options: EdgeSignInOptions, policy: EdgeAuthPolicy, facts: EdgeFacts, returnTo: string): Response {
  const origin = originFor(facts.proto, facts.host);
  const verifier = randomBytes(32).toString("base64url");
  const state = randomBytes(32).toString("base64url");
  const authorize = new URL(`${authOrigin(options, policy, facts)}/authorize`);
  const query = authorize.searchParams;
  query.set("response_type", "code");
  query.set("client_id", EDGE_CLIENT_ID);
  query.set("redirect_uri", origin + EDGE_CALLBACK_PATH);
  query.set("code_challenge", createHash("sha256").update(verifier).digest("base64url"));
  query.set("code_challenge_method", "S256");
  query.set("state", state);
  query.set("resource", resourceUrlFor(facts.proto, facts.host, policy.resourceEndpoint));
  query.set("proxy_hostname", policy.hostname);
  if (policy.requiredScopes.length > 0) query.set("scope", policy.requiredScopes.join(" "));
  const value = `${verifier}.${Buffer.from(returnTo).toString("base64url")}`;
  edgeTrace(options, policy, state).step("edge_sign_in", "ok", { reason: `sent to sign in at ${authHost(options, policy)}` });
  return new Response(null, {
    status: 302,
    headers: {
      location: authorize.toString(),
      "cache-control": "no-store",
      "set-cookie": cookie(stateCookieName(state), value, facts, options.sessionTimeoutSeconds, EDGE_CALLBACK_PATH),
    },
  });
}

async function finish(options: EdgeSignInOptions, policy: EdgeAuthPolicy, facts: EdgeFacts, request: Request): Promise<Response> {
  const query = new URL(request.url).searchParams;
  const state = query.get("state") ?? "";
  const saved = /^[A-Za-z0-9_-]{43}$/.test(state) ? readCookie(request, stateCookieName(state)) : null;
  const [verifier, encodedReturn] = saved?.split(".") ?? [];
  const trace = edgeTrace(options, policy, state);
  if (!verifier || !encodedReturn) {
    trace.step("edge_sign_in", "refused", { reason: "callback without the sign-in cookie: not started in this browser, or expired" });
    return authorizationErrorPage(400, "invalid_request", "This sign-in was not started in this browser, or it has expired. Open the page again.");
  }
  const clearState = cookie(stateCookieName(state), "", facts, 0, EDGE_CALLBACK_PATH);

  const error = query.get("error");
  if (error) {
    trace.step("edge_sign_in", "refused", { reason: `the authorization server answered ${error}` });
    const page = authorizationErrorPage(error === "access_denied" ? 403 : 400, error, query.get("error_description") ?? "Sign-in did not complete.");
    page.headers.append("set-cookie", clearState);
    return page;
  }
  // RFC 9207: the answer must come from the authorization server this proxy signs in with.
  if (query.get("iss") !== policy.issuer) {
    trace.step("edge_sign_in", "refused", { reason: "the answer came from an unexpected issuer" });
    return authorizationErrorPage(400, "invalid_request", "The sign-in answer came from an unexpected authorization server.");
  }

  const origin = originFor(facts.proto, facts.host);
  const exchange = await options.oauthApp.fetch(
    new Request(`${authOrigin(options, policy, facts)}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        host: authHost(options, policy),
        "x-forwarded-proto": facts.proto,
      },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: EDGE_CLIENT_ID,
        code: query.get("code") ?? "",
        code_verifier: verifier,
        redirect_uri: origin + EDGE_CALLBACK_PATH,
      }),
    }),
  );
  const tokens = (await exchange.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error_description?: string };
  if (!exchange.ok || !tokens.access_token) {
    trace.step("edge_sign_in", "refused", { reason: `code exchange failed: ${tokens.error_description ?? exchange.status}` });
    return authorizationErrorPage(400, "invalid_grant", tokens.error_description ?? "The sign-in could not be completed. Open the page again.");
  }

  // Only ever back to a page of this host: the return URL came from our own cookie, but check anyway.
  const returnTo = Buffer.from(encodedReturn, "base64url").toString();
  const target = returnTo.startsWith(origin + "/") ? returnTo : origin + "/";
  const response = new Response(null, { status: 302, headers: { location: target, "cache-control": "no-store" } });
  response.headers.append("set-cookie", cookie(policy.cookieName, tokens.access_token, facts, tokens.expires_in ?? 1800, "/"));
  response.headers.append("set-cookie", clearState);
  trace.step("edge_sign_in", "ok", { reason: "session cookie set" });
  return response;
}

function edgeTrace(options: EdgeSignInOptions, policy: EdgeAuthPolicy, state: string): FlowTrace {
  const flowId = /^[A-Za-z0-9_-]{43}$/.test(state) ? edgeFlowId(state) : null;
  return FlowTrace.start(options.events ?? DISCARD_EVENTS, { ip: null, request_id: null }, { client_id: EDGE_CLIENT_ID, proxy: policy.hostname }, flowId);
}

function stateCookieName(state: string): string {
  return STATE_COOKIE_PREFIX + state.slice(0, 16);
}

function authHost(options: EdgeSignInOptions, policy: EdgeAuthPolicy): string {
  return policy.authProxy ?? options.defaultAuthHost;
}

/** The authorization server as this client reaches it: same scheme, and the same port as the proxy host. */
function authOrigin(options: EdgeSignInOptions, policy: EdgeAuthPolicy, facts: EdgeFacts): string {
  const port = /:(\d+)$/.exec(facts.host)?.[1];
  return originFor(facts.proto, port ? `${authHost(options, policy)}:${port}` : authHost(options, policy));
}

/** Host-only (no Domain), HttpOnly, SameSite=Lax, Secure over HTTPS. */
function cookie(name: string, value: string, facts: EdgeFacts, maxAgeSeconds: number, path: string): string {
  return `${name}=${value}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${facts.proto === "https" ? "; Secure" : ""}`;
}
