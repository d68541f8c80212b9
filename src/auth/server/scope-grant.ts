/**
 * Which scopes an authorization request gets. Pure.
 *
 * A client's registered `scope` does not cap what it may ask for later: a
 * client registers with the scope of its first challenge, and when the
 * resource starts to need another scope (step-up, a 403
 * `insufficient_scope`), it signs in again asking for that one too. So a
 * scope is granted when the server offers it on this host and either the
 * client registered it or a resource the request names uses it (RFC 7591 §2
 * leaves the registered set to the server; the user still approves).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.3
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#scope-challenge-handling
 */
import { OAuthError } from "../oauth-error";
import { splitScope } from "../scopes/scope-syntax";

export interface ScopeRequest {
  /** The request's `scope` parameter; null when absent. */
  readonly requested: string | null;
  /** The scope the client registered (space-separated). */
  readonly registered: string;
  /** Every scope the server offers on this host. */
  readonly supported: readonly string[];
  /** The scopes the requested resources' proxies use: offered, required, or required by a route. */
  readonly usedByResources: readonly string[];
}

/** The granted scope string; invalid_scope naming the first scope that cannot be had. No scope asked = what the client registered. */
export function grantedScope(request: ScopeRequest): string {
  const supported = new Set(request.supported);
  const registered = splitScope(request.registered);
  if (request.requested === null) return registered.filter((s) => supported.has(s)).join(" ");
  const obtainable = new Set([...registered, ...request.usedByResources]);
  const asked = splitScope(request.requested);
  for (const scope of asked) {
    if (!supported.has(scope)) throw new OAuthError("invalid_scope", `scope ${JSON.stringify(scope.slice(0, 128))} is not supported`);
    if (!obtainable.has(scope)) {
      throw new OAuthError("invalid_scope", `scope ${JSON.stringify(scope)} is neither registered for this client nor used by the requested resources`);
    }
  }
  return asked.join(" ");
}
