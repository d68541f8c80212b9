/**
 * GET|POST /verify: ForwardAuth for other proxies in front of Portcullis's
 * tokens (Traefik's forwardAuth, nginx's auth_request). The bearer token (or
 * the session cookie) must be one of ours, unexpired and not revoked; with
 * `resource` (or X-Forwarded-Host of one of our proxies) its audience must
 * name that resource. 200 carries the identity as X-Auth-* headers; 401 says
 * why in WWW-Authenticate. Tokens in the query string are not accepted.
 */
import { userAllowed } from "../identity";
import { canonicalResource } from "../resources";
import type { AccessTokenClaims } from "../tokens/access-token";
import type { OAuthServerContext } from "./context";
import { bearerToken, readCookie } from "./request-facts";

const DEFAULT_COOKIE = "unified_auth_token";

export async function verify(context: OAuthServerContext, request: Request): Promise<Response> {
  const presented = bearerToken(request) ?? readCookie(request, DEFAULT_COOKIE);
  if (!presented) return unauthorized(context, null);

  // The edge's verifier: signature, expiry and revocation, from memory for a token seen before.
  let claims: AccessTokenClaims;
  try {
    claims = await context.tokenVerifier.verify(presented);
  } catch (err) {
    return unauthorized(context, (err as Error).message);
  }

  const resourceParam = new URL(request.url).searchParams.get("resource");
  const forwardedHost = request.headers.get("x-forwarded-host")?.toLowerCase() ?? null;
  let resource: string | null = null;
  try {
    resource = resourceParam ? canonicalResource(resourceParam) : null;
  } catch {
    return unauthorized(context, "resource is not a valid URI");
  }
  if (resource && !claims.aud.includes(resource)) return unauthorized(context, "token audience does not include the resource");

  const proxy = forwardedHost ? context.liveProxy(forwardedHost) : null;
  const allowlist = proxy?.auth_required_users?.length ? proxy.auth_required_users : context.settings.allowedUsers;
  if (!userAllowed(allowlist, claims.login ?? "")) {
    return Response.json({ error: "access_denied", error_description: "user not allowed" }, { status: 403 });
  }

  const prefix = proxy?.auth_header_prefix ?? "X-Auth-";
  return Response.json(
    { sub: claims.sub, username: claims.login ?? null, email: claims.email ?? null, scope: claims.scope, client_id: claims.client_id, aud: claims.aud, exp: claims.exp },
    {
      headers: {
        "cache-control": "no-store",
        [`${prefix}User-Id`]: claims.sub,
        [`${prefix}User-Name`]: claims.login ?? "",
        [`${prefix}Email`]: claims.email ?? "",
        [`${prefix}Scopes`]: claims.scope,
        [`${prefix}Client-Id`]: claims.client_id,
      },
    },
  );
}

/** RFC 6750 §3: no `error` when no credentials were sent; `invalid_token` when they were bad. */
function unauthorized(context: OAuthServerContext, reason: string | null): Response {
  const challenge = reason === null ? `Bearer realm="${context.settings.issuer}"` : `Bearer realm="${context.settings.issuer}", error="invalid_token", error_description="${reason.replace(/["\\]/g, "'")}"`;
  return Response.json(reason === null ? { error: "unauthorized", error_description: "no bearer token" } : { error: "invalid_token", error_description: reason }, {
    status: 401,
    headers: { "www-authenticate": challenge, "cache-control": "no-store" },
  });
}
