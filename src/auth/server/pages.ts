/**
 * The few pages a person sees from the authorization server: errors that
 * cannot go back to the client (unknown client, redirect URI mismatch, an
 * expired login) and the denial page for users an allowlist does not admit.
 */
import { escapeHtml } from "../../core/html";

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}code{background:#f3f3f3;padding:0 .2em}a.button{display:inline-block;margin-top:1rem;padding:.5rem 1rem;border:1px solid #888;border-radius:4px;text-decoration:none;color:#222}`;

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
