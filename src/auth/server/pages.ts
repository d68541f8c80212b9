/**
 * The few pages a person sees from the authorization server: errors that
 * cannot go back to the client (unknown client, redirect URI mismatch, an
 * expired login), the denial page for users an allowlist does not admit, and
 * the consent page.
 */
import { escapeHtml } from "../../core/html";

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}code{background:#f3f3f3;padding:0 .2em}a.button,button{display:inline-block;margin:1rem .5rem 0 0;padding:.5rem 1rem;border:1px solid #888;border-radius:4px;text-decoration:none;color:#222;background:#fff;font:inherit;cursor:pointer}
button.primary{background:#1f6feb;border-color:#1f6feb;color:#fff}.note{color:#555;font-size:.9rem}`;

function page(status: number, title: string, body: string): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      "x-frame-options": "DENY",
    },
  });
}

/** An authorization request the server cannot answer by redirecting (RFC 6749 §4.1.2.1). */
export function authorizationErrorPage(status: number, error: string, description: string): Response {
  return page(status, "This sign-in request cannot continue", `<p>${escapeHtml(description)}</p><p>Error: <code>${escapeHtml(error)}</code></p><p>Return to the application and start signing in again.</p>`);
}

/** The user logged in upstream, but the allowlist does not admit them. */
export function accessDeniedPage(username: string, provider: string, returnUrl: string): Response {
  return page(
    403,
    "Access denied",
    `<p>You signed in as <strong>${escapeHtml(username)}</strong> (${escapeHtml(provider)}), but this account is not allowed to use this service.</p>` +
      `<p>Ask the operator to add <code>${escapeHtml(username)}</code> to the allowed users, or sign in with another account.</p>` +
      `<a class="button" id="return" href="${escapeHtml(returnUrl)}">Return to the application</a>`,
  );
}

export interface ConsentView {
  /** Goes back in the form; the browser's cookie proves it was shown this page. */
  readonly consentId: string;
  readonly clientName: string | null;
  /** For a client identified by a metadata document URL: that URL's host. */
  readonly publishedBy: string | null;
  /** Where the browser goes after the answer (consent.ts describeRedirect). */
  readonly redirectTo: string;
  readonly username: string;
  readonly provider: string;
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
}

/** Asks the signed-in user whether this client may act for them; the answer is posted to /callback. */
export function consentPage(view: ConsentView): Response {
  const name = view.clientName ?? "An application that gave no name";
  const list = (items: readonly string[]) => `<ul>${items.map((item) => `<li><code>${escapeHtml(item)}</code></li>`).join("")}</ul>`;
  const origin = view.publishedBy
    ? `<p>This application is identified by a document published at <strong>${escapeHtml(view.publishedBy)}</strong>.</p>`
    : `<p class="note">The application chose this name itself when it registered; it is not verified. Approve only if you just started signing in to it.</p>`;
  return page(
    200,
    `Allow ${name} to act for you?`,
    `<p>You are signed in as <strong>${escapeHtml(view.username)}</strong> (${escapeHtml(view.provider)}).</p>` +
      origin +
      (view.resources.length > 0 ? `<p>It asks to use these services in your name:</p>${list(view.resources)}` : "") +
      (view.scopes.length > 0 ? `<p>With these permissions:</p>${list(view.scopes)}` : "") +
      `<p>Your answer is sent to <strong id="redirect-to">${escapeHtml(view.redirectTo)}</strong>.</p>` +
      `<form method="post" action="/callback"><input type="hidden" name="consent" value="${escapeHtml(view.consentId)}">` +
      `<button type="submit" class="primary" name="decision" value="approve" id="approve">Approve</button>` +
      `<button type="submit" name="decision" value="deny" id="deny">Deny</button></form>`,
  );
}

/** After POST /_portcullis/logout on a proxy host: the session cookie is gone, the sign-in ended. */
export function signedOutPage(signInAgainUrl: string): Response {
  return page(
    200,
    "You are signed out",
    `<p>Your session on this site has ended, and the sign-in behind it was revoked.</p>` +
      `<a class="button" id="sign-in" href="${escapeHtml(signInAgainUrl)}">Sign in again</a>`,
  );
}
