/**
 * /api/v1/oauth/... — the admin's view of the authorization server (spec
 * "OAuth Admin API Endpoints"): clients, access tokens, sessions (a session
 * is one login's grant), proxies' OAuth settings, signing keys, and test
 * tokens for trying an MCP server. Admin only.
 *
 * Stored hashes, refresh tokens, access tokens and private keys never appear
 * in an answer; a client secret and registration access token only in the
 * answer that registers the client, and an access token only in the answer
 * that mints it.
 */
import { Elysia, t } from "elysia";
import { clientInformation } from "../../auth/clients/client-information";
import { parseClientMetadata } from "../../auth/clients/registration";
import { OAuthError } from "../../auth/oauth-error";
import { registrationScopeOptions } from "../../auth/scopes/scope-syntax";
import { checkRequestedResources } from "../../auth/resources";
import { effectiveIssuer } from "../../auth/server/metadata";
import { signAccessToken } from "../../auth/tokens/access-token";
import { conflict, invalid, notFound } from "../../core/errors";
import { keys } from "../../storage/keys";
import type { ProxyRecord } from "../../storage/proxy-repository";
import { AdminClientBody, checkTestTokenScope, checkTestTokenUsername, TestTokenBody } from "../schemas/oauth";
import { accessTokenView, clientView, isoSeconds, sessionView } from "../schemas/oauth-views";
import { accessTokenRecords, adminCaller, listSessions, revokedFlags, sessionDetails, signingKeyState, tokenStatistics, type OAuthApiDependencies } from "./oauth-status";
import { HostnameParams } from "../proxy-access";

/** The client_id of tokens the admin mints with POST /oauth/test-tokens; no registered client has it. */
export const ADMIN_TEST_CLIENT_ID = "portcullis-admin";

const ClientIdParams = t.Object({ client_id: t.String({ maxLength: 2000 }) });
const JtiParams = t.Object({ jti: t.String({ maxLength: 256 }) });
const SessionParams = t.Object({ session_id: t.String({ maxLength: 256 }) });

/** An OAuth validation failure of the admin's input is a 422 like any other bad input. */
const asInvalid = (error: unknown): never => {
  if (error instanceof OAuthError) throw invalid(error.description);
  throw error;
};

