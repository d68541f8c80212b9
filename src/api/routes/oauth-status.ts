/**
 * /api/v1/oauth/status, /oauth/metrics and /oauth/health — what the
 * authorization server holds and whether it can work, in counts (spec "OAuth
 * Status API Endpoints"), plus the read helpers the admin routes share.
 * Admin only. Nothing here shows a secret: the health check says whether
 * upstream credentials are configured, never what they are.
 */
import { Elysia } from "elysia";
import type { OAuthServerContext } from "../../auth/server/context";
import { listGrantsWithRefresh } from "../../auth/tokens/token-listing";
import { parseJson, type AccessTokenRecord, type GrantRecord } from "../../auth/tokens/token-records";
import { forbidden } from "../../core/errors";
import { keys } from "../../storage/keys";
import type { ProxyRepository } from "../../storage/proxy-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, type Caller } from "../caller";
import { clientExpired, sessionView } from "../schemas/oauth-views";

export interface OAuthApiDependencies {
  readonly tokens: TokenRepository;
  readonly proxies: ProxyRepository;
  /** The authorization server's stores, keys and settings. */
  readonly oauth: OAuthServerContext;
}

const PING_TIMEOUT_MS = 1_000;

/** The OAuth admin endpoints act on every user's sessions: the admin token only. */
export async function adminCaller(request: Request, tokens: TokenRepository): Promise<Caller> {
  const caller = await authenticate(request, tokens);
  if (caller.role !== "admin") throw forbidden("the OAuth admin API needs the admin token");
  return caller;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Every session (grant), newest first, with its refresh token state and live access-token count. */
export async function listSessions(oauth: OAuthServerContext, filter: (grant: GrantRecord) => boolean = () => true) {
  const grants = (await listGrantsWithRefresh(oauth.redis)).filter((g) => filter(g.grant));
  if (grants.length === 0) return [];
  const pipeline = oauth.redis.pipeline();
  const now = Date.now();
  for (const { grant } of grants) pipeline.zcount(keys.oauthGrantTokens(grant.grant_id), `(${now}`, "+inf");
  const counts = (await pipeline.exec()) ?? [];
  return grants.map(({ grant, hasRefreshToken }, i) =>
    sessionView(grant, { hasRefreshToken, accessTokens: Number(counts[i]?.[1] ?? 0) }, oauth.settings.refreshTokenLifetimeSeconds),
  );
}

/** One session with its live access tokens; null when the grant is gone (revoked or expired). */
export async function sessionDetails(oauth: OAuthServerContext, sessionId: string) {
  const grantKey = keys.oauthGrant(sessionId);
  const [[record, refresh], jtis] = await Promise.all([
    oauth.redis.hmget(grantKey, "record", "refresh"),
    oauth.redis.zrangebyscore(keys.oauthGrantTokens(sessionId), `(${Date.now()}`, "+inf"),
  ]);
  const grant = parseJson<GrantRecord>(record);
  if (!grant) return null;
  const tokens = await accessTokenRecords(oauth, jtis);
  return { grant, hasRefreshToken: refresh !== null, tokens };
}

export async function accessTokenRecords(oauth: OAuthServerContext, jtis: string[]): Promise<AccessTokenRecord[]> {
  if (jtis.length === 0) return [];
  const raw = await oauth.redis.mget(jtis.map(keys.oauthToken));
  return raw.map((r) => parseJson<AccessTokenRecord>(r)).filter((r): r is AccessTokenRecord => r !== null);
}

/** Whether each jti is on the revoked list, in one round trip. */
export async function revokedFlags(oauth: OAuthServerContext, jtis: string[]): Promise<boolean[]> {
  if (jtis.length === 0) return [];
  const scores = await oauth.redis.zmscore(keys.oauthRevoked, ...jtis);
  const now = Date.now();
  return scores.map((score) => score !== null && Number(score) > now);
}

const countBy = <T>(items: readonly T[], key: (item: T) => string | null): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const item of items) {
    const name = key(item) ?? "(none)";
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
};

export async function clientStatistics(oauth: OAuthServerContext) {
  const clients = await oauth.clients.list();
  const now = nowSeconds();
  const expired = clients.filter((c) => clientExpired(c, now)).length;
  const confidential = clients.filter((c) => c.token_endpoint_auth_method !== "none").length;
  return {
    total: clients.length,
    active: clients.length - expired,
    expired,
    confidential,
    public: clients.length - confidential,
    by_auth_method: countBy(clients, (c) => c.token_endpoint_auth_method),
  };
}

export async function tokenStatistics(oauth: OAuthServerContext) {
  const [counts, tokens] = await Promise.all([oauth.tokens.counts(), oauth.tokens.listAccessTokens()]);
  return { ...counts, by_client: countBy(tokens, (t) => t.client_id), by_user: countBy(tokens, (t) => t.username) };
}

export async function sessionStatistics(oauth: OAuthServerContext) {
  const [sessions, loginsInProgress] = await Promise.all([listSessions(oauth), oauth.pendingLogins.count()]);
  return {
    active: sessions.length,
    with_refresh_token: sessions.filter((s) => s.has_refresh_token).length,
    logins_in_progress: loginsInProgress,
    by_client: countBy(sessions, (s) => s.client_id),
    by_proxy: countBy(sessions, (s) => s.proxy_hostname),
    by_user: countBy(sessions, (s) => s.username),
  };
}

