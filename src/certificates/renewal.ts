/**
 * Every RENEWAL_CHECK_INTERVAL, one node (whichever takes the sweep lock)
 * queues a renewal for each ACME certificate within RENEWAL_THRESHOLD_DAYS of
 * expiry. The workers do the renewing; a failed renewal retries with backoff
 * from the later-queue, so the sweep skips certificates already in progress.
 * Certificates of the local CA are short-lived: the sweep signs them again
 * itself once a third of their lifetime is left (no CA to wait for).
 */
import type { Redis } from "ioredis";
import type { CertificateSettings } from "../core/certificate-config";
import type { Logger } from "../core/logger";
import type { CertificateRecord, CertificateRepository } from "../storage/certificate-repository";
import { keys } from "../storage/keys";
import type { CertificateRequests } from "./certificate-requests";

const DAY_MS = 86_400_000;

/** What /health shows of this node's sweep timer. */
export interface RenewalState {
  readonly running: boolean;
  readonly intervalMs: number;
  /** When this node's timer last fired (ms since the epoch), and what came of it. */
  readonly lastRunAt: number | null;
  readonly lastOutcome: string | null;
  /** When it fires next (null while stopped). */
  readonly nextRunAt: number | null;
}

export class RenewalScheduler {
  private timer?: ReturnType<typeof setInterval>;
  private startedAt: number | null = null;
  private lastRunAt: number | null = null;
  private lastOutcome: string | null = null;
  /** Whether the latest sweep() took the interval's lock (false: another node had it). */
  private lastSweepRan = false;

  constructor(
    private readonly deps: {
      readonly redis: Redis;
      readonly certificates: CertificateRepository;
      readonly requests: CertificateRequests;
      readonly settings: CertificateSettings;
      readonly log: Logger;
      /** Signs a local-CA certificate again for the same names. */
      readonly reissueLocal: (record: CertificateRecord) => Promise<unknown>;
    },
  ) {}

  start(): void {
    const every = this.deps.settings.renewalCheckIntervalMs;
    this.startedAt = Date.now();
    this.timer = setInterval(() => void this.tick(), every);
  }

  stop(): void {
    clearInterval(this.timer);
    this.startedAt = null;
  }

  get state(): RenewalState {
    const intervalMs = this.deps.settings.renewalCheckIntervalMs;
    let nextRunAt: number | null = null;
    if (this.startedAt !== null) {
      const elapsed = Math.max(0, Date.now() - this.startedAt);
      nextRunAt = this.startedAt + (Math.floor(elapsed / intervalMs) + 1) * intervalMs;
    }
    return { running: this.startedAt !== null, intervalMs, lastRunAt: this.lastRunAt, lastOutcome: this.lastOutcome, nextRunAt };
  }

  private async tick(): Promise<void> {
    const at = Date.now();
    try {
      const queued = await this.sweep(at);
      this.lastOutcome = this.lastSweepRan ? `checked; ${queued.length} renewal${queued.length === 1 ? "" : "s"} queued` : "skipped: another node swept this interval";
    } catch (err) {
      this.lastOutcome = `failed: ${(err as Error).message}`;
      this.deps.log.warn({ err: (err as Error).message }, "renewal sweep failed");
    }
    this.lastRunAt = at;
  }

  /** Queues the renewals due now; returns the names queued (empty if another node holds this interval's sweep). */
  async sweep(now = Date.now()): Promise<string[]> {
    const { redis, certificates, requests, settings, log } = this.deps;
    // The lock lives a little less than one interval, so each interval gets one sweep whichever node runs it.
    const hold = Math.max(1, Math.floor(settings.renewalCheckIntervalMs * 0.9));
    this.lastSweepRan = false;
    if (!(await redis.set(keys.renewalSweepLock, String(now), "PX", hold, "NX"))) return [];
    this.lastSweepRan = true;
    const due = now + settings.renewalThresholdDays * DAY_MS;
    const localDue = now + (settings.localCaCertDays * DAY_MS) / 3;
    const queued: string[] = [];
    for (const record of await certificates.list()) {
      if (record.issuer === "local-ca") {
        if (!record.expires_at || Date.parse(record.expires_at) <= localDue) await this.renewLocal(record, queued);
        continue;
      }
      if (!record.acme_directory_url || !record.expires_at || Date.parse(record.expires_at) > due) continue;
      const outcome = await requests.renew(record);
      if (outcome.queued) queued.push(record.cert_name);
    }
    if (queued.length > 0) log.info({ certificates: queued }, "renewals queued");
    return queued;
  }

  /** One failure is logged and left for the next sweep; the others go on. */
  private async renewLocal(record: CertificateRecord, renewed: string[]): Promise<void> {
    try {
      await this.deps.reissueLocal(record);
      renewed.push(record.cert_name);
    } catch (err) {
      this.deps.log.warn({ cert_name: record.cert_name, err: (err as Error).message }, "could not renew a local CA certificate; the next sweep tries again");
    }
  }
}
