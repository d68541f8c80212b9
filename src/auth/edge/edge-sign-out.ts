/**
 * Redirect mode's sign-out: `POST /_portcullis/logout` on a proxy host ends
 * the edge session. The session cookie is expired, and the sign-in behind the
 * token it held is revoked at the authorization server (POST /logout, called
 * in-process), so the token stops working everywhere, not only in this
 * browser. A form on another site cannot sign the user out: the browser names
 * the page it posts from, and only this host's own pages are accepted.
 */
import type { EdgeFacts } from "../../dispatcher/edge-auth";
import { authorizationErrorPage, signedOutPage } from "../server/pages";
import { readCookie } from "../server/request-facts";
import type { EdgeAuthPolicy } from "./policy";
import { originFor } from "./request-origin";

export const EDGE_SIGN_OUT_PATH = "/_portcullis/logout";

export interface EdgeSignOutOptions {
  /** The OAuth app, called in-process to revoke the sign-in. */
  readonly oauthApp: { fetch(request: Request): Response | Promise<Response> };
  /** Where sign-ins go when a proxy names no auth_proxy: auth.{BASE_DOMAIN}. */
  readonly defaultAuthHost: string;
}

/** A JWT as a cookie value: anything else is not ours and is not sent on. */
const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export async function signOut(options: EdgeSignOutOptions, policy: EdgeAuthPolicy, facts: EdgeFacts, request: Request): Promise<Response> {
  const origin = originFor(facts.proto, facts.host);
  const sentFrom = request.headers.get("origin");
  if (sentFrom !== null && sentFrom !== origin) return authorizationErrorPage(403, "access_denied", "Sign-out is only accepted from this site's own pages.");
  const token = readCookie(request, policy.cookieName);
  if (token && TOKEN.test(token)) {
    const authHost = policy.authProxy ?? options.defaultAuthHost;
    await options.oauthApp.fetch(
      new Request(`${facts.proto}://${authHost}/logout`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, host: authHost, "x-forwarded-proto": facts.proto },
      }),
    );
  }
  const page = signedOutPage(`${origin}/`);
  page.headers.append("set-cookie", `${policy.cookieName}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${facts.proto === "https" ? "; Secure" : ""}`);
  return page;
}