/** Whether users can log in at all: the default GitHub app, or the OIDC provider, is configured. */
export function upstreamState(oauth: OAuthServerContext) {
  const { upstream, github, oidc } = oauth.settings;
  if (upstream === "oidc") {
    return { kind: "oidc" as const, credentials_configured: oidc !== null, oidc_issuer: oidc?.issuer ?? null };
  }
  return {
    kind: "github" as const,
    credentials_configured: github.clientId !== null && github.clientSecret !== null,
    github_oauth_base_url: github.oauthBaseUrl,
    github_api_base_url: github.apiBaseUrl,
  };
}

export function signingKeyState(oauth: OAuthServerContext) {
  let kid: string | null = null;
  let algorithm: string | null = null;
  try {
    ({ kid, alg: algorithm } = oauth.signingKeys.current());
  } catch {
    // Not loaded: reported as such.
  }
  return {
    loaded: kid !== null,
    kid,
    /** The current key's algorithm (RS256 or ES256): what new tokens are signed with. */
    algorithm,
    source: oauth.settings.jwtPrivateKeyPem !== null ? ("configured" as const) : ("generated" as const),
    published_keys: oauth.signingKeys.jwks().keys.length,
  };
}

async function redisReachable(oauth: OAuthServerContext): Promise<boolean> {
  const timeout = Bun.sleep(PING_TIMEOUT_MS).then(() => false);
  return Promise.race([oauth.redis.ping().then((r) => r === "PONG", () => false), timeout]);
}

export function oauthStatusRoutes(deps: OAuthApiDependencies) {
  const { oauth, proxies } = deps;
  const issuer = () => oauth.settings.issuer;

  return new Elysia({ prefix: "/oauth", tags: ["oauth"] })
    .derive(async ({ request }) => ({ caller: await adminCaller(request, deps.tokens) }))
    .get(
      "/status",
      async () => {
        const [clients, tokens, sessions] = await Promise.all([clientStatistics(oauth), oauth.tokens.counts(), sessionStatistics(oauth)]);
        const upstream = upstreamState(oauth);
        const signingKey = signingKeyState(oauth);
        return {
          status: signingKey.loaded && upstream.credentials_configured ? ("ready" as const) : ("incomplete" as const),
          issuer: issuer(),
          metadata_url: `${issuer()}/.well-known/oauth-authorization-server`,
          jwks_uri: `${issuer()}/jwks`,
          registration_endpoint: `${issuer()}/register`,
          auth_hostnames: [...oauth.settings.authHostnames],
          upstream,
          signing_key: { kid: signingKey.kid, algorithm: signingKey.algorithm, source: signingKey.source },
          clients: { total: clients.total, active: clients.active },
          tokens,
          sessions: { active: sessions.active, logins_in_progress: sessions.logins_in_progress },
          settings: {
            access_token_lifetime_seconds: oauth.settings.accessTokenLifetimeSeconds,
            refresh_token_lifetime_seconds: oauth.settings.refreshTokenLifetimeSeconds,
            client_lifetime_seconds: oauth.settings.clientLifetimeSeconds,
            session_timeout_seconds: oauth.settings.sessionTimeoutSeconds,
            mcp_protocol_version: oauth.settings.mcpProtocolVersion,
            max_resources_per_token: oauth.settings.maxResourcesPerToken,
            resource_validation_strict: oauth.settings.resourceValidationStrict,
            client_metadata_documents: oauth.settings.clientMetadataDocuments,
          },
        };
      },
      { detail: { summary: "The OAuth server at a glance: issuer, metadata URL, upstream, signing key, counts" } },
    )
    .get("/status/clients", () => clientStatistics(oauth), { detail: { summary: "Registered clients: totals by state and auth method" } })
    .get("/status/tokens", () => tokenStatistics(oauth), { detail: { summary: "Live tokens: counts, by client and by user" } })
    .get("/status/sessions", () => sessionStatistics(oauth), { detail: { summary: "Sessions (grants) and logins in progress: counts" } })
    .get(
      "/metrics",
      async () => {
        const [clients, counts, loginsInProgress] = await Promise.all([oauth.clients.count(), oauth.tokens.counts(), oauth.pendingLogins.count()]);
        return {
          clients,
          grants: counts.grants,
          access_tokens: counts.access_tokens,
          refresh_tokens: counts.refresh_tokens,
          revoked_tokens: counts.revoked,
          logins_in_progress: loginsInProgress,
          signing_keys_published: oauth.signingKeys.jwks().keys.length,
        };
      },
      { detail: { summary: "Counts of clients, grants, access and refresh tokens, revoked tokens, logins in progress" } },
    )
    .get(
      "/health",
      async () => {
        const [redisOk, proxyList] = await Promise.all([redisReachable(oauth), proxies.list()]);
        const signingKey = signingKeyState(oauth);
        const upstream = upstreamState(oauth);
        const withOwnApp = proxyList.filter((p) => p.github_client_id !== null && p.github_client_secret !== null).length;
        const problems: string[] = [];
        if (!signingKey.loaded) problems.push("no signing key is loaded: tokens cannot be issued");
        if (!upstream.credentials_configured) {
          problems.push(
            upstream.kind === "github"
              ? "GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET are not set: only proxies with their own GitHub app can log users in"
              : "OIDC_ISSUER_URL/OIDC_CLIENT_ID are not set: nobody can log in",
          );
        }
        if (!redisOk) problems.push("Redis does not answer");
        return {
          status: problems.length === 0 ? ("healthy" as const) : ("degraded" as const),
          problems,
          issuer: issuer(),
          signing_key: signingKey,
          upstream: { ...upstream, proxies_with_own_github_app: withOwnApp },
          redis: { reachable: redisOk },
        };
      },
      { detail: { summary: "Whether the OAuth server can work: signing key, upstream credentials (set or not, never their values), Redis" } },
    );
}
