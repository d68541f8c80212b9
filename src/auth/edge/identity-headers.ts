/**
 * What the backend learns of the caller. Backends trust the identity headers
 * completely (002 "Trust Model"), so whatever a client sends under the
 * identity prefix is removed first — always, with auth off, on excluded
 * paths, with a bad token — and only then are the verified values set.
 */
import type { AccessTokenClaims } from "../tokens/access-token";
import type { EdgeAuthPolicy } from "./policy";

const DEFAULT_PREFIX = "x-auth-";

/**
 * Strips client-sent identity headers, then (with `auth_pass_headers` and an
 * identity) sets `<prefix>User-Id` (sub), `User-Name` (login), `Email`,
 * `Scopes` and `Client-Id`; a claim the token lacks sets no header. Unless the
 * proxy forwards bearer tokens, the credential goes too: the Authorization
 * header when `bearerPresent` (it carried a Bearer credential — another
 * scheme, e.g. Basic for the backend itself, is left alone) and the auth
 * cookie from the Cookie header.
 */
export function applyIdentityHeaders(headers: Headers, policy: EdgeAuthPolicy, identity: AccessTokenClaims | null, bearerPresent: boolean): void {
  const names = policy.identityHeaderNames;
  stripPrefixed(headers, names.prefixLower);
  if (policy.passHeaders && identity !== null) {
    headers.set(names.userId, identity.sub);
    if (identity.login !== undefined) headers.set(names.userName, identity.login);
    if (identity.email !== undefined) headers.set(names.email, identity.email);
    headers.set(names.scopes, identity.scope);
    headers.set(names.clientId, identity.client_id);
  }
  if (!policy.forwardBearer) {
    if (bearerPresent) headers.delete("authorization");
    removeCookie(headers, policy.cookieName);
  }
}

/** For proxies without auth: a client must not be able to pose as an authenticated user to the backend. */
export function stripIdentityHeaders(headers: Headers, prefix: string): void {
  stripPrefixed(headers, (prefix || DEFAULT_PREFIX).toLowerCase());
}

/** True when the Authorization header carries a Bearer credential (the scheme compared case-insensitively). */
export function hasBearerCredential(headers: Headers): boolean {
  const value = headers.get("authorization");
  return value !== null && isBearer(value);
}

export function isBearer(authorization: string): boolean {
  return authorization.length >= 6 && (authorization.startsWith("Bearer") || authorization.slice(0, 6).toLowerCase() === "bearer") && (authorization.length === 6 || authorization.charCodeAt(6) === 32);
}

/** Header names are lower-case when iterated. */
function stripPrefixed(headers: Headers, prefixLower: string): void {
  let doomed: string[] | undefined;
  headers.forEach((_, name) => {
    if (name.startsWith(prefixLower) || name.startsWith(DEFAULT_PREFIX)) (doomed ??= []).push(name);
  });
  if (doomed) for (const name of doomed) headers.delete(name);
}

/** Removes one cookie by name, keeping the others in order. */
function removeCookie(headers: Headers, name: string): void {
  const cookie = headers.get("cookie");
  if (cookie === null || !cookie.includes(name)) return;
  const kept = cookie
    .split(";")
    .map((pair) => pair.trim())
    .filter((pair) => {
      const eq = pair.indexOf("=");
      return pair !== "" && (eq < 0 ? pair : pair.slice(0, eq)).trim() !== name;
    });
  if (kept.length === 0) headers.delete("cookie");
  else headers.set("cookie", kept.join("; "));
}
