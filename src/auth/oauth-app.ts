/**
 * The OAuth 2.1 authorization server as an Elysia app, served at the root of
 * the auth hostnames (auth.{BASE_DOMAIN}), on the host of every proxy that is
 * a protected resource (dispatcher/builtin-oauth.ts), and wherever routes send
 * OAuth paths here (`oauth-routes-setup`). Endpoint logic lives in
 * server/*, one file per endpoint; this file maps paths and turns errors into
 * the RFC shapes.
 */
import { Elysia } from "elysia";
import { OAuthError, oauthErrorResponse } from "./oauth-error";
import { PUBLIC_CORS_HEADERS } from "./public-cors";
import { registrationRoutes } from "./server/registration-routes";
import { authorize } from "./server/authorize";
import { callback } from "./server/callback";
import { answerConsent } from "./server/consent";
import { proxyForHost, type OAuthServerContext } from "./server/context";
import { introspect } from "./server/introspect";
import { logout } from "./server/logout";
import { authorizationServerMetadata } from "./server/metadata";
import { requestHost } from "./server/request-facts";
import { revoke } from "./server/revoke";
import { token, tokenErrorResponse } from "./server/token";
import { verify } from "./server/verify";

/** Browser-based MCP clients call these cross-origin; none of them uses cookies, so any origin may. */
const withCors = (response: Response): Response => {
  for (const [name, value] of Object.entries(PUBLIC_CORS_HEADERS)) response.headers.set(name, value);
  return response;
};

/** Our handlers read the body themselves (form or JSON, size-limited). */
const raw = { parse: "none" as const };

export function createOAuthApp(context: OAuthServerContext) {
  const metadata = async (request: Request) => {
    const proxy = await proxyForHost(context, requestHost(request));
    const document = authorizationServerMetadata(context.settings.issuer, proxy, { clientIdMetadataDocuments: context.clientIdMetadataDocuments, scopes: context.supportedScopes });
    return Response.json(document, { headers: { "cache-control": "public, max-age=300" } });
  };
  // Clients that try OpenID discovery first get the same document with the two fields
  // OpenID Connect Discovery requires; tokens are signed with OAUTH_JWT_ALGORITHM and subjects are public.
  const openIdConfiguration = async (request: Request) => {
    const response = await metadata(request);
    const document = (await response.json()) as Record<string, unknown>;
    return Response.json(
      { ...document, subject_types_supported: ["public"], id_token_signing_alg_values_supported: [context.settings.jwtAlgorithm] },
      { headers: { "cache-control": "public, max-age=300" } },
    );
  };
  // RFC 8414 §3.1: the path-aware form inserts the issuer's path after the well-known name.
  const pathAwareMetadata = (request: Request, suffix: string) => {
    const issuerPath = new URL(context.settings.issuer).pathname.replace(/\/+$/, "");
    if (`/${suffix}`.replace(/\/+$/, "") !== issuerPath) return notFound();
    return metadata(request);
  };

  const app = new Elysia({ name: "oauth-server", strictPath: false })
    .onError(({ error, request }) => {
      if (error instanceof OAuthError) return tokenErrorResponse(error, request);
      if ((error as { code?: string }).code === "NOT_FOUND") return notFound();
      context.log.error({ err: error, path: new URL(request.url).pathname }, "oauth endpoint failed");
      return oauthErrorResponse(new OAuthError("server_error", "internal error; see the gateway log"));
    })
    .options("/*", () => new Response(null, { status: 204, headers: PUBLIC_CORS_HEADERS }))
    .get("/.well-known/oauth-authorization-server", ({ request }) => metadata(request))
    .get("/.well-known/oauth-authorization-server/*", ({ request, params }) => pathAwareMetadata(request, params["*"]))
    .get("/.well-known/openid-configuration", ({ request }) => openIdConfiguration(request))
    .get("/jwks", () => Response.json(context.signingKeys.jwks(), { headers: { "cache-control": "public, max-age=60" } }))
    .get("/authorize", ({ request }) => authorize(context, request))
    .get("/callback", ({ request }) => callback(context, request))
    .post("/callback", ({ request }) => answerConsent(context, request), raw)
    .post("/token", ({ request }) => token(context, request), raw)
    .post("/revoke", ({ request }) => revoke(context, request), raw)
    .post("/logout", ({ request }) => logout(context, request), raw)
    .post("/introspect", ({ request }) => introspect(context, request), raw)
    .get("/verify", ({ request }) => verify(context, request))
    .post("/verify", ({ request }) => verify(context, request), raw)
    .use(
      registrationRoutes({
        clients: context.clients,
        redis: context.redis,
        issuer: context.settings.issuer,
        supportedScopes: () => context.supportedScopes,
        rateLimitPerMinute: context.settings.registrationRateLimitPerMinute,
        events: context.events,
      }),
    );
  // Every answer carries the CORS headers, error pages and Elysia's own errors included.
  return { fetch: async (request: Request): Promise<Response> => withCors(await app.handle(request)) };
}

export type OAuthApp = ReturnType<typeof createOAuthApp>;

function notFound(): Response {
  return Response.json({ error: "not_found", error_description: "no such OAuth endpoint" }, { status: 404 });
}
