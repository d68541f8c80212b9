/**
 * Everything the OAuth endpoints work with, wired once by the gateway.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../core/logger";
import type { OAuthEventSink } from "../../consumers/oauth-events/event";
import type { OAuthSettings } from "../../core/oauth-config";
import type { OAuthTokenCounts } from "../../metrics/oauth-token-metrics";
import type { ProxyRecord } from "../../storage/proxy-repository";
import type { ClientResolver } from "../clients/client-authentication";
import type { ClientStore } from "../clients/client-store";
import type { EdgeTokenVerifier } from "../edge/edge-tokens";
import type { ResourcePolicy } from "../resources";
import type { AuthorizationCodes } from "../tokens/authorization-codes";
import type { RevokedTokens } from "../tokens/revoked-tokens";
import type { SigningKeys } from "../tokens/signing-keys";
import type { TokenStore } from "../tokens/token-store";
import type { UpstreamLogin } from "../upstream/upstream-login";
import type { Consents } from "./consents";
import type { PendingConsents } from "./pending-consents";
import type { PendingLogins } from "./pending-logins";

export interface OAuthServerContext {
  readonly settings: OAuthSettings;
  readonly redis: Redis;
  /** Every scope clients may register and ask for: the MCP scopes and the configured ones, as of now (read it per request). */
  readonly supportedScopes: readonly string[];
  /** The scopes the proxy on a host uses (its resource, auth and routes): what a token for it may need. */
  scopesForHost(host: string): readonly string[];
  readonly clients: ClientStore;
  /** Registered clients, and clients identified by a metadata document URL. */
  readonly clientResolver: ClientResolver;
  readonly signingKeys: SigningKeys;
  readonly tokens: TokenStore;
  readonly codes: AuthorizationCodes;
  readonly revoked: RevokedTokens;
  readonly pendingLogins: PendingLogins;
  /** Sign-ins shown the consent page, waiting on the user's answer. */
  readonly pendingConsents: PendingConsents;
  /** What each user approved for each client. */
  readonly consents: Consents;
  readonly upstream: UpstreamLogin;
  readonly resources: ResourcePolicy;
  /** True when this gateway serves the host (a proxy's, or an auth hostname). */
  servesHost(host: string): boolean;
  /** The proxy serving a host, from this node's in-memory host table: for per-request answers (/verify). */
  liveProxy(host: string): ProxyRecord | null;
  /** This node's token verifier, shared with the edge: a token seen before is decided from memory. */
  readonly tokenVerifier: EdgeTokenVerifier;
  /** A proxy's stored settings (per-proxy issuer, allowlist, GitHub app); null for unknown hosts. */
  proxy(hostname: string): Promise<ProxyRecord | null>;
  readonly clientIdMetadataDocuments: boolean;
  /** Where each step of a sign-in is traced (flow-trace.ts). */
  readonly events: OAuthEventSink;
  /** Counts tokens issued, refreshed and revoked (portcullis_oauth_tokens_total); absent in tests that build a bare server. */
  readonly tokenCounts?: OAuthTokenCounts;
  readonly log: Logger;
}

/** The proxy a request on `host` is about: none on the auth hostnames themselves. */
export async function proxyForHost(context: OAuthServerContext, host: string): Promise<ProxyRecord | null> {
  return context.settings.authHostnames.includes(host) ? null : context.proxy(host);
}
