/**
 * Tokens the authorization server handed out or took back: access tokens
 * issued for an authorization code (issued), for a refresh token (refreshed),
 * and tokens revoked at /revoke (revoked). Counted where /token and /revoke
 * finish successfully; the counter reads them at scrape time.
 */
import { Counter, type Registry } from "prom-client";

export const OAUTH_TOKEN_EVENTS = ["issued", "refreshed", "revoked"] as const;
export type OAuthTokenEvent = (typeof OAUTH_TOKEN_EVENTS)[number];

/** What the OAuth endpoints call. */
export interface OAuthTokenCounts {
  count(event: OAuthTokenEvent): void;
}

export class OAuthTokenMetrics implements OAuthTokenCounts {
  private readonly counts = new Float64Array(OAUTH_TOKEN_EVENTS.length);

  constructor(registry: Registry) {
    const counts = this.counts;
    new Counter({
      name: "portcullis_oauth_tokens_total",
      help: "OAuth tokens issued (authorization code), refreshed (refresh token) and revoked by this node's authorization server",
      labelNames: ["event"],
      registers: [registry],
      collect() {
        this.reset();
        // Every event is always present, so a rate() over a quiet server is 0 rather than no data.
        OAUTH_TOKEN_EVENTS.forEach((event, i) => this.inc({ event }, counts[i]!));
      },
    });
  }

  count(event: OAuthTokenEvent): void {
    this.counts[OAUTH_TOKEN_EVENTS.indexOf(event)]!++;
  }
}
