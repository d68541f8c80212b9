/**
 * The certificate manager of one node: issuance requests and their statuses,
 * the workers that run them, the renewal sweep, HTTP-01 answers and
 * self-signed certificates on request. The API and proxy creation talk to this.
 */
import { randomUUID } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";
import type { CertificateSettings } from "../core/certificate-config";
import type { Logger } from "../core/logger";
import type { AcmeIssuanceCounts } from "../metrics/acme-metrics";
import type { CertificateRecord, CertificateRepository } from "../storage/certificate-repository";
import type { ProxyRepository } from "../storage/proxy-repository";
import { keys } from "../storage/keys";
import { watchAndCommit } from "../storage/transaction";
import { AcmeAccounts } from "./acme-accounts";
import { CertificateRequests, type NewCertificateRequest, type RequestOutcome } from "./certificate-requests";
import { ChallengeStore } from "./challenge-store";
import { IssuanceWorkers } from "./issuance-workers";
import { splitByIssuer } from "./internal-names";
import { JobQueue } from "./job-queue";
import { adoptCertificate, releaseCertificate } from "./proxy-certificate-sync";
import { LocalCa } from "./local-ca";
import { RenewalScheduler, type RenewalState } from "./renewal";
import { createSelfSignedCertificate } from "./self-signed";
import { StatusStore, type CertificateStatus } from "./status-store";

export interface CertificateManagerOptions {
  readonly redis: Redis;
  readonly certificates: CertificateRepository;
  /** When given, proxies follow the certificates that serve their hostnames (proxy-certificate-sync.ts). */
  readonly proxies?: ProxyRepository;
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
  readonly localCa: LocalCa;
  private readonly queue: JobQueue;
  private readonly workers: IssuanceWorkers;
  private readonly renewal: RenewalScheduler;

  constructor(private readonly options: CertificateManagerOptions) {
    const { redis, certificates, settings, log } = options;
    this.challenges = new ChallengeStore(redis);
    this.statuses = new StatusStore(redis, settings.statusRetentionSeconds);
    this.queue = new JobQueue(redis);
    this.localCa = new LocalCa(redis);
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
      onStored: (record) => this.stored(record),
    });
    this.renewal = new RenewalScheduler({
      redis,
      certificates,
      requests: this.requests,
      settings,
      log,
      reissueLocal: (record) => this.reissueLocal(record),
    });
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

  /** Queues an ACME request; `alsoQueue` adds writes to its transaction (see CertificateRequests.issue). */
  requestAcme(request: NewCertificateRequest, alsoQueue?: (tx: ChainableCommander) => void): Promise<RequestOutcome> {
    return this.requests.issue(request, alsoQueue);
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
    if (!(await this.options.certificates.create(record))) return null;
    await this.stored(record);
    return record;
  }

  /**
   * Who issues a certificate for `domains`: the local CA when every name is
   * internal (unless ACME_INTERNAL_NAMES sends them to the ACME directory),
   * ACME when none is. A mix cannot be issued by either, so it says which names are which.
   */
  issuerFor(domains: readonly string[]): { kind: "local-ca" } | { kind: "acme" } | { kind: "mixed"; internal: string[] } {
    if (this.options.settings.acmeInternalNames) return { kind: "acme" };
    const { internal, public: publicNames } = splitByIssuer(domains);
    if (internal.length === 0) return { kind: "acme" };
    return publicNames.length === 0 ? { kind: "local-ca" } : { kind: "mixed", internal };
  }

  /** Signs and stores a certificate from the local CA for `domains`; null if the name is taken. */
  async issueLocal(name: string, domains: readonly string[], ownerHash: string | null): Promise<CertificateRecord | null> {
    const made = await this.localCa.sign(domains, this.options.settings.localCaCertDays);
    const record: CertificateRecord = {
      cert_name: name,
      domains: [...domains],
      email: null,
      acme_directory_url: null,
      status: "active",
      owner_token_hash: ownerHash,
      issuer: "local-ca",
      ...made,
    };
    if (!(await this.options.certificates.create(record))) return null;
    this.options.log.info({ cert_name: name, domains, expires_at: made.expires_at }, "certificate signed by the local CA");
    await this.stored(record);
    return record;
  }

  /** A local-CA certificate signed again for the same names (its renewal); null if it was deleted meanwhile. */
  async reissueLocal(record: CertificateRecord): Promise<CertificateRecord | null> {
    const made = await this.localCa.sign(record.domains, this.options.settings.localCaCertDays);
    return this.options.certificates.replace({ ...record, ...made });
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
    if (this.options.proxies) {
      await releaseCertificate(this.options.proxies, this.options.certificates, name).catch((err) =>
        this.options.log.warn({ cert_name: name, err: (err as Error).message }, "could not update the proxies of a deleted certificate"),
      );
    }
    return deleted;
  }

  /** A certificate was stored: the proxies whose hostnames it now serves name it. Never fails the store. */
  private async stored(record: CertificateRecord): Promise<void> {
    if (!this.options.proxies) return;
    try {
      const adopted = await adoptCertificate(this.options.proxies, this.options.certificates, record);
      if (adopted.length > 0) this.options.log.info({ cert_name: record.cert_name, proxies: adopted }, "proxies now use the certificate");
    } catch (err) {
      this.options.log.warn({ cert_name: record.cert_name, err: (err as Error).message }, "could not point proxies at a new certificate");
    }
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
