/**
 * GET /authorize: checks the client's request (OAuth 2.1 §4.1.1 with PKCE S256
 * required, RFC 8707 resources), remembers it, and sends the browser to the
 * identity provider. Errors about the client or its redirect URI are shown
 * here, never redirected (an attacker could otherwise bounce users anywhere);
 * every other error goes back to the verified redirect URI.
 */
import { isHostname } from "../../core/config";
import { isValidCodeChallenge } from "../tokens/pkce";
import { redirectUriMatches } from "../clients/registration";
import { EDGE_CLIENT_ID, isEdgeCallback } from "../edge/edge-client";
import type { ClientRecord } from "../clients/client-record";
import { OAuthError } from "../oauth-error";
import { checkRequestedResources } from "../resources";
import { UpstreamError } from "../upstream/upstream-login";
import { proxyForHost, type OAuthServerContext } from "./context";
import { grantedScope } from "./scope-grant";
import { effectiveIssuer, supportedScopes } from "./metadata";
import { authorizationErrorPage } from "./pages";
import { bindingCookie, newBinding } from "./login-binding";
import { edgeFlowId, FlowTrace, requestFacts } from "./flow-trace";
import { looksLikeDocumentClientId } from "../clients/metadata-document-parse";
import { PendingLogins } from "./pending-logins";
import { param, rejectRepeated, requestHost, requestOrigin } from "./request-facts";


export async function authorize(context: OAuthServerContext, request: Request): Promise<Response> {
  const query = new URL(request.url).searchParams;
  // The sign-in's flow id: it travels in the stored login, the code and the grant (flow-trace.ts).
  const edgeState = param(query, "client_id") === EDGE_CLIENT_ID ? param(query, "state") : null;
  let trace = FlowTrace.start(context.events, requestFacts(request), { client_id: param(query, "client_id"), proxy: param(query, "proxy_hostname") }, edgeState && edgeFlowId(edgeState));
  const refuse = (status: number, code: string, text: string, step: "authorize" | "client_metadata_document" = "authorize") => {
    trace.step(step, "refused", { reason: text });
    return authorizationErrorPage(status, code, text);
  };
  try {
    rejectRepeated(query, ["resource"]);
  } catch (err) {
    return refuse(400, "invalid_request", (err as OAuthError).description);
  }

  // 1. Who is asking, and where may we send the answer? Failures here stay on our page.
  const clientId = param(query, "client_id");
  if (!clientId) return refuse(400, "invalid_request", "The request names no client (client_id is missing).");
  let client: ClientRecord | null;
  const documentClient = looksLikeDocumentClientId(clientId);
  try {
    client = await context.clientResolver.get(clientId);
  } catch (err) {
    if (err instanceof OAuthError) return refuse(400, err.code, err.description, documentClient ? "client_metadata_document" : "authorize");
    throw err;
  }
  if (!client) return refuse(400, "invalid_client", "The application asking you to sign in is not registered here (unknown client_id).", documentClient ? "client_metadata_document" : "authorize");
  if (documentClient) trace.step("client_metadata_document", "ok", { reason: "client metadata document fetched or cached" });
  const redirectUri = param(query, "redirect_uri") ?? soleRedirectUri(client);
  if (!redirectUri) return refuse(400, "invalid_request", "The request has no redirect_uri and the client registered several.");
  const allowed = client.client_id === EDGE_CLIENT_ID ? isEdgeCallback(redirectUri, context.servesHost) : redirectUriMatches(client.redirect_uris, redirectUri);
  if (!allowed) {
    return refuse(400, "invalid_request", "redirect_uri mismatch: the redirect_uri does not match any address the client registered.");
  }

  const host = requestHost(request);
  const proxyHostname = param(query, "proxy_hostname")?.toLowerCase() ?? (context.settings.authHostnames.includes(host) ? null : host);
  const clientState = param(query, "state");
  const proxy = proxyHostname && isHostname(proxyHostname) ? await proxyForHost(context, proxyHostname) : null;
  const issuer = effectiveIssuer(context.settings.issuer, proxy);
  const fail = (error: OAuthError) => redirectWithError(redirectUri, error, clientState, issuer);
  trace = trace.with({ proxy: proxyHostname, resource: query.getAll("resource").join(" ") || null });

  // 2. Everything else is reported to the client.
  try {
    if (proxyHostname && !isHostname(proxyHostname)) throw new OAuthError("invalid_request", "proxy_hostname is not a hostname");
    const responseType = param(query, "response_type");
    if (responseType !== "code") throw new OAuthError("unsupported_response_type", "only response_type=code is supported");
    if (!client.response_types.includes("code") || !client.grant_types.includes("authorization_code")) {
      throw new OAuthError("unauthorized_client", "this client is not registered for the authorization code flow");
    }
    const challenge = param(query, "code_challenge");
    const method = param(query, "code_challenge_method");
    if (!challenge) throw new OAuthError("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256");
    if (method !== "S256") throw new OAuthError("invalid_request", "code_challenge_method must be S256 (plain is not accepted)");
    if (!isValidCodeChallenge(challenge)) throw new OAuthError("invalid_request", "code_challenge must be 43 base64url characters (SHA-256 of the verifier)");
    const resources = await checkRequestedResources(query.getAll("resource"), context.resources);
    const scope = grantedScope({
      requested: param(query, "scope"),
      registered: client.scope,
      supported: supportedScopes(proxy, context.supportedScopes),
      usedByResources: scopesUsedBy(context, resources, proxyHostname),
    });

    const origin = requestOrigin(request);
    const callbackUri = `${origin}/callback`;
    const login = {
      client_id: client.client_id,
      redirect_uri: redirectUri,
      client_state: clientState,
      code_challenge: challenge,
      scope,
      resources,
      proxy_hostname: proxyHostname,
      issuer,
      callback_uri: callbackUri,
      upstream_secrets: {},
      browser_binding_hash: "",
      created_at: Math.floor(Date.now() / 1000),
    };
    // The provider's per-login secrets (PKCE verifier, nonce) are made first, so one write holds everything.
    const state = PendingLogins.newState();
    const started = await context.upstream.start({ state, redirectUri: callbackUri, proxyHostname });
    const binding = newBinding();
    await context.pendingLogins.save(state, { ...login, upstream_secrets: started.secrets, browser_binding_hash: binding.hash, flow_id: trace.flowId });
    trace.step("authorize", "ok", { reason: `scope "${scope}"` });
    // The identity provider's host only: its URL carries our state.
    trace.step("upstream_redirect", "ok", { reason: `to ${new URL(started.url).host}` });
    const response = redirect(started.url);
    const cookie = bindingCookie(state, binding.secret, context.settings.sessionTimeoutSeconds, origin.startsWith("https:"));
    response.headers.append("set-cookie", cookie);
    return response;
  } catch (err) {
    if (err instanceof OAuthError) {
      trace.step("authorize", "refused", { reason: err.description });
      return fail(err);
    }
    if (err instanceof UpstreamError) {
      trace.step("upstream_redirect", "error", { reason: err.message });
      context.log.warn({ client_id: client.client_id, reason: err.message }, "oauth login could not start");
      return fail(new OAuthError("temporarily_unavailable", `sign-in is unavailable: ${err.message}`));
    }
    throw err;
  }
}

