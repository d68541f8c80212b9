/**
 * Login with GitHub (or GitHub Enterprise): the OAuth web flow with PKCE,
 * through the proxy's own OAuth app or the gateway's default one.
 * @see https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
 */
import type { GitHubSettings } from "../../core/oauth-config";
import type { UserIdentity } from "../identity";
import { GitHubApi, type GitHubEmail, type GitHubUser } from "./github-api";
import type { GitHubApps } from "./github-apps";
import { pkcePair } from "./pkce";
import { UpstreamError, type UpstreamFinishParams, type UpstreamLogin, type UpstreamStartParams } from "./upstream-login";

/** Enough to read who the user is and their verified emails; nothing that touches repositories. */
export const GITHUB_SCOPES = "read:user user:email";

const DEFAULT_TIMEOUT_MS = 10_000;

export class GitHubLogin implements UpstreamLogin {
  readonly kind = "github" as const;
  private readonly api: GitHubApi;

  constructor(
    private readonly settings: GitHubSettings,
    private readonly apps: GitHubApps,
    options: { timeoutMs?: number } = {},
  ) {
    this.api = new GitHubApi(settings, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  async start({ state, redirectUri, proxyHostname }: UpstreamStartParams): Promise<{ url: string; secrets: Record<string, string> }> {
    const app = await this.credentials(proxyHostname);
    const pkce = pkcePair();
    const url = new URL(`${this.settings.oauthBaseUrl}/login/oauth/authorize`);
    url.search = new URLSearchParams({
      client_id: app.clientId,
      redirect_uri: redirectUri,
      state,
      scope: GITHUB_SCOPES,
      code_challenge: pkce.challenge,
      code_challenge_method: "S256",
    }).toString();
    // client_id is kept so that finish() notices the proxy's app changing mid-login.
    return { url: url.href, secrets: { code_verifier: pkce.verifier, client_id: app.clientId } };
  }

  async finish({ code, redirectUri, proxyHostname, secrets }: UpstreamFinishParams): Promise<UserIdentity> {
    const app = await this.credentials(proxyHostname);
    if (secrets.client_id !== undefined && secrets.client_id !== app.clientId) {
      throw new UpstreamError("the GitHub app for this login changed while it was under way; please log in again");
    }
    const accessToken = await this.api.exchangeCode({
      clientId: app.clientId,
      clientSecret: app.clientSecret,
      code,
      redirectUri,
      codeVerifier: secrets.code_verifier ?? null,
    });
    const [user, emails] = await Promise.all([this.api.user(accessToken), this.api.emails(accessToken)]);
    return githubIdentity(user, emails);
  }

  private async credentials(proxyHostname: string | null) {
    const app = await this.apps.credentialsFor(proxyHostname);
    if (!app) {
      throw new UpstreamError("GitHub login is not configured: set GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET or the proxy's github-oauth");
    }
    return app;
  }
}

/**
 * The identity a GitHub account gives. Only verified addresses count, since an
 * email allowlist must not admit someone who merely typed an address in; the
 * public profile email stands in when the emails list could not be read
 * (GitHub lets only verified addresses be public).
 */
export function githubIdentity(user: GitHubUser, emails: readonly GitHubEmail[] | null): UserIdentity {
  const verified = emails ? emails.filter((e) => e.verified) : user.email ? [{ email: user.email, primary: true, verified: true }] : [];
  const primary = verified.find((e) => e.primary)?.email ?? user.email ?? verified[0]?.email ?? null;
  return {
    sub: `github-${user.id}`,
    provider: "github",
    username: user.login.toLowerCase(),
    name: user.name,
    email: primary,
    emails: verified.map((e) => e.email),
  };
}
