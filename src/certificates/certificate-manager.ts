/**
 * The certificate manager of one node: issuance requests and their statuses,
 * the workers that run them, the renewal sweep, HTTP-01 answers and
 * self-signed certificates on request. The API and proxy creation talk to this.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { CertificateSettings } from "../core/certificate-config";
import type { Logger } from "../core/logger";
import type { AcmeIssuanceCounts } from "../metrics/acme-metrics";
import type { CertificateRecord, CertificateRepository } from "../storage/certificate-repository";
import { keys } from "../storage/keys";
import { watchAndCommit } from "../storage/transaction";
import { AcmeAccounts } from "./acme-accounts";
import { CertificateRequests, type NewCertificateRequest, type RequestOutcome } from "./certificate-requests";
import { ChallengeStore } from "./challenge-store";
import { IssuanceWorkers } from "./issuance-workers";
import { JobQueue } from "./job-queue";
import { RenewalScheduler, type RenewalState } from "./renewal";
import { createSelfSignedCertificate } from "./self-signed";
import { StatusStore, type CertificateStatus } from "./status-store";

export interface CertificateManagerOptions {
  readonly redis: Redis;
  readonly certificates: CertificateRepository;
  readonly settings: CertificateSettings;
  /** The port HTTP_PORT is bound to, for the challenge self-check; read at each issuance (the listener may start after the manager). */
  readonly httpPort: number;
  /** SELF_SIGNED_DAYS, for self-signed certificates made on request. */
  readonly selfSignedDays: number;
  /** ADMIN_EMAIL: the ACME contact when neither the request nor the token names one. */
  readonly adminEmail: string | null;
  readonly log: Logger;
  /** Counts ACME orders as they end (the gateway's metrics). */
  readonly issuances?: AcmeIssuanceCounts;
}

export class CertificateManager {
  readonly challenges: ChallengeStore;
  readonly statuses: StatusStore;
  readonly requests: CertificateRequests;
  private readonly queue: JobQueue;
  private readonly workers: IssuanceWorkers;
  private readonly renewal: RenewalScheduler;

  constructor(private readonly options: CertificateManagerOptions) {
    const { redis, certificates, settings, log } = options;
    this.challenges = new ChallengeStore(redis);
    this.statuses = new StatusStore(redis, settings.statusRetentionSeconds);
    this.queue = new JobQueue(redis);
    this.requests = new CertificateRequests(redis, this.queue, this.statuses, settings);
    this.workers = new IssuanceWorkers({
      redis,
      queue: this.queue,
      statuses: this.statuses,
      certificates,
      issuer: {
        accounts: new AcmeAccounts(redis),
        challenges: this.challenges,
        settings,
        get httpPort() {
          return options.httpPort;
        },
      },
      settings,
      log,
      nodeId: randomUUID(),
      issuances: options.issuances,
    });
    this.renewal = new RenewalScheduler({ redis, certificates, requests: this.requests, settings, log });
  }

  get settings(): CertificateSettings {
    return this.options.settings;
  }

  get adminEmail(): string | null {
    return this.options.adminEmail;
  }

  /** Starts this node's workers and renewal sweep (the API works without them: requests wait in Redis). */
  start(): void {
    this.workers.start();
    this.renewal.start();
  }

  async stop(): Promise<void> {
    this.renewal.stop();
    await this.workers.stop();
  }

  requestAcme(request: NewCertificateRequest): Promise<RequestOutcome> {
    return this.requests.issue(request);
  }

  /** Makes and stores a self-signed certificate for `domains` (the first is the common name); false if the name is taken. */
  async createSelfSigned(name: string, domains: readonly string[], ownerHash: string | null): Promise<CertificateRecord | null> {
    const made = await createSelfSignedCertificate(domains[0]!, this.options.selfSignedDays, new Date(), domains);
    const record: CertificateRecord = {
      cert_name: name,
      domains: [...domains],
      email: null,
      acme_directory_url: null,
      status: "active",
      owner_token_hash: ownerHash,
      ...made,
    };
    return (await this.options.certificates.create(record)) ? record : null;
  }

  /** A self-signed certificate made again for the same names (its "renewal"). */
  async remakeSelfSigned(record: CertificateRecord): Promise<CertificateRecord | null> {
    const made = await createSelfSignedCertificate(record.domains[0]!, this.options.selfSignedDays, new Date(), record.domains);
    return this.options.certificates.replace({ ...record, ...made });
  }

  /**
   * Deletes the certificate, its status and any job still waiting for it. The
   * lock of an issuance still running goes too: that issuance stores nothing
   * (its request is gone), and must not hold up a new request for the name.
   */
  async delete(name: string): Promise<boolean> {
    const deleted = await this.options.certificates.delete(name);
    await this.queue.forget(name);
    await this.options.redis.del(keys.certificateStatus(name), keys.certificateLock(name));
    return deleted;
  }

  /**
   * Drops a request that has no certificate yet (pending, issuing, waiting for
   * a retry, or failed): its status and lock in one transaction, then its
   * queued jobs. A worker already issuing it stores nothing, since its status
   * is gone. Only the request `seen` names (the caller was checked against
   * it): false if there is a certificate by that name, or another request or none.
   */
  async cancel(name: string, seen: Pick<CertificateStatus, "request_id" | "owner_token_hash">): Promise<boolean> {
    const { redis } = this.options;
    const dropped = await watchAndCommit(redis, [keys.certificate(name), keys.certificateStatus(name)], async (conn) => {
      const [certificate, raw] = await Promise.all([conn.exists(keys.certificate(name)), conn.get(keys.certificateStatus(name))]);
      const status = raw === null ? null : (JSON.parse(raw) as CertificateStatus);
      if (certificate || !status || status.request_id !== seen.request_id || status.owner_token_hash !== seen.owner_token_hash) return { result: false };
      return { commit: conn.multi().del(keys.certificateStatus(name), keys.certificateLock(name)), result: true };
    });
    if (dropped) await this.queue.forget(name);
    return dropped;
  }

  /**
   * A deleted token's requests that have no certificate yet: their queued jobs
   * and statuses go with it, so nothing is issued later for an owner that no
   * longer exists. Returns how many.
   */
  async dropRequestsOf(ownerHash: string): Promise<number> {
    let dropped = 0;
    for (const status of await this.statuses.ownedBy(ownerHash)) {
      if (status.status === "ready" || (await this.options.certificates.get(status.cert_name))) continue;
      await this.delete(status.cert_name);
      dropped++;
    }
    return dropped;
  }

  /** This node's renewal timer: running, last and next run (for /health). */
  get renewalState(): RenewalState {
    return this.renewal.state;
  }

  /** Runs one renewal sweep now (also what the timer does). */
  sweepRenewals(): Promise<string[]> {
    return this.renewal.sweep();
  }
}
