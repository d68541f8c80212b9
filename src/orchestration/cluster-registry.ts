/**
 * This node in the cluster registry: a heartbeat every
 * CLUSTER_HEARTBEAT_SECONDS writes who it is (id, host, pid, version,
 * listeners), the last configuration event it applied and its load; a clean
 * stop marks the entry stopped. It runs on its own timer and reads only
 * counters the edge keeps anyway: no request ever waits on it. A failed write
 * (Redis away) is logged once and retried at the next beat.
 */
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import type { RegistryTiming } from "../core/cluster-config";
import type { Logger } from "../core/logger";
import { BUILD_COMMIT, VERSION } from "../core/version";
import { eventStreamLag } from "../api/health-details";
import type { ClusterNodeRepository, NodeReport } from "../storage/cluster-node-repository";

/** How long a clean stop waits to mark the entry stopped (Redis slow or away) before shutdown goes on without it. */
const STOP_WAIT_MS = 1_000;

export interface NodeListener {
  readonly name: string;
  readonly protocol: string;
  readonly port: number;
}

export interface ClusterRegistrySources {
  readonly nodeId: string;
  readonly startedAt: number;
  /** The listeners as bound. */
  listeners(): readonly NodeListener[];
  /** The last `events:workflow` entry applied here (LiveConfig.appliedEventId). */
  appliedEventId(): string;
  /** Requests in flight on this node's listeners right now. */
  pendingRequests(): number;
  /** Requests the edge has answered since start (a counter; the rate is taken between beats). */
  answeredRequests(): number;
}

export class ClusterRegistry {
  /** Random per process: only this process may mark its entry stopped (a restarted node reuses the id). */
  readonly instance = crypto.randomUUID();
  private timer: ReturnType<typeof setInterval> | undefined;
  private beating: Promise<void> | undefined;
  private failing = false;
  private superseded = false;
  private lastCount = 0;
  private lastAt = 0;

  constructor(
    private readonly repository: ClusterNodeRepository,
    private readonly redis: Redis,
    private readonly settings: RegistryTiming,
    private readonly sources: ClusterRegistrySources,
    private readonly log: Logger,
  ) {}

  /** Registers now (so the node is listed as soon as it serves), then beats on a timer. */
  async start(): Promise<void> {
    this.lastCount = this.sources.answeredRequests();
    this.lastAt = Date.now();
    await this.beat();
    this.timer = setInterval(() => {
      // One write at a time: a slow Redis makes beats late, never piled up.
      this.beating ??= this.beat().finally(() => (this.beating = undefined));
    }, this.settings.heartbeatSeconds * 1000);
    this.timer.unref?.();
  }

  /**
   * Stops the heartbeat and marks the entry stopped. Never throws, and waits
   * STOP_WAIT_MS at most: with Redis away, shutdown goes on and the entry
   * shows down, then is forgotten.
   */
  async stop(): Promise<void> {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    const mark = async () => {
      await this.beating;
      await this.repository.markStopped(this.sources.nodeId, this.instance, Date.now(), this.settings.forgetAfterSeconds);
    };
    const outcome = await Promise.race([mark().then(() => "marked" as const), Bun.sleep(STOP_WAIT_MS).then(() => "timed out" as const)]).catch((err: Error) => err.message);
    if (outcome !== "marked") this.log.warn({ outcome }, "cluster registry: could not mark this node stopped; it will show down, then be forgotten");
  }

  /** What this node reports at this beat. */
  async report(now: number): Promise<NodeReport> {
    const count = this.sources.answeredRequests();
    const seconds = (now - this.lastAt) / 1000;
    const rate = seconds > 0 ? Math.max(0, count - this.lastCount) / seconds : 0;
    this.lastCount = count;
    this.lastAt = now;
    const applied = this.sources.appliedEventId();
    const lag = await eventStreamLag(this.redis, applied, now).catch(() => null);
    const memory = process.memoryUsage();
    return {
      node_id: this.sources.nodeId,
      host: hostname(),
      pid: process.pid,
      version: VERSION,
      commit: BUILD_COMMIT,
      started_at: new Date(this.sources.startedAt).toISOString(),
      heartbeat_seconds: this.settings.heartbeatSeconds,
      listeners: this.sources.listeners(),
      event_stream: { applied_id: applied, behind_events: lag?.behind_events ?? null, lag_seconds: lag?.lag_seconds ?? null },
      load: {
        pending_requests: this.sources.pendingRequests(),
        requests_per_second: Math.round(rate * 10) / 10,
        memory_rss_bytes: memory.rss,
        heap_used_bytes: memory.heapUsed,
      },
    };
  }

  private async beat(): Promise<void> {
    try {
      const now = Date.now();
      const written = await this.repository.heartbeat(await this.report(now), this.instance, now, this.settings);
      // During a restart the new process takes the entry over: expected, said once. Otherwise two nodes share a NODE_ID.
      if (!written && !this.superseded) {
        this.log.warn({ node_id: this.sources.nodeId }, "cluster registry: a process started later holds this NODE_ID's entry; this one is not listed (a restart in progress, or two nodes with the same NODE_ID)");
      }
      this.superseded = !written;
      if (this.failing) this.log.info({}, "cluster registry: heartbeat written again");
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, "cluster registry: heartbeat not written (Redis unreachable?); retrying at the next beat");
      this.failing = true;
    }
  }
}
