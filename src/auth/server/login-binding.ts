/**
 * Binds a sign-in to the browser that started it. Without this, anyone could
 * start a sign-in for a client of their own, send the identity provider's
 * link to a victim already signed in there, and receive a code for the
 * victim's account at their redirect URI. /authorize sets a cookie holding a
 * random secret (only its hash is stored with the login); /callback accepts
 * the login only from a browser that presents it.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** One cookie per sign-in, so two tabs signing in at once do not clobber each other. */
export function bindingCookieName(state: string): string {
  return `portcullis_login_${state.slice(0, 16)}`;
}

export function newBinding(): { secret: string; hash: string } {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  return { secret, hash: hashBinding(secret) };
}

export function hashBinding(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function bindingMatches(expectedHash: string, presented: string | null): boolean {
  if (!presented) return false;
  const a = Buffer.from(hashBinding(presented), "hex");
  const b = Buffer.from(expectedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** HttpOnly, only sent to /callback, Lax so the identity provider's redirect back carries it. */
export function bindingCookie(state: string, secret: string, maxAgeSeconds: number, secure: boolean): string {
  return `${bindingCookieName(state)}=${secret}; Path=/callback; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

/** Expires the cookie once the sign-in is over, whatever its outcome. */
export function clearedBindingCookie(state: string, secure: boolean): string {
  return `${bindingCookieName(state)}=; Path=/callback; Max-Age=0; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

/**
 * The consent page's binding: set with the page, sent back only with the
 * form posted to /callback from this site (SameSite=Strict), so another site
 * cannot make the browser approve, and no other browser can answer.
 */
export function consentCookieName(id: string): string {
  return `portcullis_consent_${id.slice(0, 16)}`;
}

export function consentCookie(id: string, secret: string, maxAgeSeconds: number, secure: boolean): string {
  return `${consentCookieName(id)}=${secret}; Path=/callback; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
}

export function clearedConsentCookie(id: string, secure: boolean): string {
  return `${consentCookieName(id)}=; Path=/callback; Max-Age=0; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
}