export function oauthAdminRoutes(deps: OAuthApiDependencies) {
  const { oauth, proxies } = deps;
  const issuer = () => oauth.settings.issuer;

  const tokensWithFlags = async (records: Awaited<ReturnType<typeof accessTokenRecords>>) => {
    const flags = await revokedFlags(oauth, records.map((r) => r.jti));
    return records.map((record, i) => accessTokenView(record, flags[i] ?? false));
  };

  /** Each proxy's OAuth-facing settings: who may log in, through which app, and what it serves. */
  const proxyOAuthView = (proxy: ProxyRecord, sessions: number) => ({
    hostname: proxy.hostname,
    auth_enabled: proxy.auth_enabled,
    auth_mode: proxy.auth_mode,
    auth_proxy: proxy.auth_proxy,
    auth_required_users: proxy.auth_required_users,
    allowed_users: proxy.auth_required_users?.length ? proxy.auth_required_users : [...oauth.settings.allowedUsers],
    allowed_users_source: proxy.auth_required_users?.length ? ("proxy" as const) : ("default" as const),
    auth_allowed_scopes: proxy.auth_allowed_scopes,
    auth_allowed_audiences: proxy.auth_allowed_audiences,
    has_own_github_app: proxy.github_client_id !== null && proxy.github_client_secret !== null,
    resource_endpoint: proxy.resource_endpoint,
    resource_scopes: proxy.resource_scopes,
    issuer: effectiveIssuer(issuer(), proxy),
    oauth_server_override_defaults: proxy.oauth_server_override_defaults,
    active_sessions: sessions,
  });

  return (
    new Elysia({ prefix: "/oauth", tags: ["oauth"] })
      .derive(async ({ request }) => ({ caller: await adminCaller(request, deps.tokens) }))

      // Clients
      .get(
        "/clients",
        async ({ query }) => {
          const views = (await oauth.clients.list()).map((c) => clientView(c, issuer()));
          return query.active_only === "true" ? views.filter((v) => !v.expired) : views;
        },
        {
          query: t.Object({ active_only: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])) }),
          detail: { summary: "Registered OAuth clients, oldest first; active_only=true leaves out expired ones" },
        },
      )
      .post(
        "/clients",
        async ({ body, set }) => {
          const parsed = parseClientMetadata(body, registrationScopeOptions(oauth.supportedScopes));
          if (!parsed.ok) throw invalid(parsed.error.description);
          const { record, clientSecret, registrationAccessToken } = await oauth.clients.register(parsed.metadata, { ip: null });
          set.status = 201;
          set.headers["cache-control"] = "no-store";
          return clientInformation(record, issuer(), { clientSecret, registrationAccessToken });
        },
        {
          body: AdminClientBody,
          detail: {
            summary: "Register an OAuth client as the admin (RFC 7591 metadata, no rate limit); client_secret and registration_access_token are shown only here",
          },
        },
      )
      .get(
        "/clients/:client_id",
        async ({ params }) => {
          const record = await oauth.clients.get(params.client_id);
          if (!record) throw notFound(`OAuth client ${JSON.stringify(params.client_id)}`);
          const [sessions, tokens] = await Promise.all([
            listSessions(oauth, (g) => g.client_id === record.client_id),
            oauth.tokens.listAccessTokens({ clientId: record.client_id }),
          ]);
          return { ...clientView(record, issuer()), active_sessions: sessions.length, active_tokens: tokens.length };
        },
        { params: ClientIdParams, detail: { summary: "One OAuth client, with its counts of live sessions and access tokens" } },
      )
      .get(
        "/clients/:client_id/tokens",
        async ({ params }) => {
          const [record, tokens] = await Promise.all([oauth.clients.get(params.client_id), oauth.tokens.listAccessTokens({ clientId: params.client_id })]);
          // Tokens may outlive a registration (and test tokens have none): only an id with neither is unknown.
          if (!record && tokens.length === 0) throw notFound(`OAuth client ${JSON.stringify(params.client_id)}`);
          return { client_id: params.client_id, registered: record !== null, tokens: await tokensWithFlags(tokens) };
        },
        { params: ClientIdParams, detail: { summary: "The live access tokens of a client, newest first" } },
      )
      .delete(
        "/clients/:client_id",
        async ({ params }) => {
          const record = await oauth.clients.get(params.client_id);
          if (!record) throw notFound(`OAuth client ${JSON.stringify(params.client_id)}`);
          await oauth.clients.delete(record.client_id);
          // Deleted first, so no new login of this client can start a grant the sweep below would miss.
          const grants = (await oauth.tokens.listGrants()).filter((g) => g.client_id === record.client_id);
          for (const grant of grants) await oauth.tokens.revokeGrant(grant.grant_id);
          return { deleted: record.client_id, sessions_revoked: grants.length };
        },
        { params: ClientIdParams, detail: { summary: "Delete a client and revoke its sessions (their access and refresh tokens)" } },
      )

      // Access tokens
      .get("/tokens", () => tokenStatistics(oauth), { detail: { summary: "Token statistics: live access and refresh tokens, grants, revoked, by client and user" } })
      .get(
        "/tokens/:jti",
        async ({ params }) => {
          const record = await oauth.tokens.getAccessToken(params.jti);
          if (record) return accessTokenView(record, await oauth.tokens.isRevoked(record.jti));
          // Revoking deletes the record; the revoked list remembers the jti until the token would have expired.
          const revokedUntil = await oauth.redis.zscore(keys.oauthRevoked, params.jti);
          if (revokedUntil !== null && Number(revokedUntil) > Date.now()) {
            return { jti: params.jti, revoked: true, expires_at: new Date(Number(revokedUntil)).toISOString() };
          }
          throw notFound(`access token ${JSON.stringify(params.jti)} (unknown or expired)`);
        },
        { params: JtiParams, detail: { summary: "One access token by jti, and whether it is revoked" } },
      )
      .delete(
        "/tokens/:jti",
        async ({ params }) => {
          if (await oauth.tokens.revokeAccessToken(params.jti)) return { revoked: params.jti, already_revoked: false };
          if (await oauth.tokens.isRevoked(params.jti)) return { revoked: params.jti, already_revoked: true };
          throw notFound(`access token ${JSON.stringify(params.jti)} (unknown or expired)`);
        },
        { params: JtiParams, detail: { summary: "Revoke one access token; every node refuses it at once" } },
      )

      // Sessions (grants)
      .get("/sessions", () => listSessions(oauth), { detail: { summary: "Active sessions (grants), newest first" } })
      .get(
        "/sessions/:session_id",
        async ({ params }) => {
          const details = await sessionDetails(oauth, params.session_id);
          if (!details) throw notFound(`session ${JSON.stringify(params.session_id)}`);
          const view = sessionView(
            details.grant,
            { hasRefreshToken: details.hasRefreshToken, accessTokens: details.tokens.length },
            oauth.settings.refreshTokenLifetimeSeconds,
          );
          return { ...view, tokens: await tokensWithFlags(details.tokens) };
        },
        { params: SessionParams, detail: { summary: "One session with its live access tokens" } },
      )
      .delete(
        "/sessions/:session_id",
        async ({ params }) => {
          const details = await sessionDetails(oauth, params.session_id);
          if (!details) throw notFound(`session ${JSON.stringify(params.session_id)}`);
          await oauth.tokens.revokeGrant(params.session_id);
          return { revoked: params.session_id, access_tokens_revoked: details.tokens.map((t) => t.jti) };
        },
        { params: SessionParams, detail: { summary: "Revoke a session: its refresh token and every access token it issued" } },
      )

      // Proxies
      .get(
        "/proxies",
        async () => {
          const [list, sessions] = await Promise.all([proxies.list(), listSessions(oauth)]);
          return list.map((p) => proxyOAuthView(p, sessions.filter((s) => s.proxy_hostname === p.hostname).length));
        },
        { detail: { summary: "Each proxy's OAuth settings: auth mode, allowed users, own GitHub app, resource endpoint, sessions" } },
      )
      .get(
        "/proxies/:hostname/sessions",
        async ({ params }) => {
          const hostname = params.hostname.toLowerCase();
          const [proxy, sessions] = await Promise.all([proxies.get(hostname), listSessions(oauth, (g) => g.proxy_hostname === hostname)]);
          if (!proxy && sessions.length === 0) throw notFound(`proxy ${JSON.stringify(params.hostname)}`);
          return sessions;
        },
        { params: HostnameParams, detail: { summary: "The sessions (grants) started through one proxy" } },
      )

      // Signing keys
      .get(
        "/keys",
        () => {
          const { kid, algorithm, source } = signingKeyState(oauth);
          return { current_kid: kid, current_alg: algorithm, source, jwks: oauth.signingKeys.jwks() };
        },
        { detail: { summary: "The current signing key's kid and algorithm, and the published JWKS (public keys only)" } },
      )
      .post(
        "/keys/rotate",
        async () => {
          if (oauth.settings.jwtPrivateKeyPem !== null) {
            throw conflict("the signing key comes from OAUTH_JWT_PRIVATE_KEY_B64: rotate it by changing that variable and restarting the gateway");
          }
          const previous = signingKeyState(oauth).kid;
          const { kid, retired } = await oauth.signingKeys.rotate();
          return { kid, previous_kid: previous, retired, retired_keys_published_for_seconds: oauth.settings.accessTokenLifetimeSeconds };
        },
        { detail: { summary: "Make a new signing key current on every node; the old one keeps verifying for one access-token lifetime" } },
      )

      // Test tokens (spec `oauth-test-tokens`)
      .post(
        "/test-tokens",
        async ({ body, caller, set }) => {
          const rawResources = Array.isArray(body.resource) ? body.resource : [body.resource];
          const resources = await checkRequestedResources(rawResources, oauth.resources).catch(asInvalid);
          if (resources.length === 0) throw invalid("resource: name at least one resource");
          const scope = checkTestTokenScope(body.scope);
          const username = checkTestTokenUsername(body.username ?? (/^[a-z0-9]/i.test(caller.name) ? caller.name : "admin"));
          // The session (grant) must outlive the token, or revoking the session could no longer reach it.
          const maxLifetime = oauth.settings.refreshTokenLifetimeSeconds;
          if (body.lifetime_seconds !== undefined && body.lifetime_seconds > maxLifetime) {
            throw invalid(`lifetime_seconds: at most ${maxLifetime} (OAUTH_REFRESH_TOKEN_LIFETIME)`);
          }
          const lifetime = body.lifetime_seconds ?? Math.min(oauth.settings.accessTokenLifetimeSeconds, maxLifetime);
          const sub = `admin-${username}`;
          // Signed before anything is stored: a failure leaves no empty session behind.
          const { token, claims } = await signAccessToken(
            oauth.signingKeys,
            { iss: oauth.settings.issuer, sub, aud: resources, client_id: ADMIN_TEST_CLIENT_ID, azp: ADMIN_TEST_CLIENT_ID, scope, login: username },
            lifetime,
          );
          const grant = await oauth.tokens.createGrant({
            client_id: ADMIN_TEST_CLIENT_ID,
            sub,
            username,
            email: null,
            scope,
            resources,
            proxy_hostname: null,
            auth_time: claims.iat,
          });
          await oauth.tokens.recordAccessToken(claims, grant.grant_id);
          oauth.log.info({ jti: claims.jti, sub, aud: resources, by: caller.name }, "admin minted a test access token");
          set.status = 201;
          set.headers["cache-control"] = "no-store";
          return {
            access_token: token,
            token_type: "Bearer",
            expires_in: lifetime,
            expires_at: isoSeconds(claims.exp),
            scope,
            aud: resources,
            sub,
            jti: claims.jti,
            session_id: grant.grant_id,
          };
        },
        {
          body: TestTokenBody,
          detail: {
            summary: "Mint an access token for testing an MCP server (client_id portcullis-admin, sub admin-<username>); revoke it through its session",
          },
        },
      )
  );
}
