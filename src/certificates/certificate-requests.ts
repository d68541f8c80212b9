/**
 * Asking for a certificate: the request's status and its job are written in
 * one transaction, after checking that the name is free and nothing is
 * already in progress for it, so a request is either fully queued or not at
 * all. Used by the API and by proxy creation.
 */
import { createPrivateKey, randomUUID } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";
import type { CertificateSettings } from "../core/certificate-config";
import type { CertificateRecord } from "../storage/certificate-repository";
import { keys } from "../storage/keys";
import { watchAndCommit } from "../storage/transaction";
import type { KeyType } from "./acme-issuer";
import type { IssuanceJob, JobQueue } from "./job-queue";
import type { CertificateStatus, StatusStore } from "./status-store";

export interface NewCertificateRequest {
  readonly cert_name: string;
  readonly domains: readonly string[];
  readonly email: string | null;
  readonly staging: boolean;
  /** A directory already checked against the allowed ones; it wins over `staging`. */
  readonly directory_url?: string;
  readonly key_type: KeyType;
  readonly owner_token_hash: string | null;
}

export type RequestOutcome = { queued: true; job: IssuanceJob } | { queued: false; reason: "exists" | "missing" | "in_progress" };

export class CertificateRequests {
  constructor(
    private readonly redis: Redis,
    private readonly queue: JobQueue,
    private readonly statuses: StatusStore,
    private readonly settings: CertificateSettings,
  ) {}

  directoryFor(staging: boolean): string {
    return staging ? this.settings.stagingUrl : this.settings.directoryUrl;
  }

  /**
   * Queues the first issuance of a certificate that does not exist yet.
   * `alsoQueue` adds writes to the same transaction (a workflow event's done marker).
   */
  issue(request: NewCertificateRequest, alsoQueue?: (tx: ChainableCommander) => void): Promise<RequestOutcome> {
    const job: IssuanceJob = {
      cert_name: request.cert_name,
      domains: [...request.domains],
      email: request.email,
      directory_url: request.directory_url ?? this.directoryFor(request.staging),
      key_type: request.key_type,
      owner_token_hash: request.owner_token_hash,
      operation: "issue",
      attempt: 1,
    };
    return this.enqueue(job, true, alsoQueue);
  }

  /** Queues a renewal of a stored ACME certificate, with the directory and email it was issued with. */
  renew(record: CertificateRecord): Promise<RequestOutcome> {
    const job: IssuanceJob = {
      cert_name: record.cert_name,
      domains: record.domains,
      email: record.email,
      directory_url: record.acme_directory_url ?? this.settings.directoryUrl,
      key_type: keyTypeOf(record.private_key_pem),
      owner_token_hash: record.owner_token_hash,
      operation: "renew",
      attempt: 1,
    };
    return this.enqueue(job, false);
  }

  private enqueue(request: IssuanceJob, mustBeNew: boolean, alsoQueue?: (tx: ChainableCommander) => void): Promise<RequestOutcome> {
    // Each request gets an id its status and job share: a worker stores nothing for a request deleted or replaced meanwhile.
    const job: IssuanceJob = { ...request, request_id: randomUUID() };
    const name = job.cert_name;
    return watchAndCommit<RequestOutcome>(this.redis, [keys.certificate(name), keys.certificateStatus(name)], async (conn) => {
      const [exists, rawStatus, locked] = await Promise.all([
        conn.exists(keys.certificate(name)),
        conn.get(keys.certificateStatus(name)),
        conn.exists(keys.certificateLock(name)),
      ]);
      if (mustBeNew && exists) return { result: { queued: false, reason: "exists" } };
      if (!mustBeNew && !exists) return { result: { queued: false, reason: "missing" } };
      const status = rawStatus ? (JSON.parse(rawStatus) as CertificateStatus) : null;
      // "issuing" with no lock: the node doing it died (its lock expired), so the request may start over.
      const abandoned = status?.status === "issuing" && !locked;
      if (status && inProgress(status) && !abandoned) return { result: { queued: false, reason: "in_progress" } };
      const tx = conn.multi();
      this.statuses.queueSet(tx, {
        cert_name: name,
        status: "pending",
        operation: job.operation,
        domains: job.domains,
        message: "waiting for a worker",
        error: null,
        attempts: 0,
        retry_at: null,
        owner_token_hash: job.owner_token_hash,
        request_id: job.request_id,
      });
      this.queue.queuePush(tx, job);
      alsoQueue?.(tx);
      return { commit: tx, result: { queued: true, job } };
    });
  }
}

/** Pending or issuing; a failed issuance or renewal waiting for its retry counts too. */
export function inProgress(status: CertificateStatus): boolean {
  return status.status === "pending" || status.status === "issuing" || (status.status === "failed" && status.retry_at !== null);
}

/** Renewals keep the key type: an EC key stays EC. */
function keyTypeOf(privateKeyPem: string): KeyType {
  try {
    return createPrivateKey(privateKeyPem).asymmetricKeyType === "ec" ? "ecdsa" : "rsa";
  } catch {
    return "rsa";
  }
}
