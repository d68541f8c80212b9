/**
 * Issuance jobs in Redis, shared by every node: `cert:jobs` (a list, oldest
 * first) for work to do now, `cert:jobs:later` (a sorted set by due time) for
 * issuances and renewals backing off after a failure. A job is a plain JSON record.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { keys } from "../storage/keys";
import type { KeyType } from "./acme-issuer";

export interface IssuanceJob {
  cert_name: string;
  domains: string[];
  email: string | null;
  directory_url: string;
  key_type: KeyType;
  owner_token_hash: string | null;
  operation: "issue" | "renew";
  /** 1 for the first try; an attempt that failed comes back later with the next number. */
  attempt: number;
  /** The request this job does (its status carries the same id); absent on jobs queued before requests had ids. */
  request_id?: string;
}

/** Moves due jobs from the later set to the list atomically, so two nodes never both move one. */
const MOVE_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('RPUSH', KEYS[2], job)
end
return #due`;

export class JobQueue {
  constructor(private readonly redis: Redis) {}

  queuePush(tx: ChainableCommander, job: IssuanceJob): void {
    tx.rpush(keys.certificateJobs, JSON.stringify(job));
  }

  /** Puts a job taken but not done back at the head of the list. */
  async requeue(job: IssuanceJob): Promise<void> {
    await this.redis.lpush(keys.certificateJobs, JSON.stringify(job));
  }

  /** Waits up to `timeoutSeconds` for a job, on a connection of its own (BLPOP blocks it). */
  async take(blocking: Redis, timeoutSeconds: number): Promise<IssuanceJob | null> {
    const popped = await blocking.blpop(keys.certificateJobs, timeoutSeconds);
    if (!popped) return null;
    try {
      return JSON.parse(popped[1]) as IssuanceJob;
    } catch {
      return null;
    }
  }

  async later(job: IssuanceJob, dueAt: number): Promise<void> {
    await this.redis.zadd(keys.certificateJobsLater, dueAt, JSON.stringify(job));
  }

  /** Jobs whose time has come join the list; returns how many. */
  async moveDue(now = Date.now()): Promise<number> {
    return Number(await this.redis.eval(MOVE_DUE, 2, keys.certificateJobsLater, keys.certificateJobs, String(now)));
  }

  /** Queued and delayed jobs for this certificate are dropped (it was deleted). */
  async forget(name: string): Promise<void> {
    const matches = (raw: string) => {
      try {
        return (JSON.parse(raw) as IssuanceJob).cert_name === name;
      } catch {
        return false;
      }
    };
    for (const raw of (await this.redis.lrange(keys.certificateJobs, 0, -1)).filter(matches)) await this.redis.lrem(keys.certificateJobs, 0, raw);
    for (const raw of (await this.redis.zrange(keys.certificateJobsLater, "0", "-1")).filter(matches)) await this.redis.zrem(keys.certificateJobsLater, raw);
  }
}
