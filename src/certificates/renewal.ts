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

export class RenewalScheduler {
  private timer?: ReturnType<typeof setInterval>;

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
    this.timer = setInterval(() => void this.sweep().catch((err) => this.deps.log.warn({ err: (err as Error).message }, "renewal sweep failed")), every);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Queues the renewals due now; returns the names queued (empty if another node holds this interval's sweep). */
  async sweep(now = Date.now()): Promise<string[]> {
    const { redis, certificates, requests, settings, log } = this.deps;
    // The lock lives a little less than one interval, so each interval gets one sweep whichever node runs it.
    const hold = Math.max(1, Math.floor(settings.renewalCheckIntervalMs * 0.9));
    if (!(await redis.set(keys.renewalSweepLock, String(now), "PX", hold, "NX"))) return [];
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
