/**
 * Reading the certificate manager's state straight from Redis (the job
 * queues, every key of every type) and making certificate records as an
 * ACME issuance would have stored them, for tests of the queue and the API.
 */
import type { Redis } from "ioredis";
import type { IssuanceJob } from "../../src/certificates/job-queue";
import { createSelfSignedCertificate } from "../../src/certificates/self-signed";
import type { CertificateRecord } from "../../src/storage/certificate-repository";
import { keys } from "../../src/storage/keys";

/** `cert:jobs`, head first, parsed. */
export async function queuedJobs(redis: Redis): Promise<IssuanceJob[]> {
  return (await redis.lrange(keys.certificateJobs, 0, -1)).map((raw) => JSON.parse(raw) as IssuanceJob);
}

/** `cert:jobs:later` with each job's due time (ms), earliest first. */
export async function laterJobs(redis: Redis): Promise<{ job: IssuanceJob; dueAt: number }[]> {
  const flat = await redis.zrange(keys.certificateJobsLater, "0", "-1", "WITHSCORES");
  const out: { job: IssuanceJob; dueAt: number }[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ job: JSON.parse(flat[i]!) as IssuanceJob, dueAt: Number(flat[i + 1]) });
  return out;
}

/**
 * Every key with its type, value and whether it expires: unlike `snapshot()`
 * in api-app.ts it also compares lists (the job queue), sorted sets and hashes.
 */
export async function fullSnapshot(redis: Redis): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of (await redis.keys("*")).sort()) {
    const type = await redis.type(key);
    let value: unknown;
    if (type === "string") value = await redis.get(key);
    else if (type === "set") value = (await redis.smembers(key)).sort();
    else if (type === "list") value = await redis.lrange(key, 0, -1);
    else if (type === "zset") value = await redis.zrange(key, "0", "-1", "WITHSCORES");
    else if (type === "hash") value = await redis.hgetall(key);
    else if (type === "stream") value = await redis.xrange(key, "-", "+");
    const expires = (await redis.pttl(key)) >= 0;
    out[key] = JSON.stringify({ type, value, expires });
  }
  return out;
}

/**
 * A record as a finished ACME issuance stores it (directory and email set),
 * with real PEMs (an ECDSA key) and the expiry asked for.
 */
export async function acmeRecord(
  name: string,
  domains: string[],
  options: { directory: string; email?: string | null; expiresAt?: Date; owner?: string | null },
): Promise<CertificateRecord> {
  const made = await createSelfSignedCertificate(domains[0]!, 90, new Date(), domains);
  return {
    cert_name: name,
    domains,
    email: options.email ?? null,
    acme_directory_url: options.directory,
    status: "active",
    owner_token_hash: options.owner ?? null,
    fullchain_pem: made.fullchain_pem,
    private_key_pem: made.private_key_pem,
    expires_at: (options.expiresAt ?? new Date(Date.now() + 90 * 86_400_000)).toISOString(),
  };
}
