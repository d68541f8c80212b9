/**
 * `cert:status:{name}`: where an issuance or renewal stands, for the status
 * endpoint and for operators. A ready status is kept CERT_STATUS_RETENTION_SECONDS
 * (the certificate then speaks for itself); any other never expires, so a
 * failure stays visible until a success replaces it or the request is deleted.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { keys } from "../storage/keys";
import type { AcmeProblem } from "./acme-problem";

export type IssuanceState = "pending" | "issuing" | "ready" | "failed";

export interface CertificateStatus {
  cert_name: string;
  status: IssuanceState;
  operation: "issue" | "renew";
  domains: string[];
  /** What is happening, or what went wrong, in words. */
  message: string;
  /** The CA's problem document (RFC 8555 §6.7) exactly as sent, or `{ detail }` for failures that have none. */
  error: AcmeProblem | null;
  /** Attempts made so far for this request (renewals retry with backoff). */
  attempts: number;
  /** When a failed issuance or renewal is tried again (ISO 8601), else null. */
  retry_at: string | null;
  /** Who asked: decides who may read the status before the certificate exists. */
  owner_token_hash: string | null;
  updated_at: string;
}

export class StatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly retentionSeconds: number,
  ) {}

  async get(name: string): Promise<CertificateStatus | null> {
    const raw = await this.redis.get(keys.certificateStatus(name));
    return raw === null ? null : (JSON.parse(raw) as CertificateStatus);
  }

  async set(status: Omit<CertificateStatus, "updated_at">): Promise<void> {
    const tx = this.redis.multi();
    this.queueSet(tx, status);
    await tx.exec();
  }

  /** Statuses of requests a token made (SCAN; for its cascade delete, never a request path). */
  async ownedBy(ownerHash: string): Promise<CertificateStatus[]> {
    const owned: CertificateStatus[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await this.redis.scan(cursor, "MATCH", keys.certificateStatus("*"), "COUNT", 500);
      cursor = next;
      if (batch.length === 0) continue;
      for (const raw of await this.redis.mget(batch)) {
        const status = raw === null ? null : (JSON.parse(raw) as CertificateStatus);
        if (status?.owner_token_hash === ownerHash) owned.push(status);
      }
    } while (cursor !== "0");
    return owned;
  }

  /** Queues the write in a transaction (a request's status is written with its job). */
  queueSet(tx: ChainableCommander, status: Omit<CertificateStatus, "updated_at">): void {
    const value = JSON.stringify({ ...status, updated_at: new Date().toISOString() });
    if (status.status === "ready") tx.set(keys.certificateStatus(status.cert_name), value, "EX", this.retentionSeconds);
    else tx.set(keys.certificateStatus(status.cert_name), value);
  }
}
