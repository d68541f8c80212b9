/**
 * Which GitHub OAuth app a login uses: the proxy's own (002 "Per-Proxy GitHub
 * OAuth Apps"), else GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET. A proxy's client
 * secret is stored sealed by the SecretBox and opened only here, per login.
 */
import type { GitHubSettings } from "../../core/oauth-config";
import type { SecretBox } from "../../core/secret-box";
import type { ProxyRecord, ProxyRepository } from "../../storage/proxy-repository";
import { UpstreamError } from "./upstream-login";

export interface GitHubCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly source: "proxy" | "default";
}

export class GitHubApps {
  constructor(
    private readonly proxies: ProxyRepository,
    private readonly secrets: SecretBox,
    private readonly defaults: GitHubSettings,
  ) {}

  /** The app for a login to this proxy, or null when neither the proxy nor the environment names one. */
  async credentialsFor(proxyHostname: string | null): Promise<GitHubCredentials | null> {
    const proxy = proxyHostname ? await this.proxies.get(proxyHostname.toLowerCase()) : null;
    if (proxy?.github_client_id && proxy.github_client_secret) {
      let clientSecret: string;
      try {
        clientSecret = this.secrets.open(proxy.github_client_secret);
      } catch {
        // Falling back to the default app would log users in through an app the proxy's owner did not choose.
        throw new UpstreamError(
          `the GitHub app of ${proxy.hostname} cannot be used: its stored secret does not open with this gateway's OAUTH_SECRETS_KEY; configure the proxy's github-oauth again`,
        );
      }
      return { clientId: proxy.github_client_id, clientSecret, source: "proxy" };
    }
    if (this.defaults.clientId && this.defaults.clientSecret) {
      return { clientId: this.defaults.clientId, clientSecret: this.defaults.clientSecret, source: "default" };
    }
    return null;
  }

  /**
   * The proxy's own client secret, opened: for `export --include-secrets`
   * (the API route checks who may ask). Null when the proxy has none; throws
   * when the stored secret does not open with this gateway's key.
   */
  openSecret(proxy: ProxyRecord): string | null {
    return proxy.github_client_secret ? this.secrets.open(proxy.github_client_secret) : null;
  }

  /** Gives the proxy its own app; the secret is sealed before it is written. Null when the proxy does not exist. */
  configure(hostname: string, clientId: string, clientSecret: string): Promise<ProxyRecord | null> {
    const sealed = this.secrets.seal(clientSecret);
    return this.proxies.update(hostname, (current) => ({ ...current, github_client_id: clientId, github_client_secret: sealed }));
  }

  /** Back to the default app. Null when the proxy does not exist. */
  clear(hostname: string): Promise<ProxyRecord | null> {
    return this.proxies.update(hostname, (current) => ({ ...current, github_client_id: null, github_client_secret: null }));
  }
}
