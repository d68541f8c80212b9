/**
 * Runs issuance jobs from the shared queue, at most CERT_GEN_MAX_WORKERS at
 * once on this node; the rest wait in Redis for any node's free worker. A
 * certificate is worked on by one node at a time (`cert:lock:{name}`, renewed
 * while the work lasts and expiring if the node dies). Issued certificates are
 * stored through the repository, whose `certificate_ready` event makes every
 * node serve them.
 */
import type { Redis } from "ioredis";
import type { CertificateSettings } from "../core/certificate-config";
import type { Logger } from "../core/logger";
import type { AcmeIssuanceCounts } from "../metrics/acme-metrics";
import type { CertificateRecord, CertificateRepository, WriteGuard } from "../storage/certificate-repository";
import { keys } from "../storage/keys";
import { issueCertificate, type IssuerDeps } from "./acme-issuer";
import { IssuanceError } from "./acme-problem";
import type { IssuanceJob, JobQueue } from "./job-queue";
import type { StatusStore } from "./status-store";

const LOCK_TTL_MS = 120_000;
const LOCK_REFRESH_MS = 30_000;
const TAKE_TIMEOUT_SECONDS = 1;
const MOVE_DUE_EVERY_MS = 1_000;
/** How long a stopping node lets running issuances finish before handing them back to the queue. */
const STOP_GRACE_MS = 2_000;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const REFRESH = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

export interface WorkerDeps {
  readonly redis: Redis;
  readonly queue: JobQueue;
  readonly statuses: StatusStore;
  readonly certificates: CertificateRepository;
  readonly issuer: Omit<IssuerDeps, "onProgress">;
  readonly settings: CertificateSettings;
  readonly log: Logger;
  /** Names this node in locks. */
  readonly nodeId: string;
  /** Counts each order that ends here (portcullis_acme_issuances_total). */
  readonly issuances?: AcmeIssuanceCounts;
  /** Called after an issued certificate is stored (the proxies it serves follow it). */
  readonly onStored?: (record: CertificateRecord) => Promise<void>;
}

export class IssuanceWorkers {
  /** BLPOP holds its connection: the queue gets one of its own, opened by start(). */
  private blocking?: Redis;
  /** Issuances running on this node, and their jobs (handed back if the node stops first). */
  private readonly running = new Map<Promise<void>, IssuanceJob>();
  /** Jobs handed back by stop(): if their issuance still ends here, it must not write over the queue's state. */
  private readonly handedBack = new Set<IssuanceJob>();
  private stopped = false;
  private loop?: Promise<void>;
  private mover?: ReturnType<typeof setInterval>;
  private slotFreed?: () => void;

  constructor(private readonly deps: WorkerDeps) {}

  start(): void {
    const blocking = this.deps.redis.duplicate();
    blocking.on("error", () => {}); // reconnects on its own; the main connection reports outages
    this.blocking = blocking;
    this.loop = this.takeJobs(blocking);
    this.mover = setInterval(() => void this.deps.queue.moveDue().catch(() => {}), MOVE_DUE_EVERY_MS);
  }

