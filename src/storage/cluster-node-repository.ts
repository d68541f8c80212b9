/**
 * The cluster registry in Redis: one hash per gateway node
 * (`cluster:node:{id}`) and a sorted set of node ids by last heartbeat
 * (`cluster:nodes`). Every write refreshes both TTLs to the forget threshold,
 * so a node that never comes back leaves nothing behind; readers derive
 * up/down from the heartbeat time (cluster-view.ts), never from a timer.
 */
import type { Redis } from "ioredis";
import { keys } from "./keys";

/** What a node says about itself at each heartbeat. */
export interface NodeReport {
  readonly node_id: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly commit: string;
  readonly started_at: string;
  readonly heartbeat_seconds: number;
  readonly listeners: readonly { readonly name: string; readonly protocol: string; readonly port: number }[];
  /** The last `events:workflow` entry this node applied, and how far it was behind when it wrote this. */
  readonly event_stream: { readonly applied_id: string; readonly behind_events: number | null; readonly lag_seconds: number | null };
  readonly load: {
    readonly pending_requests: number;
    readonly requests_per_second: number;
    readonly memory_rss_bytes: number;
    readonly heap_used_bytes: number;
  };
}

/** A registry entry as stored: the report, which process wrote it, and whether it stopped cleanly. */
export interface StoredNode {
  readonly report: NodeReport;
  /** Random per process start: a restarted node with the same id is a new instance. */
  readonly instance: string;
  readonly state: "running" | "stopped";
  readonly heartbeatAt: number;
  readonly stoppedAt: number | null;
}

// A process started later under the same id (a restart's new process) owns the entry while its heartbeat is fresh:
// the old one, still draining, does not write over it. Once the newer one is silent past the down threshold, anyone may.
const HEARTBEAT = `
local owner = redis.call('HMGET', KEYS[1], 'instance', 'started_ms', 'heartbeat_at', 'state')
if owner[1] and owner[1] ~= ARGV[2] and owner[4] == 'running'
  and tonumber(owner[2]) > tonumber(ARGV[4]) and tonumber(owner[3]) >= tonumber(ARGV[3]) - tonumber(ARGV[6]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'report', ARGV[1], 'instance', ARGV[2], 'state', 'running', 'heartbeat_at', ARGV[3], 'started_ms', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1`;

// Only the instance that wrote the entry may mark it stopped: during a restart the new process may already have registered under the same id.
const MARK_STOPPED = `
if redis.call('HGET', KEYS[1], 'instance') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'stopped', 'stopped_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

export class ClusterNodeRepository {
  constructor(private readonly redis: Redis) {}

  /**
   * Writes this node's entry and heartbeat in one script, and drops ids silent
   * past the forget threshold. False when a process started later under the
   * same id holds the entry with a fresh heartbeat (nothing written).
   */
  async heartbeat(report: NodeReport, instance: string, now: number, timing: { forgetAfterSeconds: number; downAfterSeconds: number }): Promise<boolean> {
    const written = await this.redis.eval(
      HEARTBEAT,
      2,
      keys.clusterNode(report.node_id),
      keys.clusterNodes,
      JSON.stringify(report),
      instance,
      String(now),
      String(Date.parse(report.started_at)),
      String(timing.forgetAfterSeconds),
      String(timing.downAfterSeconds * 1000),
      report.node_id,
      String(now - timing.forgetAfterSeconds * 1000),
    );
    return written === 1;
  }

  /** Marks the entry stopped if this instance still owns it; it is forgotten with the usual TTL. */
  async markStopped(nodeId: string, instance: string, now: number, forgetAfterSeconds: number): Promise<boolean> {
    const marked = await this.redis.eval(MARK_STOPPED, 1, keys.clusterNode(nodeId), instance, String(now), String(forgetAfterSeconds));
    return marked === 1;
  }

  async get(nodeId: string): Promise<StoredNode | null> {
    return parseStored(await this.redis.hgetall(keys.clusterNode(nodeId)));
  }

  /** Every registered node, most recent heartbeat first; ids whose entry has expired are left out. */
  async list(): Promise<StoredNode[]> {
    const ids = await this.redis.zrevrange(keys.clusterNodes, 0, -1);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(keys.clusterNode(id));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([, hash]) => parseStored(hash as Record<string, string>)).filter((n): n is StoredNode => n !== null);
  }
}

/** A stored hash back into a StoredNode; null when absent or not ours to read (a foreign or damaged entry is skipped, not a 500). */
export function parseStored(hash: Record<string, string> | null | undefined): StoredNode | null {
  if (!hash || typeof hash.report !== "string") return null;
  let report: NodeReport;
  try {
    report = JSON.parse(hash.report) as NodeReport;
  } catch {
    return null;
  }
  const heartbeatAt = Number(hash.heartbeat_at);
  if (typeof report?.node_id !== "string" || !Number.isFinite(heartbeatAt)) return null;
  const stoppedAt = hash.stopped_at === undefined ? null : Number(hash.stopped_at);
  return { report, instance: hash.instance ?? "", state: hash.state === "stopped" ? "stopped" : "running", heartbeatAt, stoppedAt };
}
