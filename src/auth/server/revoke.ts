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
import { FlowTrace, requestFacts } from "./flow-trace";

export async function revoke(context: OAuthServerContext, request: Request): Promise<Response> {
  let trace = FlowTrace.start(context.events, requestFacts(request));
  try {
    const outcome = await revokePresented(context, request, (joined) => (trace = joined(trace)));
    trace.step("revoke", "ok", { reason: outcome });
  } catch (err) {
    trace.step("revoke", err instanceof OAuthError ? "refused" : "error", { reason: err instanceof OAuthError ? err.description : "internal error" });
    throw err;
  }
  return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
}

/** Revokes what the client presented; says what that was (for the trace). `learn` updates the trace as the client and grant become known. */
async function revokePresented(context: OAuthServerContext, request: Request, learn: (update: (trace: FlowTrace) => FlowTrace) => void): Promise<string> {
  const form = await readForm(request);
  learn((t) => t.with({ client_id: param(form, "client_id") }));
  const client = await authenticateClient(request, form, context.clientResolver);
  learn((t) => t.with({ client_id: client.client_id }));
  const presented = requireParam(form, "token");
  const hint = param(form, "token_type_hint");
  if (hint !== null && hint !== "access_token" && hint !== "refresh_token") {
    throw new OAuthError("unsupported_token_type", `token_type_hint ${JSON.stringify(hint)} is not supported`);
  }

  const refresh = await context.tokens.getRefreshToken(presented);
  if (refresh) {
    if (refresh.grant.client_id === client.client_id) {
      learn((t) => t.join(refresh.grant.flow_id).with({ user: refresh.grant.username }));
      await context.tokens.revokeRefreshToken(presented);
      context.tokenCounts?.count("revoked");
      context.log.info({ client_id: client.client_id, grant: refresh.grant.grant_id }, "refresh token revoked");
      return "refresh token revoked: its grant ended";
    }
  } else {
    const claims = await accessTokenClaims(context, presented);
    if (claims && claims.client_id === client.client_id) {
      const record = await context.tokens.getAccessToken(claims.jti);
      const grant = record ? await context.tokens.getGrant(record.grant_id) : null;
      learn((t) => t.join(grant?.flow_id).with({ user: claims.login ?? record?.username ?? null }));
      await context.tokens.revokeAccessToken(claims.jti);
      context.tokenCounts?.count("revoked");
      context.log.info({ client_id: client.client_id, jti: claims.jti }, "access token revoked");
      return "access token revoked";
    }
  }
  return "nothing revoked: the token is unknown, expired or another client's";
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
