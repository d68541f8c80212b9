/**
 * The answers the edge gives at an MCP endpoint instead of forwarding:
 * JSON-RPC errors for bodies and headers it refuses, 403 for a foreign
 * Origin, and the OAuth answers of the per-tool policy (RFC 6750 §3.1).
 */
import { bearerChallenge } from "../auth/edge/challenge";
import { OWN_RESPONSE_HEADERS } from "../core/own-response";
import type { JsonRpcId } from "./json-rpc-body";

/** Generic server error: the SDKs answer a refused Origin with it too. */
export const SERVER_ERROR = -32000;

const NO_STORE = { ...OWN_RESPONSE_HEADERS, "cache-control": "no-store" };
/** A browser-based client on another origin must be able to read the challenge (as the edge's other refusals allow). */
const READABLE_CHALLENGE = { ...NO_STORE, "access-control-allow-origin": "*", "access-control-expose-headers": "WWW-Authenticate" };

/** A JSON-RPC error response (the `id` of the refused request, or null). */
export function jsonRpcError(status: number, code: number, message: string, id: JsonRpcId = null): Response {
  return Response.json({ jsonrpc: "2.0", id, error: { code, message } }, { status, headers: NO_STORE });
}

/** 403, not a challenge: signing in cannot make a foreign page's request acceptable. */
export function originRefused(origin: string): Response {
  const shown = JSON.stringify(origin.length > 200 ? `${origin.slice(0, 200)}…` : origin);
  return jsonRpcError(403, SERVER_ERROR, `Forbidden: origin ${shown} may not use this MCP server (see mcp_allowed_origins)`);
}

export interface ChallengeFacts {
  /** The Host the client used. */
  readonly realm: string;
  readonly metadataUrl: string;
  readonly asIssuer: string;
}

/** 403 insufficient_scope; `scope` is every scope the operation needs, the token's own included. */
export function insufficientScope(facts: ChallengeFacts, scope: readonly string[], what: string): Response {
  const needed = scope.join(" ");
  const description = `${what} needs the scope ${needed}`;
  const challenge = bearerChallenge({ ...facts, scope: needed, error: { code: "insufficient_scope", description } });
  return Response.json(
    { error: "insufficient_scope", error_description: description, scope: needed },
    { status: 403, headers: { ...READABLE_CHALLENGE, "www-authenticate": challenge } },
  );
}

/** 401 for a request without a verified token (passthrough, an excluded path) whose operation needs scopes. */
export function tokenNeeded(facts: ChallengeFacts, scope: readonly string[], what: string): Response {
  const needed = scope.join(" ");
  const challenge = bearerChallenge({ ...facts, scope: needed });
  return Response.json(
    { error: "unauthorized", error_description: `${what} needs a bearer token with the scope ${needed}` },
    { status: 401, headers: { ...READABLE_CHALLENGE, "www-authenticate": challenge } },
  );
}

/** A proxy without auth cannot check scopes: operations that need them are refused, never let through. */
export function scopesUncheckable(scope: readonly string[], what: string): Response {
  return Response.json(
    { error: "access_denied", error_description: `${what} needs the scope ${scope.join(" ")}, and this proxy does not authenticate (turn auth on)` },
    { status: 403, headers: NO_STORE },
  );
}