  /**
   * Stops taking jobs, gives running ones a moment, then puts the rest back at
   * the head of the queue (and frees their locks) for another node or the next
   * start. An issuance left running here may still finish; storing it twice is harmless.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.mover);
    this.slotFreed?.();
    this.blocking?.disconnect();
    await this.loop;
    await Promise.race([Promise.allSettled([...this.running.keys()]), Bun.sleep(STOP_GRACE_MS)]);
    const { redis, queue, statuses, nodeId } = this.deps;
    for (const job of this.running.values()) {
      this.handedBack.add(job);
      // A cancelled request is not handed back: nobody wants it any more.
      if (await this.cancelled(job).catch(() => false)) continue;
      await queue.requeue(job).catch(() => {});
      await redis.eval(RELEASE, 1, keys.certificateLock(job.cert_name), lockOwner(nodeId, job)).catch(() => {});
      await writeStatus(statuses, job, { ...statusBase(job), attempts: job.attempt - 1, status: "pending", message: "handed back to the queue: the node working on it stopped", error: null }).catch(() => {});
    }
    this.running.clear();
  }

  private async takeJobs(blocking: Redis): Promise<void> {
    while (!this.stopped) {
      if (this.running.size >= this.deps.settings.maxWorkers) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        continue;
      }
      let job: IssuanceJob | null = null;
      try {
        job = await this.deps.queue.take(blocking, TAKE_TIMEOUT_SECONDS);
      } catch {
        if (!this.stopped) await Bun.sleep(1_000);
      }
      if (!job || this.stopped) continue;
      const work: Promise<void> = this.run(job).finally(() => {
        this.running.delete(work);
        this.slotFreed?.();
      });
      this.running.set(work, job);
    }
  }

  private async run(job: IssuanceJob): Promise<void> {
    const { redis, log } = this.deps;
    const lock = keys.certificateLock(job.cert_name);
    const owner = lockOwner(this.deps.nodeId, job);
    if (job.request_id && !(await this.deps.statuses.isCurrent(job.cert_name, job.request_id))) {
      log.info({ cert_name: job.cert_name }, "the request was deleted or replaced before a worker took it; job dropped");
      return;
    }
    if (!(await redis.set(lock, owner, "PX", LOCK_TTL_MS, "NX"))) {
      log.info({ cert_name: job.cert_name }, "another node is already issuing this certificate; job dropped");
      return;
    }
    const refresh = setInterval(() => void redis.eval(REFRESH, 1, lock, owner, String(LOCK_TTL_MS)).catch(() => {}), LOCK_REFRESH_MS);
    try {
      await this.issue(job);
    } finally {
      clearInterval(refresh);
      await redis.eval(RELEASE, 1, lock, owner).catch(() => {});
    }
  }

  private async issue(job: IssuanceJob): Promise<void> {
    const { log, certificates } = this.deps;
    // A retry keeps showing the last failure until a success replaces it.
    const lastError = job.attempt > 1 ? ((await this.deps.statuses.get(job.cert_name))?.error ?? null) : null;
    const base = { ...statusBase(job), error: lastError };
    const statuses = { set: (status: Parameters<StatusStore["set"]>[0]) => (this.handedBack.has(job) ? Promise.resolve() : writeStatus(this.deps.statuses, job, status)) };
    // A renewal whose certificate was deleted meanwhile ends quietly: no status, no retry, nothing stored.
    const deleted = async () => job.operation === "renew" && (this.handedBack.has(job) || !(await certificates.get(job.cert_name)));
    // A retried first issuance whose request was cancelled (its status deleted) ends quietly too.
    const cancelled = async () => job.operation === "issue" && job.attempt > 1 && !(await this.deps.statuses.get(job.cert_name));
    const progress = (message: string) => void statuses.set({ ...base, status: "issuing", message }).catch(() => {});
    const context = { cert_name: job.cert_name, domains: job.domains, operation: job.operation, attempt: job.attempt };
    if (await cancelled()) return;
    log.info(context, job.operation === "renew" ? "renewing certificate" : "issuing certificate");
    try {
      await statuses.set({ ...base, status: "issuing", message: "starting" });
      const issued = await issueCertificate(
        { domains: job.domains, email: job.email, directoryUrl: job.directory_url, keyType: job.key_type },
        { ...this.deps.issuer, onProgress: progress },
      );
      if (this.handedBack.has(job) || (await deleted())) return;
      if ((await this.cancelled(job)) || !(await this.store(job, issued))) {
        log.info(context, "the request was deleted while it was being issued; the certificate is discarded");
        return;
      }
      this.deps.issuances?.finished(job.operation, "success");
      await statuses.set({ ...base, status: "ready", message: `issued; valid until ${issued.expires_at}`, error: null });
      log.info({ ...context, expires_at: issued.expires_at }, "certificate ready");
    } catch (err) {
      if (this.handedBack.has(job) || (await this.cancelled(job))) return;
      if (await deleted()) {
        await this.deps.redis.del(keys.certificateStatus(job.cert_name));
        return;
      }
      this.deps.issuances?.finished(job.operation, "failure");
      const problem = err instanceof IssuanceError ? err.problem : { detail: (err as Error).message };
      // The message says where it stopped; the error (the CA's problem, or our own detail) says why.
      const at = err instanceof IssuanceError && err.step ? ` at ${err.step}` : "";
      const what = job.operation === "renew" ? "renewal" : "issuance";
      const retryAt = isFinalProblem(problem) ? null : Date.now() + retryDelayMs(this.deps.settings, job.attempt);
      await statuses.set({
        ...base,
        status: "failed",
        // No retry_at: the CA refuses these names for good (isFinalProblem), so nothing would change.
        message: retryAt ? `${what} failed${at}; trying again at ${new Date(retryAt).toISOString()}` : `${what} failed${at}`,
        error: problem,
        retry_at: retryAt ? new Date(retryAt).toISOString() : null,
      });
      log.warn({ ...context, step: err instanceof IssuanceError ? err.step : null, problem, retry_at: retryAt ? new Date(retryAt).toISOString() : null }, "certificate issuance failed");
      if (retryAt) await this.deps.queue.later({ ...job, attempt: job.attempt + 1 }, retryAt);
    }
  }

  /** The request was deleted (cancelled) or replaced since this job was queued. */
  private async cancelled(job: IssuanceJob): Promise<boolean> {
    return job.request_id !== undefined && !(await this.deps.statuses.isCurrent(job.cert_name, job.request_id));
  }

