/**
 * POST /revoke (RFC 7009). The client authenticates as at /token. A refresh
 * token revokes its whole grant; an access token goes on the revoked list that
 * every node's edge holds in memory. Unknown or foreign tokens get the same
 * 200 as known ones (§2.2), so the endpoint tells nobody what exists.
 */
import { authenticateClient } from "../clients/client-authentication";
import { OAuthError } from "../oauth-error";
import { verifyAccessToken } from "../tokens/access-token";
import type { OAuthServerContext } from "./context";
import { param, readForm, requireParam } from "./request-facts";

export async function revoke(context: OAuthServerContext, request: Request): Promise<Response> {
  const form = await readForm(request);
  const client = await authenticateClient(request, form, context.clientResolver);
  const presented = requireParam(form, "token");
  const hint = param(form, "token_type_hint");
  if (hint !== null && hint !== "access_token" && hint !== "refresh_token") {
    throw new OAuthError("unsupported_token_type", `token_type_hint ${JSON.stringify(hint)} is not supported`);
  }

  const refresh = await context.tokens.getRefreshToken(presented);
  if (refresh) {
    if (refresh.grant.client_id === client.client_id) {
      await context.tokens.revokeRefreshToken(presented);
      context.tokenCounts?.count("revoked");
      context.log.info({ client_id: client.client_id, grant: refresh.grant.grant_id }, "refresh token revoked");
    }
  } else {
    const claims = await accessTokenClaims(context, presented);
    if (claims && claims.client_id === client.client_id) {
      await context.tokens.revokeAccessToken(claims.jti);
      context.tokenCounts?.count("revoked");
      context.log.info({ client_id: client.client_id, jti: claims.jti }, "access token revoked");
    }
  }
  return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
}

/**
 * The claims of one of our access tokens, or null. Our signature proves we
 * minted it, whichever issuer (a proxy may have its own) it names. An expired
 * token is null: there is nothing left to revoke.
 */
export async function accessTokenClaims(context: OAuthServerContext, presented: string) {
  if (presented.split(".").length !== 3) return null;
  try {
    return await verifyAccessToken(context.signingKeys, presented, {});
  } catch {
    return null;
  }
}
