/**
 * The edge's authentication outcomes per configured proxy host: a request let
 * through with a valid token (ok), refused for a missing or bad token (401) or
 * for a token that lacks access (403). The edge calls `ok`/`refused` per
 * request, so each is a Map lookup and a typed-array increment; prom-client
 * sees the tallies only when /metrics is scraped.
 */
import { Counter, type Registry } from "prom-client";

export const AUTH_OUTCOMES = ["ok", "401", "403"] as const;
export type AuthOutcome = (typeof AUTH_OUTCOMES)[number];

export class AuthMetrics {
  /** Host → counts in AUTH_OUTCOMES order. */
  private readonly byHost = new Map<string, Float64Array>();

  constructor(registry: Registry) {
    const byHost = this.byHost;
    new Counter({
      name: "portcullis_auth_outcomes_total",
      help: "Edge authentication decisions on protected proxies, by configured proxy host and outcome (ok, 401, 403)",
      labelNames: ["host", "outcome"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [host, counts] of byHost) {
          for (let i = 0; i < AUTH_OUTCOMES.length; i++) if (counts[i]! > 0) this.inc({ host, outcome: AUTH_OUTCOMES[i]! }, counts[i]!);
        }
      },
    });
  }

  /** A request the edge let through after checking its token. `host` must be a configured hostname, never a raw Host header. */
  ok(host: string): void {
    this.counts(host)[0]!++;
  }

  /** A request the edge refused: 401 (no usable token) or 403 (not allowed). */
  refused(host: string, status: 401 | 403): void {
    this.counts(host)[status === 401 ? 1 : 2]!++;
  }

  /** How many of `outcome` were counted for `host`. */
  count(host: string, outcome: AuthOutcome): number {
    return this.byHost.get(host)?.[AUTH_OUTCOMES.indexOf(outcome)] ?? 0;
  }

  private counts(host: string): Float64Array {
    let counts = this.byHost.get(host);
    if (!counts) this.byHost.set(host, (counts = new Float64Array(AUTH_OUTCOMES.length)));
    return counts;
  }
}
