/**
 * POST /token (OAuth 2.1 §3.2): the authorization code grant with PKCE, and
 * refresh with rotation. Every failure is the RFC's error code; a replayed
 * code or refresh token revokes the grant it started.
 */
import type { ClientRecord } from "../clients/client-record";
import { authenticateClient } from "../clients/client-authentication";
import { OAuthError, oauthErrorResponse } from "../oauth-error";
import { narrowResources, narrowScope } from "../resources";
import { signAccessToken } from "../tokens/access-token";
import { pkceS256Matches } from "../tokens/pkce";
import type { GrantRecord } from "../tokens/token-records";
import type { OAuthServerContext } from "./context";
import { effectiveIssuer } from "./metadata";
import { param, readForm, requireParam } from "./request-facts";
import { FlowTrace, requestFacts } from "./flow-trace";

/** The flow-trace step a /token call is, and what it learns on the way (the code's or the grant's flow, the user). */
interface TokenTrail {
  trace: FlowTrace;
  step: "token" | "refresh";
}

export async function token(context: OAuthServerContext, request: Request): Promise<Response> {
  const trail: TokenTrail = { trace: FlowTrace.start(context.events, requestFacts(request)), step: "token" };
  try {
    const response = await answerTokenRequest(context, request, trail);
    trail.trace.step(trail.step, response.ok ? "ok" : "refused");
    return response;
  } catch (err) {
    trail.trace.step(trail.step, err instanceof OAuthError ? "refused" : "error", { reason: err instanceof OAuthError ? err.description : "internal error" });
    throw err;
  }
}

async function answerTokenRequest(context: OAuthServerContext, request: Request, trail: TokenTrail): Promise<Response> {
  const form = await readForm(request, ["resource"]);
  trail.step = form.get("grant_type") === "refresh_token" ? "refresh" : "token";
  trail.trace = trail.trace.with({ client_id: param(form, "client_id") });
  const client = await authenticateClient(request, form, context.clientResolver);
  trail.trace = trail.trace.with({ client_id: client.client_id });
  const grantType = requireParam(form, "grant_type");
  if (grantType !== "authorization_code" && grantType !== "refresh_token") {
    throw new OAuthError("unsupported_grant_type", `grant_type ${JSON.stringify(grantType)} is not supported`);
  }
  if (!client.grant_types.includes(grantType)) throw new OAuthError("unauthorized_client", `this client is not registered for ${grantType}`);
  return grantType === "authorization_code" ? exchangeCode(context, client, form, trail) : refresh(context, client, form, trail);
}

async function exchangeCode(context: OAuthServerContext, client: ClientRecord, form: URLSearchParams, trail: TokenTrail): Promise<Response> {
  const code = requireParam(form, "code");
  const verifier = requireParam(form, "code_verifier");
  const consumed = await context.codes.consume(code);
  if (!consumed.ok) {
    if (consumed.reason === "reused") {
      // RFC 6749 §4.1.2: a code used twice may have been stolen; what it produced is revoked.
      if (consumed.grantId) await context.tokens.revokeGrant(consumed.grantId);
      context.log.warn({ client_id: client.client_id, grant: consumed.grantId }, "authorization code replayed; its grant is revoked");
      throw new OAuthError("invalid_grant", "authorization code already used");
    }
    throw new OAuthError("invalid_grant", "authorization code unknown or expired");
  }
  const record = consumed.record;
  trail.trace = trail.trace.join(record.flow_id).with({ user: record.identity.username, proxy: record.proxy_hostname, resource: record.resources.join(" ") || null });
  if (record.client_id !== client.client_id) throw new OAuthError("invalid_grant", "authorization code was issued to another client");
  const redirectUri = param(form, "redirect_uri");
  if (redirectUri !== null && redirectUri !== record.redirect_uri) throw new OAuthError("invalid_grant", "redirect_uri differs from the authorization request");
  if (!pkceS256Matches(verifier, record.code_challenge)) throw new OAuthError("invalid_grant", "code_verifier does not match the code_challenge");
  const resources = narrowResources(form.getAll("resource"), record.resources);
  const scope = narrowScope(param(form, "scope"), record.scope);

  const grant = await context.tokens.createGrant({
    client_id: client.client_id,
    sub: record.identity.sub,
    username: record.identity.username,
    email: record.identity.email,
    scope: record.scope,
    resources: record.resources,
    proxy_hostname: record.proxy_hostname,
    auth_time: record.auth_time,
    ...(record.flow_id ? { flow_id: record.flow_id } : {}),
  });
  if ((await context.codes.attachGrant(code, grant.grant_id)) === "replayed") {
    await context.tokens.revokeGrant(grant.grant_id);
    throw new OAuthError("invalid_grant", "authorization code already used");
  }
  const response = await issueTokens(context, client, grant, { scope, resources, name: record.identity.name });
  context.tokenCounts?.count("issued");
  return response;
}

