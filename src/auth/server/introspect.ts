/**
 * POST /introspect (RFC 7662): for authenticated clients (resource servers
 * register as confidential clients). Anything not currently valid — unknown,
 * expired, revoked, malformed — is just `{ "active": false }`.
 */
import { authenticateClient } from "../clients/client-authentication";
import { OAuthError } from "../oauth-error";
import type { OAuthServerContext } from "./context";
import { readForm, requireParam } from "./request-facts";
import { accessTokenClaims } from "./revoke";

const INACTIVE = { active: false };

export async function introspect(context: OAuthServerContext, request: Request): Promise<Response> {
  const form = await readForm(request);
  const client = await authenticateClient(request, form, context.clientResolver);
  if (client.token_endpoint_auth_method === "none") {
    throw new OAuthError("invalid_client", "introspection needs a confidential client (client_secret_basic or client_secret_post)");
  }
  return json(await describe(context, requireParam(form, "token")));
}

async function describe(context: OAuthServerContext, presented: string): Promise<Record<string, unknown>> {
  const now = Math.floor(Date.now() / 1000);
  const claims = await accessTokenClaims(context, presented);
  if (claims) {
    if (claims.exp <= now || context.revoked.has(claims.jti) || (await context.tokens.isRevoked(claims.jti))) return INACTIVE;
    return {
      active: true,
      token_type: "Bearer",
      scope: claims.scope,
      client_id: claims.client_id,
      username: claims.login,
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      ...(claims.email ? { email: claims.email } : {}),
    };
  }
  const refresh = await context.tokens.getRefreshToken(presented);
  if (!refresh) return INACTIVE;
  return {
    active: true,
    token_type: "refresh_token",
    scope: refresh.grant.scope,
    client_id: refresh.grant.client_id,
    username: refresh.grant.username,
    sub: refresh.grant.sub,
    aud: refresh.grant.resources,
    iss: context.settings.issuer,
    exp: refresh.expires_at,
  };
}

const json = (body: unknown) => Response.json(body, { headers: { "cache-control": "no-store" } });
