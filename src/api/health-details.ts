/**
 * What /health tells an operator beyond "Redis answers": the certificates this
 * node serves and the soonest to expire, the HTTPS listener, this node's
 * renewal timer, and how far this node's copy of the configuration is behind
 * `events:workflow`. Everything but the lag is read from memory, so it still
 * answers while Redis is away; the shaping functions are pure.
 */
import type { Redis } from "ioredis";
import type { RenewalState } from "../certificates/renewal";
import type { CertificateExpiry } from "../metrics/certificate-metrics";
import { keys } from "../storage/keys";
import { compareStreamIds } from "../orchestration/events";

/** Entries counted at most when a node is behind (the count says "at least" past it). */
export const LAG_COUNT_LIMIT = 1000;
const DAY_MS = 86_400_000;

export interface HealthSources {
  /** The certificates this node serves, as of its last reload (the fallback among them). */
  certificateExpiries(): readonly CertificateExpiry[];
  /** The name the self-signed fallback goes by in those expiries; it is reported apart. */
  readonly fallbackName: string;
  /** The HTTPS listener once it is bound, else null. */
  https(): { readonly port: number; readonly draining: boolean; readonly certificateProblem: string | null } | null;
  renewal(): RenewalState;
  /** The last events:workflow entry this node applied. */
  appliedEventId(): string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function certificateHealth(expiries: readonly CertificateExpiry[], fallbackName: string, now: number) {
  const named = expiries.filter((e) => e.certificate !== fallbackName);
  const soonest = named.reduce<CertificateExpiry | null>((first, e) => (first === null || e.notAfterMs < first.notAfterMs ? e : first), null);
  const fallback = expiries.find((e) => e.certificate === fallbackName);
  return {
    loaded: named.length,
    expired: named.filter((e) => e.notAfterMs <= now).length,
    soonest_expiry: soonest && {
      cert_name: soonest.certificate,
      expires_at: iso(soonest.notAfterMs),
      days_left: Math.floor(((soonest.notAfterMs - now) / DAY_MS) * 10) / 10,
    },
    fallback_expires_at: fallback ? iso(fallback.notAfterMs) : null,
  };
}

export function httpsHealth(https: ReturnType<HealthSources["https"]>) {
  if (!https) return { state: "starting" as const, port: null, draining: false, certificate_problem: null };
  return {
    // Serving, but the latest certificate change was refused: the previous set is still what clients get.
    state: https.certificateProblem === null ? ("listening" as const) : ("stale_certificates" as const),
    port: https.port,
    draining: https.draining,
    certificate_problem: https.certificateProblem,
  };
}

export function renewalHealth(state: RenewalState) {
  return {
    state: state.running ? ("scheduled" as const) : ("stopped" as const),
    interval_seconds: state.intervalMs / 1000,
    last_run_at: iso(state.lastRunAt),
    last_outcome: state.lastOutcome,
    next_run_at: iso(state.nextRunAt),
  };
}

const idMs = (id: string) => Number(id.split("-")[0]);


/**
 * How far `appliedId` is behind the stream's newest entry: entries not yet
 * applied (counted up to LAG_COUNT_LIMIT) and how long the oldest of them has
 * been waiting.
 */
export async function eventStreamLag(redis: Redis, appliedId: string, now: number) {
  const stream = keys.workflowStream;
  const [latest] = await redis.xrevrange(stream, "+", "-", "COUNT", 1);
  const latestId = latest?.[0] ?? "0-0";
  const unapplied = compareStreamIds(appliedId, latestId) < 0 ? await redis.xrange(stream, `(${appliedId}`, "+", "COUNT", LAG_COUNT_LIMIT) : [];
  return {
    stream,
    applied_id: appliedId,
    latest_id: latestId,
    behind_events: unapplied.length,
    lag_seconds: unapplied.length === 0 ? 0 : Math.max(0, (now - idMs(unapplied[0]![0])) / 1000),
  };
}

export async function healthDetails(sources: HealthSources, redis: Redis | null, now = Date.now()) {
  return {
    certificates: certificateHealth(sources.certificateExpiries(), sources.fallbackName, now),
    https: httpsHealth(sources.https()),
    renewal: renewalHealth(sources.renewal()),
    // Null while Redis does not answer: the lag cannot be measured then.
    event_stream: redis ? await eventStreamLag(redis, sources.appliedEventId(), now).catch(() => null) : null,
  };
}
