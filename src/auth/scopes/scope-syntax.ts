/**
 * What a scope is (RFC 6749 §3.3) and how many of them the gateway keeps.
 * Operators name their own scopes per proxy, route and resource; these bounds
 * keep one proxy from bloating every client's metadata and registration.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.3
 */

import { MCP_SCOPES } from "../../core/oauth-config";

/** The scopes every gateway offers, whatever is configured: the MCP ones. */
export const DEFAULT_SCOPES: readonly string[] = MCP_SCOPES;

/** Longest scope token accepted in configuration. */
export const MAX_SCOPE_LENGTH = 128;
/** Most scopes in one configured list (a proxy's resource_scopes, a route's required_scopes, …). */
export const MAX_SCOPES_PER_LIST = 50;
/** Most scopes the authorization server advertises and grants, defaults included. */
export const MAX_SUPPORTED_SCOPES = 1000;

/** What API descriptions say a configured scope is. */
export const SCOPE_TOKENS = `RFC 6749 scope tokens (1-${MAX_SCOPE_LENGTH} printable ASCII characters, no space, " or \\), at most ${MAX_SCOPES_PER_LIST}`;

/** scope-token = 1*( %x21 / %x23-5B / %x5D-7E ): printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Why `value` is not a scope token we accept, or null when it is one. */
export function scopeTokenProblem(value: string): string | null {
  if (value.length === 0) return "is empty";
  if (value.length > MAX_SCOPE_LENGTH) return `is longer than ${MAX_SCOPE_LENGTH} characters`;
  if (!SCOPE_TOKEN.test(value)) return 'contains a character a scope cannot (RFC 6749: printable ASCII except space, " and \\)';
  return null;
}

/** The scope tokens of a space-separated `scope` parameter, each once, in order. */
export function splitScope(scope: string): string[] {
  return [...new Set(scope.split(" ").filter(Boolean))];
}

/**
 * What a client that names no scope registers (RFC 7591 §2 lets the server
 * choose): the default scopes this server offers. A resource's own scopes it
 * can still ask for when that resource needs them (server/scope-grant.ts).
 */
export function registrationScopeOptions(supportedScopes: readonly string[]): { supportedScopes: readonly string[]; defaultScopes: readonly string[] } {
  return { supportedScopes, defaultScopes: DEFAULT_SCOPES.filter((s) => supportedScopes.includes(s)) };
}
