/**
 * The consent step, between the upstream sign-in and the code: the first
 * time a user signs in to a client (or when it asks for more than the user
 * approved), the user sees who is asking and where the answer goes, and
 * approves or denies. The MCP authorization spec requires this for clients
 * identified by a metadata document URL, whose name anyone can publish.
 *
 * The page's form posts to /callback (the one path every sign-in host already
 * sends here). The answer is bound to the browser that was shown the page
 * (a SameSite=Strict cookie whose hash is kept with the sign-in) and taken
 * once; it only ever redirects to the redirect URI /authorize verified.
 */
import type { UserIdentity } from "../identity";
import { OAuthError } from "../oauth-error";
import { EDGE_CLIENT_ID } from "../edge/edge-client";
import { looksLikeDocumentClientId } from "../clients/metadata-document-parse";
import { redirect, redirectWithError } from "./authorize";
import type { OAuthServerContext } from "./context";
import { clearedConsentCookie, consentCookie, consentCookieName, bindingMatches, newBinding } from "./login-binding";
import { authorizationErrorPage, consentPage } from "./pages";
import type { ApprovedLogin } from "./pending-consents";
import { readCookie, readForm, requestOrigin } from "./request-facts";
import { FlowTrace, requestFacts } from "./flow-trace";

/** After the allowlists admitted the user: the code, or first the consent page. */
export async function afterSignIn(context: OAuthServerContext, login: ApprovedLogin, identity: UserIdentity, secure: boolean, trace: FlowTrace): Promise<Response> {
  // The gateway's own sign-in (redirect mode) is first-party: nothing to ask.
  const request = { sub: identity.sub, clientId: login.client_id, scope: login.scope, resources: login.resources };
  if (login.client_id === EDGE_CLIENT_ID) {
    trace.step("consent", "ok", { reason: "first-party client: no consent asked" });
    return issueCode(context, login, identity, trace);
  }
  if (await context.consents.covers(request)) {
    trace.step("consent", "ok", { reason: "approved earlier" });
    return issueCode(context, login, identity, trace);
  }

  const client = await context.clientResolver.get(login.client_id).catch(() => null);
  if (!client) trace.step("consent", "refused", { reason: "the client is no longer registered" });
  if (!client) return redirectWithError(login.redirect_uri, new OAuthError("unauthorized_client", "the client is no longer registered"), login.client_state, login.issuer);
  const binding = newBinding();
  const id = await context.pendingConsents.save({ login, identity, browser_binding_hash: binding.hash, created_at: Math.floor(Date.now() / 1000) });
  const page = consentPage({
    consentId: id,
    clientName: client.client_name,
    // A document client's name is vouched for by the host that publishes its client_id; a registered one named itself.
    publishedBy: looksLikeDocumentClientId(client.client_id) ? new URL(client.client_id).host : null,
    redirectTo: describeRedirect(login.redirect_uri),
    username: identity.username,
    provider: identity.provider,
    scopes: login.scope.split(" ").filter(Boolean),
    resources: login.resources,
  });
  page.headers.append("set-cookie", consentCookie(id, binding.secret, context.settings.sessionTimeoutSeconds, secure));
  trace.step("consent", "ok", { reason: "consent page shown" });
  return page;
}

/** POST /callback: the user's answer on the consent page. */
export async function answerConsent(context: OAuthServerContext, request: Request): Promise<Response> {
  const origin = requestOrigin(request);
  const sentFrom = request.headers.get("origin");
  // Browsers name the page a form was posted from; another site's form is refused before anything is consumed.
  if (sentFrom !== null && sentFrom !== origin) return authorizationErrorPage(403, "access_denied", "This answer was not sent from the sign-in page. Return to the application and start again.");
  let form: URLSearchParams;
  try {
    form = await readForm(request);
  } catch (err) {
    if (err instanceof OAuthError) return authorizationErrorPage(400, err.code, err.description);
    throw err;
  }
  const id = form.get("consent") ?? "";
  const pending = await context.pendingConsents.take(id);
  if (!pending) return authorizationErrorPage(400, "invalid_request", "This sign-in has expired or was already answered. Return to the application and start again.");
  const secure = origin.startsWith("https:");
  const respond = (response: Response) => {
    response.headers.append("set-cookie", clearedConsentCookie(id, secure));
    return response;
  };
  const { login, identity } = pending;
  const trace = FlowTrace.start(context.events, requestFacts(request), { client_id: login.client_id, user: identity.username, proxy: login.proxy_hostname }, login.flow_id);
  if (!bindingMatches(pending.browser_binding_hash, readCookie(request, consentCookieName(id)))) {
    trace.step("consent", "refused", { reason: "consent answered from a browser that was not shown the page" });
    context.log.warn({ client_id: login.client_id }, "oauth consent answered from a browser that was not shown the page; refused");
    return respond(authorizationErrorPage(400, "invalid_request", "This sign-in was started in another browser. Return to the application and start again here."));
  }
  if (form.get("decision") !== "approve") {
    trace.step("consent", "refused", { reason: "the user did not approve the request" });
    context.log.info({ user: identity.username, client_id: login.client_id }, "oauth consent denied");
    return respond(redirectWithError(login.redirect_uri, new OAuthError("access_denied", "the user did not approve the request"), login.client_state, login.issuer));
  }
  await context.consents.remember({ sub: identity.sub, clientId: login.client_id, scope: login.scope, resources: login.resources });
  trace.step("consent", "ok", { reason: "approved by the user" });
  return respond(await issueCode(context, login, identity, trace));
}

/** The authorization code, sent to the verified redirect URI with `state` and `iss` (RFC 9207). */
async function issueCode(context: OAuthServerContext, login: ApprovedLogin, identity: UserIdentity, trace: FlowTrace): Promise<Response> {
  const authorizationCode = await context.codes.issue({
    client_id: login.client_id,
    redirect_uri: login.redirect_uri,
    code_challenge: login.code_challenge,
    scope: login.scope,
    resources: login.resources,
    identity,
    proxy_hostname: login.proxy_hostname,
    auth_time: Math.floor(Date.now() / 1000),
    flow_id: trace.flowId,
  });
  trace.step("code_issued", "ok");
  context.log.info({ user: identity.username, client_id: login.client_id, proxy: login.proxy_hostname }, "oauth login succeeded");
  const url = new URL(login.redirect_uri);
  url.searchParams.set("code", authorizationCode);
  if (login.client_state !== null) url.searchParams.set("state", login.client_state);
  url.searchParams.set("iss", login.issuer);
  return redirect(url.toString());
}

/** Where the answer goes, as a person can judge it: a host, this computer, or an app's URL scheme. */
export function describeRedirect(redirectUri: string): string {
  const url = new URL(redirectUri);
  if (url.protocol !== "https:" && url.protocol !== "http:") return `the application that opens ${url.protocol} links`;
  if (url.hostname === "127.0.0.1" || url.hostname === "[::1]" || url.hostname === "localhost") return `an application on this computer (${url.hostname})`;
  return url.host;
}
