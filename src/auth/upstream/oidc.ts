/**
 * Login with any OpenID Connect provider: discovery, the authorization code
 * flow with PKCE S256, nonce and state, and a validated ID token. The protocol
 * checks (issuer of the discovery document, the ID token's signature against
 * the provider's JWKS, iss, aud, azp, exp, iat, nonce, the algorithm the
 * provider announces) are openid-client's, which is maintained with jose and
 * oidc-provider and certified against the OpenID conformance suite.
 *
 * openid-client trusts an ID token from the token endpoint on the strength of
 * TLS alone, as OIDC Core §3.1.3.7 allows; we also verify its signature
 * (enableNonRepudiationChecks), so a compromised path to the token endpoint
 * or an http:// loopback provider cannot mint identities.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
 */
import * as oidc from "openid-client";
import type { OidcSettings } from "../../core/oauth-config";
import type { UserIdentity } from "../identity";
import { describeOidcFailure } from "./oidc-errors";
import { UpstreamError, type UpstreamFinishParams, type UpstreamLogin, type UpstreamStartParams } from "./upstream-login";

const DEFAULT_TIMEOUT_MS = 10_000;
/** Providers rotate keys and move endpoints rarely; re-reading discovery hourly follows them without a restart. */
const DISCOVERY_TTL_MS = 3_600_000;

export class OidcLogin implements UpstreamLogin {
  readonly kind = "oidc" as const;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch | undefined;
  private discovered: { config: Promise<oidc.Configuration>; at: number } | null = null;

  constructor(
    private readonly settings: OidcSettings,
    options: { timeoutMs?: number; fetch?: typeof fetch } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetch = options.fetch;
  }

  async start({ state, redirectUri }: UpstreamStartParams): Promise<{ url: string; secrets: Record<string, string> }> {
    const config = await this.configuration();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.settings.scopes.join(" "),
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
    });
    return { url: url.href, secrets: { code_verifier: codeVerifier, nonce } };
  }

  async finish({ code, redirectUri, secrets, iss }: UpstreamFinishParams): Promise<UserIdentity> {
    const config = await this.configuration();
    if (!secrets.code_verifier || !secrets.nonce) throw new UpstreamError("the login lost its PKCE verifier or nonce; please log in again");
    // The caller found its login by `state` already, so state is not checked twice.
    // RFC 9207: a provider that promises `iss` on the redirect is held to the value the caller saw.
    const callback = new URL(redirectUri);
    callback.search = "";
    callback.searchParams.set("code", code);
    if (config.serverMetadata().authorization_response_iss_parameter_supported) {
      callback.searchParams.set("iss", iss ?? config.serverMetadata().issuer);
    }
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: secrets.code_verifier,
        expectedNonce: secrets.nonce,
        expectedState: oidc.skipStateCheck,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims()!;
      let claims: Record<string, unknown> = idClaims;
      // Many providers put profile claims only in the UserInfo answer (OIDC Core §5.4).
      const lacking = [this.settings.usernameClaim, "email"].some((claim) => idClaims[claim] === undefined);
      if (lacking && config.serverMetadata().userinfo_endpoint) {
        const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
        claims = { ...userinfo, ...idClaims };
      }
      return oidcIdentity(claims, this.settings.usernameClaim);
    } catch (error) {
      throw describeOidcFailure(error, this.timeoutMs);
    }
  }

  /** The discovered provider, cached; a failed discovery is not, so the next login tries again. */
  private configuration(): Promise<oidc.Configuration> {
    const now = Date.now();
    if (!this.discovered || now - this.discovered.at > DISCOVERY_TTL_MS) {
      const config = this.discover();
      this.discovered = { config, at: now };
      config.catch(() => {
        if (this.discovered?.config === config) this.discovered = null;
      });
    }
    return this.discovered.config;
  }

  private async discover(): Promise<oidc.Configuration> {
    const { issuer, clientId, clientSecret } = this.settings;
    const server = new URL(issuer);
    // OIDC_ISSUER_URL may be http:// only on loopback (checked in oauth-config).
    const insecure = server.protocol === "http:";
    try {
      const config = await oidc.discovery(
        server,
        clientId,
        undefined,
        clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None(),
        {
          timeout: this.timeoutMs / 1000,
          execute: insecure ? [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] : [oidc.enableNonRepudiationChecks],
          ...(this.fetch ? { [oidc.customFetch]: this.fetch } : {}),
        },
      );
      return config;
    } catch (error) {
      throw describeOidcFailure(error, this.timeoutMs, "discovery");
    }
  }
}

/**
 * The identity an OIDC account gives. An email counts only if the provider
 * does not say it is unverified; an unverified one is not used as the
 * username either, since anyone can type in someone else's address.
 */
export function oidcIdentity(claims: Record<string, unknown>, usernameClaim: string): UserIdentity {
  const sub = claims.sub as string;
  const email = typeof claims.email === "string" && claims.email !== "" && claims.email_verified !== false ? claims.email : null;
  const named = claims[usernameClaim];
  const username = typeof named === "string" && named !== "" ? named : (email ?? sub);
  return {
    sub: `oidc-${sub}`,
    provider: "oidc",
    username: username.toLowerCase(),
    name: typeof claims.name === "string" && claims.name !== "" ? claims.name : null,
    email,
    emails: email ? [email] : [],
  };
}
