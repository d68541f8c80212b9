/**
 * CORS for what the gateway serves itself to any web page: the OAuth
 * endpoints, the authorization server's and the protected resources'
 * metadata, the JWKS. Browser-based MCP clients (the Inspector, web apps)
 * read them cross-origin, and the MCP SDK adds `MCP-Protocol-Version` to
 * discovery requests, which makes the browser ask first (a preflight). None
 * of these answers depends on cookies, so any origin may read them.
 * @see https://fetch.spec.whatwg.org/#http-cors-protocol
 */
import { OWN_RESPONSE_HEADERS } from "../core/own-response";

export const PUBLIC_CORS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, PUT, DELETE, OPTIONS",
  "access-control-allow-headers": "authorization, content-type, mcp-protocol-version",
  "access-control-max-age": "86400",
});

/** A CORS preflight: OPTIONS naming the method the page wants to use. Plain OPTIONS requests are not preflights. */
export function isCorsPreflight(request: Request): boolean {
  return request.method === "OPTIONS" && request.headers.has("access-control-request-method");
}

/** The answer to a preflight for a public document or endpoint; it never reaches a backend. */
export function publicPreflightResponse(): Response {
  return new Response(null, { status: 204, headers: { ...OWN_RESPONSE_HEADERS, ...PUBLIC_CORS_HEADERS } });
}
