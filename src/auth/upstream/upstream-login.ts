/**
 * The one shape every upstream identity provider has for the authorization
 * server: send the browser there, then turn the code it brings back into a
 * UserIdentity. Whatever the provider needs to remember between the two
 * (a PKCE verifier, a nonce, which app was used) travels in `secrets`, which
 * the caller stores with its login state — the providers themselves keep none.
 */
import type { UserIdentity } from "../identity";

export interface UpstreamStartParams {
  /** The caller's own state value, echoed back by the provider on the redirect. */
  readonly state: string;
  /** Our callback URL, exactly as registered with the provider's app. */
  readonly redirectUri: string;
  /** The proxy the login is for: a proxy may bring its own GitHub app. */
  readonly proxyHostname: string | null;
}

export interface UpstreamFinishParams {
  readonly code: string;
  /** The same redirect URI that start() was given. */
  readonly redirectUri: string;
  readonly proxyHostname: string | null;
  /** What start() returned in `secrets`, unchanged. */
  readonly secrets: Record<string, string>;
  /**
   * The callback's `iss` query parameter (RFC 9207), when the provider sent
   * one: an OIDC provider that promises it is then held to it.
   */
  readonly iss?: string | null;
}

export interface UpstreamLogin {
  readonly kind: "github" | "oidc";
  /** Where to send the browser; `secrets` (e.g. OIDC PKCE verifier, nonce) must be kept by the caller with the login state and handed back to finish(). */
  start(params: UpstreamStartParams): Promise<{ url: string; secrets: Record<string, string> }>;
  /** Exchanges the code and learns who logged in. Throws UpstreamError with a message safe to show the user. */
  finish(params: UpstreamFinishParams): Promise<UserIdentity>;
}

/**
 * A login that cannot go on. The message names the reason in words fit for
 * the log and the user's error page; it never holds a secret, a token or a
 * code, so callers may show it as it is.
 */
export class UpstreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpstreamError";
  }
}
