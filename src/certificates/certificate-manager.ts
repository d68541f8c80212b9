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
import { AcmeAccounts } from "./acme-accounts";
import { CertificateRequests, type NewCertificateRequest, type RequestOutcome } from "./certificate-requests";
import { ChallengeStore } from "./challenge-store";
import { IssuanceWorkers } from "./issuance-workers";
import { JobQueue } from "./job-queue";
import { RenewalScheduler } from "./renewal";
import { createSelfSignedCertificate } from "./self-signed";
import { StatusStore } from "./status-store";

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

  /** Deletes the certificate, its status and any job still waiting for it. */
  async delete(name: string): Promise<boolean> {
    const deleted = await this.options.certificates.delete(name);
    await this.queue.forget(name);
    await this.options.redis.del(keys.certificateStatus(name));
    return deleted;
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

  /** Runs one renewal sweep now (also what the timer does). */
  sweepRenewals(): Promise<string[]> {
    return this.renewal.sweep();
  }
}
