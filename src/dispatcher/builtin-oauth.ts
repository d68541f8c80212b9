/**
 * The authorization server on a protected resource's own hostname, with no
 * setup step. Clients of the MCP 2025-03-26 revision take the MCP server's
 * origin for the authorization server: they read
 * `{origin}/.well-known/oauth-authorization-server` and, without it, fall
 * back to `{origin}/authorize`, `/token` and `/register`. So on the host of
 * every proxy that is a protected resource (auth on, or resource_endpoint
 * set), the requests below go to the OAuth app in this process instead of
 * the backend — unless a route matches them: an explicit route always wins,
 * which is also how an operator gives one of these paths back to the backend.
 * The metadata served there is the one for that host (the proxy's own issuer
 * when it overrides the defaults), the issuer its tokens carry, so its
 * endpoints lead to the issuer's host. Pure.
 *
 * The browser pages (`/authorize`, `/callback` with its consent form) are not
 * among them: on a proxy host they would share an origin with the backend's
 * pages, whose scripts could open them and answer the consent form in the
 * user's name. They stay on the issuer's host, where the metadata sends
 * clients; an operator who wants them on a proxy host routes them there
 * (`oauth routes-setup`).
 * @see https://modelcontextprotocol.io/specification/2025-03-26/basic/authorization#2-3-2-authorization-base-url
 */

/**
 * Each path with the methods the authorization server answers there. Only
 * those methods are taken from the backend: a `GET /register` sign-up page
 * of the backend's, say, still reaches it. `/verify` (ForwardAuth for other
 * proxies) is not a client's endpoint and stays the backend's unless routed.
 */
const BUILT_IN_METHODS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["/.well-known/oauth-authorization-server", new Set(["GET"])],
  ["/.well-known/openid-configuration", new Set(["GET"])],
  ["/jwks", new Set(["GET"])],
  ["/token", new Set(["POST"])],
  ["/revoke", new Set(["POST"])],
  ["/introspect", new Set(["POST"])],
  ["/register", new Set(["POST"])],
]);

/** RFC 7592 client configuration: /register/{client_id}. */
const CLIENT_CONFIGURATION = /^\/register\/[^/]+\/?$/;
const CLIENT_CONFIGURATION_METHODS: ReadonlySet<string> = new Set(["GET", "PUT", "DELETE"]);

/**
 * True when the authorization server answers this request on a protected
 * resource's host: one of its endpoints with a method it serves there, or a
 * CORS preflight for one (answered with PUBLIC_CORS_HEADERS). One trailing
 * slash is accepted, as everywhere else; routes never redirect between the two.
 */
export function isBuiltInOAuthRequest(method: string, path: string, preflight: boolean): boolean {
  const bare = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  // Runs for every request to a protected proxy that no route takes: a map lookup, and a regex only under /register/.
  const methods = BUILT_IN_METHODS.get(bare) ?? (path.startsWith("/register/") && CLIENT_CONFIGURATION.test(path) ? CLIENT_CONFIGURATION_METHODS : undefined);
  if (methods === undefined) return false;
  return methods.has(method) || (method === "OPTIONS" && preflight);
}