async function refresh(context: OAuthServerContext, client: ClientRecord, form: URLSearchParams, trail: TokenTrail): Promise<Response> {
  const presented = requireParam(form, "refresh_token");
  const rotated = await context.tokens.rotateRefreshToken(presented, client.client_id);
  if (!rotated.ok) {
    if (rotated.reason === "reused") {
      context.log.warn({ client_id: client.client_id }, "refresh token replayed; its grant is revoked");
      throw new OAuthError("invalid_grant", "refresh token already used; the grant is revoked");
    }
    throw new OAuthError("invalid_grant", rotated.reason === "client_mismatch" ? "refresh token was issued to another client" : "refresh token unknown, expired or revoked");
  }
  const { grant } = rotated;
  trail.trace = trail.trace.join(grant.flow_id).with({ user: grant.username, proxy: grant.proxy_hostname });
  const resources = narrowResources(form.getAll("resource"), grant.resources);
  const scope = narrowScope(param(form, "scope"), grant.scope);
  const response = await issueTokens(context, client, grant, { scope, resources, name: null }, rotated.refreshToken);
  context.tokenCounts?.count("refreshed");
  return response;
}

async function issueTokens(
  context: OAuthServerContext,
  client: ClientRecord,
  grant: GrantRecord,
  asked: { scope: string; resources: string[]; name: string | null },
  rotatedRefreshToken?: string,
): Promise<Response> {
  const issuer = await issuerOf(context, grant);
  const lifetime = context.settings.accessTokenLifetimeSeconds;
  const { token: accessToken, claims } = await signAccessToken(
    context.signingKeys,
    {
      iss: issuer,
      sub: grant.sub,
      // RFC 9068 requires an audience; a grant without resource indicators is good at the issuer only.
      aud: asked.resources.length > 0 ? asked.resources : [issuer],
      client_id: client.client_id,
      azp: client.client_id,
      scope: asked.scope,
      auth_time: grant.auth_time,
      login: grant.username,
      ...(grant.email ? { email: grant.email } : {}),
      ...(asked.name ? { name: asked.name } : {}),
    },
    lifetime,
  );
  await context.tokens.recordAccessToken(claims, grant.grant_id);
  const body: Record<string, unknown> = {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: lifetime,
    scope: asked.scope,
  };
  if (rotatedRefreshToken) body.refresh_token = rotatedRefreshToken;
  else if (client.grant_types.includes("refresh_token")) body.refresh_token = await context.tokens.issueRefreshToken(grant.grant_id);
  return Response.json(body, { headers: { "cache-control": "no-store", pragma: "no-cache" } });
}

/** Tokens carry the issuer the client signed in with: a proxy may have its own. */
async function issuerOf(context: OAuthServerContext, grant: GrantRecord): Promise<string> {
  if (!grant.proxy_hostname) return context.settings.issuer;
  const proxy = context.settings.authHostnames.includes(grant.proxy_hostname) ? null : await context.proxy(grant.proxy_hostname);
  return effectiveIssuer(context.settings.issuer, proxy);
}

/** Client authentication failures with Basic get a challenge (RFC 6749 §5.2). */
export function tokenErrorResponse(error: OAuthError, request: Request): Response {
  const usedBasic = /^basic /i.test(request.headers.get("authorization") ?? "");
  return oauthErrorResponse(error, error.code === "invalid_client" && usedBasic ? { "www-authenticate": 'Basic realm="oauth"' } : {});
}
