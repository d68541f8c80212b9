/**
 * POST /logout: ends the sign-in a token belongs to. The grant (the login's
 * refresh token and every access token issued under it) is revoked, so the
 * client, and the edge session cookie holding one of those tokens, stop
 * working on every node within a second. The token comes as
 * `Authorization: Bearer <access token>` or as `token=<access or refresh
 * token>`; holding it is the proof, as it could be used anyway. Unknown and
 * expired tokens get the same answer (nothing left to end).
 */
import { OAuthError } from "../oauth-error";
import { isRefreshTokenFormat } from "../tokens/token-records";
import type { OAuthServerContext } from "./context";
import { bearerToken, param, readForm } from "./request-facts";
import { accessTokenClaims } from "./revoke";

export async function logout(context: OAuthServerContext, request: Request): Promise<Response> {
  const isForm = request.headers.get("content-type")?.split(";")[0]!.trim().toLowerCase() === "application/x-www-form-urlencoded";
  const form = isForm ? await readForm(request) : new URLSearchParams();
  const presented = bearerToken(request) ?? param(form, "token");
  if (!presented) throw new OAuthError("invalid_request", "name the sign-in to end: Authorization: Bearer <access token>, or token=<access or refresh token>");
  const grantId = await grantOf(context, presented);
  if (grantId) {
    await context.tokens.revokeGrant(grantId);
    context.log.info({ grant: grantId }, "signed out: the sign-in's tokens are revoked");
  }
  return new Response(null, { status: 204, headers: { "cache-control": "no-store" } });
}

async function grantOf(context: OAuthServerContext, presented: string): Promise<string | null> {
  if (isRefreshTokenFormat(presented)) return (await context.tokens.getRefreshToken(presented))?.grant_id ?? null;
  const claims = await accessTokenClaims(context, presented);
  return claims ? ((await context.tokens.getAccessToken(claims.jti))?.grant_id ?? null) : null;
}