/** Without a redirect_uri parameter, the client's one registered URI (OAuth 2.1 §4.1.1). */
function soleRedirectUri(client: ClientRecord): string | null {
  return client.redirect_uris.length === 1 ? client.redirect_uris[0]! : null;
}

/** The scopes the proxies behind the requested resources (and the sign-in's own proxy) use, from this node's live configuration. */
function scopesUsedBy(context: OAuthServerContext, resources: readonly string[], proxyHostname: string | null): string[] {
  const hosts = new Set(resources.map((resource) => new URL(resource).hostname));
  if (proxyHostname) hosts.add(proxyHostname);
  return [...hosts].flatMap((host) => context.scopesForHost(host));
}

export function redirect(location: string): Response {
  return new Response(null, { status: 302, headers: { location, "cache-control": "no-store" } });
}

/** An error sent back to the client's verified redirect URI, with `state` and `iss` (RFC 9207). */
export function redirectWithError(redirectUri: string, error: OAuthError, state: string | null, issuer: string): Response {
  return redirect(errorRedirectUrl(redirectUri, error, state, issuer));
}

export function errorRedirectUrl(redirectUri: string, error: OAuthError, state: string | null, issuer: string): string {
  const url = new URL(redirectUri);
  url.searchParams.set("error", error.code);
  url.searchParams.set("error_description", error.description);
  if (state !== null) url.searchParams.set("state", state);
  url.searchParams.set("iss", issuer);
  return url.toString();
}
