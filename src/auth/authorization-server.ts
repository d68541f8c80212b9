/**
 * Builds the authorization server from the settings: its stores on Redis, the
 * signing keys and the revoked-token list (both followed through the workflow
 * stream, so every node holds them in memory), the upstream identity
 * provider, and the app the edge serves on the auth hostnames.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../core/logger";
import { DISCARD_EVENTS, type OAuthEventSink } from "../consumers/oauth-events/event";
import type { OAuthSettings } from "../core/oauth-config";
import type { OAuthTokenCounts } from "../metrics/oauth-token-metrics";
import { SecretBox } from "../core/secret-box";
import type { ProxyRecord, ProxyRepository } from "../storage/proxy-repository";
import { EdgeTokenVerifier } from "./edge/edge-tokens";
import { ClientResolverWithDocuments } from "./clients/client-metadata-document";
import type { ClientResolver } from "./clients/client-authentication";
import { ClientStore } from "./clients/client-store";
import { EDGE_CLIENT, EDGE_CLIENT_ID } from "./edge/edge-client";
import { createOAuthApp } from "./oauth-app";
import type { ResourcePolicy } from "./resources";
import type { OAuthServerContext } from "./server/context";
import { Consents } from "./server/consents";
import { PendingConsents } from "./server/pending-consents";
import { PendingLogins } from "./server/pending-logins";
import { AuthorizationCodes } from "./tokens/authorization-codes";
import { RevokedTokens } from "./tokens/revoked-tokens";
import { SigningKeys } from "./tokens/signing-keys";
import { TokenStore } from "./tokens/token-store";
import { createUpstreamLogin } from "./upstream/create-upstream-login";
import { GitHubApps } from "./upstream/github-apps";

export interface AuthorizationServerDeps {
  readonly redis: Redis;
  readonly settings: OAuthSettings;
  readonly proxies: ProxyRepository;
  /** The key that encrypts per-proxy client secrets (loadSecretsKey). */
  readonly secretsKey: Uint8Array;
  /** True when this gateway serves the resource's host (strict resource validation). */
  readonly servesHost: (host: string) => boolean;
  /** The proxy serving a host, from this node's in-memory host table. */
  readonly liveProxy: (host: string) => ProxyRecord | null;
  /** The scopes the server offers, and those each host uses, from this node's live configuration (LiveScopeCatalog). */
  readonly scopes: { all(): readonly string[]; forHost(host: string): readonly string[] };
  /** The OAuth flow trace; without it, steps are not recorded. */
  readonly events?: OAuthEventSink;
  /** Counts tokens issued, refreshed and revoked (the gateway's metrics). */
  readonly tokenCounts?: OAuthTokenCounts;
  readonly log: Logger;
}

export interface AuthorizationServer {
  readonly context: OAuthServerContext;
  readonly githubApps: GitHubApps;
  readonly app: ReturnType<typeof createOAuthApp>;
  /** Loads (or creates) the signing key; call before the edge serves. */
  start(): Promise<void>;
}

export function createAuthorizationServer(deps: AuthorizationServerDeps): AuthorizationServer {
  const { redis, settings, log } = deps;
  const clients = new ClientStore(redis, { clientLifetimeSeconds: settings.clientLifetimeSeconds });
  const githubApps = new GitHubApps(deps.proxies, new SecretBox(deps.secretsKey), settings.github);
  const resources: ResourcePolicy = {
    maxResources: settings.maxResourcesPerToken,
    strict: settings.resourceValidationStrict,
    isServed: (_resource, host) => deps.servesHost(host),
  };
  const signingKeys = new SigningKeys(redis, settings, log);
  const revoked = new RevokedTokens(redis);
  const context: OAuthServerContext = {
    settings,
    redis,
    get supportedScopes() {
      return deps.scopes.all();
    },
    scopesForHost: (host) => deps.scopes.forHost(host),
    clients,
    clientResolver: withEdgeClient(
      new ClientResolverWithDocuments(clients, {
        enabled: settings.clientMetadataDocuments,
        allowPrivateAddresses: settings.clientMetadataAllowPrivate,
        supportedScopes: () => deps.scopes.all(),
      }),
    ),
    signingKeys,
    tokens: new TokenStore(redis, settings),
    codes: new AuthorizationCodes(redis),
    revoked,
    tokenVerifier: new EdgeTokenVerifier(signingKeys, revoked),
    pendingLogins: new PendingLogins(redis, settings.sessionTimeoutSeconds),
    pendingConsents: new PendingConsents(redis, settings.sessionTimeoutSeconds),
    consents: new Consents(redis, settings.consentLifetimeSeconds),
    upstream: createUpstreamLogin(settings, githubApps),
    resources,
    proxy: (hostname) => deps.proxies.get(hostname),
    servesHost: deps.servesHost,
    liveProxy: deps.liveProxy,
    clientIdMetadataDocuments: settings.clientMetadataDocuments,
    events: deps.events ?? DISCARD_EVENTS,
    tokenCounts: deps.tokenCounts,
    log,
  };
  return {
    context,
    githubApps,
    app: createOAuthApp(context),
    start: () => context.signingKeys.start(),
  };
}

/** The gateway's own sign-in client (redirect mode) is built in, never stored. */
function withEdgeClient(resolver: ClientResolver): ClientResolver {
  return { get: (clientId) => (clientId === EDGE_CLIENT_ID ? Promise.resolve(EDGE_CLIENT) : resolver.get(clientId)) };
}
