/**
 * GET /callback: the identity provider sends the browser back here. The login
 * it belongs to is taken (single use), the user is identified upstream, the
 * allowlists are checked now rather than only at the edge, and the client gets
 * its authorization code with `state` and `iss` (RFC 9207), after the user's
 * consent when this client has not been approved yet (consent.ts).
 */
import { userAllowed, type UserIdentity } from "../identity";
import { OAuthError } from "../oauth-error";
import { UpstreamError } from "../upstream/upstream-login";
import { errorRedirectUrl, redirectWithError } from "./authorize";
import { afterSignIn } from "./consent";
import type { OAuthServerContext } from "./context";
import { accessDeniedPage, authorizationErrorPage } from "./pages";
import { param, readCookie } from "./request-facts";
import type { PendingLogin } from "./pending-logins";
import { bindingCookieName, bindingMatches, clearedBindingCookie } from "./login-binding";
import { FlowTrace, requestFacts } from "./flow-trace";

export async function callback(context: OAuthServerContext, request: Request): Promise<Response> {
  const query = new URL(request.url).searchParams;
  const state = param(query, "state");
  const login = state ? await context.pendingLogins.take(state) : null;
  const facts = requestFacts(request);
  if (!login) {
    // No stored login, so no flow to join: a flow of its own, found by the address.
    FlowTrace.start(context.events, facts).step("callback", "refused", { reason: "unknown, expired or already completed sign-in state" });
    return authorizationErrorPage(400, "invalid_request", "This sign-in has expired or was already completed. Return to the application and start again.");
  }
  const secure = login.callback_uri.startsWith("https:");
  const trace = FlowTrace.start(context.events, facts, { client_id: login.client_id, proxy: login.proxy_hostname, resource: login.resources.join(" ") || null }, login.flow_id);
  if (!bindingMatches(login.browser_binding_hash, readCookie(request, bindingCookieName(state!)))) {
    trace.step("callback", "refused", { reason: "callback from a browser that did not start the sign-in" });
    context.log.warn({ client_id: login.client_id }, "oauth callback from a browser that did not start the sign-in; refused");
    return authorizationErrorPage(400, "invalid_request", "This sign-in was started in another browser. Return to the application and start again here.");
  }
  trace.step("callback", "ok");
  const response = await finishLogin(context, login, query, trace);
  response.headers.append("set-cookie", clearedBindingCookie(state!, secure));
  return response;
}

async function finishLogin(context: OAuthServerContext, login: PendingLogin, query: URLSearchParams, trace: FlowTrace): Promise<Response> {
  const back = (error: OAuthError) => redirectWithError(login.redirect_uri, error, login.client_state, login.issuer);

  // The provider refused (the user clicked "cancel", or the app is suspended).
  const upstreamError = param(query, "error");
  if (upstreamError) {
    const denied = upstreamError === "access_denied";
    trace.step("upstream_identity", denied ? "refused" : "error", { reason: denied ? "the user declined at the identity provider" : `the identity provider answered ${upstreamError}` });
    return back(new OAuthError(denied ? "access_denied" : "server_error", denied ? "the user declined to sign in" : `the identity provider answered ${upstreamError}`));
  }
  const code = param(query, "code");
  if (!code) {
    trace.step("upstream_identity", "error", { reason: "the identity provider sent no code" });
    return back(new OAuthError("server_error", "the identity provider sent no code"));
  }

  let identity: UserIdentity;
  try {
    identity = await context.upstream.finish({
      code,
      redirectUri: login.callback_uri,
      proxyHostname: login.proxy_hostname,
      secrets: login.upstream_secrets,
      // RFC 9207: a provider that names itself in the callback is checked against it.
      iss: param(query, "iss"),
    });
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    trace.step("upstream_identity", "error", { reason: err.message });
    context.log.warn({ client_id: login.client_id, proxy: login.proxy_hostname, reason: err.message }, "oauth login failed upstream");
    return back(new OAuthError("server_error", `sign-in failed: ${err.message}`));
  }

  const signedIn = trace.with({ user: identity.username });
  signedIn.step("upstream_identity", "ok", { reason: `${identity.provider} user ${identity.username}` });
  const refusal = await allowlistRefusal(context, login, identity);
  if (refusal) {
    signedIn.step("allowlist", "refused", { reason: `user not in allowlist (${refusal})` });
    context.log.info({ user: identity.username, client_id: login.client_id, proxy: login.proxy_hostname, allowlist: refusal }, "oauth login denied by allowlist");
    const returnUrl = errorRedirectUrl(login.redirect_uri, new OAuthError("access_denied", `user ${identity.username} is not allowed`), login.client_state, login.issuer);
    return accessDeniedPage(identity.username, identity.provider, returnUrl);
  }

  signedIn.step("allowlist", "ok");
  return afterSignIn(context, login, identity, login.callback_uri.startsWith("https:"), signedIn);
}

/**
 * The login's proxy decides who may sign in (its auth_required_users, else
 * OAUTH_ALLOWED_GITHUB_USERS); so does every proxy the token would be good
 * for, so a permissive proxy cannot mint tokens for a strict one.
 * Returns which allowlist refused, or null.
 */
async function allowlistRefusal(context: OAuthServerContext, login: PendingLogin, identity: UserIdentity): Promise<string | null> {
  const hosts = new Set<string>();
  if (login.proxy_hostname) hosts.add(login.proxy_hostname);
  for (const resource of login.resources) hosts.add(new URL(resource).hostname);
  if (hosts.size === 0) return userAllowed(context.settings.allowedUsers, identity.username) ? null : "OAUTH_ALLOWED_GITHUB_USERS";
  for (const host of hosts) {
    const proxy = context.settings.authHostnames.includes(host) ? null : await context.proxy(host);
    const list = proxy?.auth_required_users?.length ? proxy.auth_required_users : context.settings.allowedUsers;
    if (!userAllowed(list, identity.username)) return proxy?.auth_required_users?.length ? `${host} auth_required_users` : "OAUTH_ALLOWED_GITHUB_USERS";
  }
  return null;
}
