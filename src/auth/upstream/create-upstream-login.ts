/** The upstream identity provider OAUTH_UPSTREAM names, ready to use. */
import type { OAuthSettings } from "../../core/oauth-config";
import type { GitHubApps } from "./github-apps";
import { GitHubLogin } from "./github";
import { OidcLogin } from "./oidc";
import type { UpstreamLogin } from "./upstream-login";

export function createUpstreamLogin(settings: OAuthSettings, githubApps: GitHubApps, options: { timeoutMs?: number } = {}): UpstreamLogin {
  // parseOAuthSettings refuses OAUTH_UPSTREAM=oidc without OIDC settings, so `oidc` is set here.
  if (settings.upstream === "oidc" && settings.oidc) return new OidcLogin(settings.oidc, options);
  return new GitHubLogin(settings.github, githubApps, options);
}