  /**
   * A renewal replaces the record (owner kept); a first issuance creates it, or
   * replaces one made meanwhile. Written only while the request's status is
   * still this job's, in the same transaction; false if it was not.
   */
  private async store(job: IssuanceJob, issued: { fullchain_pem: string; private_key_pem: string; expires_at: string }): Promise<boolean> {
    const { certificates } = this.deps;
    const record: CertificateRecord = {
      cert_name: job.cert_name,
      domains: job.domains,
      email: job.email,
      acme_directory_url: job.directory_url,
      status: "active",
      owner_token_hash: job.owner_token_hash,
      ...issued,
    };
    const guard = job.request_id === undefined ? undefined : requestGuard(job.cert_name, job.request_id);
    let stored: CertificateRecord | null = null;
    if (job.operation === "issue" && (await certificates.create(record, guard))) stored = record;
    else if (guard && !(await this.deps.statuses.isCurrent(job.cert_name, job.request_id!))) return false;
    else stored = await certificates.replace(record, guard);
    if (stored) await this.deps.onStored?.(stored);
    return stored !== null;
  }
}

/** Doubles from CERT_RETRY_BASE_SECONDS after each failed attempt, capped at CERT_RETRY_MAX_SECONDS. */
export function retryDelayMs(settings: Pick<CertificateSettings, "retryBaseMs" | "retryMaxMs">, attempt: number): number {
  return Math.min(settings.retryBaseMs * 2 ** Math.min(attempt - 1, 40), settings.retryMaxMs);
}

/**
 * Problems that say the CA will never issue for these names as asked (RFC 8555
 * §6.7): trying again changes nothing, so the failure is final. Anything else
 * (unreachable CA, a challenge not answered yet, rate limits) may pass later.
 */
const FINAL_PROBLEM_TYPES = new Set(["rejectedIdentifier", "malformed", "unsupportedIdentifier"].map((t) => `urn:ietf:params:acme:error:${t}`));
export const isFinalProblem = (problem: { type?: unknown } | null): boolean => typeof problem?.type === "string" && FINAL_PROBLEM_TYPES.has(problem.type);

/** Locks name the request too: a cancelled issuance still running never holds, refreshes or frees the lock of the request made after it. */
function lockOwner(nodeId: string, job: IssuanceJob): string {
  return job.request_id ? `${nodeId}/${job.request_id}` : nodeId;
}

/** A job's status is written only while its request is the current one (jobs without an id, from older versions: always). */
async function writeStatus(statuses: StatusStore, job: IssuanceJob, status: Parameters<StatusStore["set"]>[0]): Promise<void> {
  if (job.request_id === undefined) await statuses.set(status);
  else await statuses.setIfCurrent(job.request_id, status);
}

/** The repository writes the certificate only while `cert:status:{name}` is this request's. */
function requestGuard(name: string, requestId: string): WriteGuard {
  return {
    key: keys.certificateStatus(name),
    holds: (raw) => {
      try {
        return raw !== null && (JSON.parse(raw) as { request_id?: string }).request_id === requestId;
      } catch {
        return false;
      }
    },
  };
}

function statusBase(job: IssuanceJob) {
  return {
    cert_name: job.cert_name,
    operation: job.operation,
    domains: job.domains,
    attempts: job.attempt,
    retry_at: null,
    owner_token_hash: job.owner_token_hash,
    request_id: job.request_id,
  };
}
