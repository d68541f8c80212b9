/**
 * This node's consumer in `workflow-group` (spec "Consumer Group"): side
 * effects of configuration events — work that must happen once in the
 * cluster, not once per node — are claimed here. Every event on
 * `events:workflow` goes to exactly one consumer of the group; its handler
 * (by `event_type`) runs, and the entry is acknowledged only once it
 * succeeded. An entry left unacknowledged — its node died mid-way, or its
 * handler failed — is claimed again by any node after WORKFLOW_CLAIM_IDLE_MS
 * (XAUTOCLAIM); after WORKFLOW_MAX_DELIVERIES attempts it is dead-lettered.
 *
 * Updating each node's in-memory tables is not work to claim: every node
 * reads the stream itself for that (dispatcher/live-config.ts).
 *
 * Before a handler runs, its consumer takes a lease on the event (for the
 * claim timeout): an entry waiting in one node's batch may be claimed by
 * another meanwhile, and only one of them may run it.
 *
 * Handlers must be idempotent: an entry is redelivered when its node stops
 * between the side effect and the acknowledgement, or when a handler runs
 * longer than the claim timeout (this node then gives up waiting on it). A done marker, set with the acknowledgement
 * (or by the handler in the side effect's own transaction, `markDone`),
 * makes a redelivered entry that was done be acknowledged without running again.
 */
import { randomUUID } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";
import type { Logger } from "../core/logger";
import type { WorkflowSettings } from "../core/workflow-config";
import { keys } from "../storage/keys";
import { parseStreamEntry, type WorkflowEvent } from "./events";
import { isNoGroupError, WorkflowGroup, type StreamEntry } from "./workflow-group";

export interface WorkflowContext {
  /** Queues the event's done marker on the handler's own transaction, so the side effect and "done" commit together. */
  markDone(tx: ChainableCommander): void;
  /** 1 the first time the event is handled, more when it is tried again. */
  readonly delivery: number;
}

/** Does an event's side effect; throws to have it tried again later. Must be idempotent (see above). */
export type WorkflowHandler = (event: WorkflowEvent, context: WorkflowContext) => Promise<void>;

/** What the gateway's metrics count (metrics/workflow-metrics.ts). */
export interface WorkflowCounts {
  handled(eventType: string): void;
  failed(eventType: string): void;
  deadLettered(eventType: string): void;
}

export interface WorkflowConsumerOptions {
  readonly redis: Redis;
  readonly handlers: ReadonlyMap<string, WorkflowHandler>;
  readonly settings: WorkflowSettings;
  readonly log: Logger;
  /** NODE_ID: the consumer is named `<node>-<random>`, a new name per start, so a restarted node never takes over its old name's pending entries unclaimed. */
  readonly nodeId: string;
  readonly counts?: WorkflowCounts;
}

// Small batches: an entry read waits in this node's hands until its turn, and a burst spreads over the nodes.
const READ_COUNT = 10;
const CLAIM_COUNT = 50;
/** Upper bound of one blocking read, so a stop or a due claim round waits no longer. */
const BLOCK_MS = 1_000;
const RETRY_MS = 500;

export class WorkflowConsumer {
  readonly name: string;
  private readonly group: WorkflowGroup;
  private running = false;
  private blocking: Redis | undefined;
  private loop: Promise<void> | undefined;
  private pending = 0;

  constructor(private readonly options: WorkflowConsumerOptions) {
    this.name = `${options.nodeId}-${randomUUID().slice(0, 8)}`;
    this.group = new WorkflowGroup(options.redis, this.name);
  }

  /** Entries delivered and not acknowledged across the group, as of the last claim round (for /metrics; never waits on Redis). */
  get pendingCount(): number {
    return this.pending;
  }

  /** Creates the group if needed (before this node's API takes writes), then claims work in the background. */
  async start(): Promise<void> {
    if (await this.group.ensure("$")) this.options.log.info({ group: keys.workflowGroup, stream: keys.workflowStream }, "workflow consumer group created");
    this.running = true;
    this.blocking = this.options.redis.duplicate({ connectionName: "portcullis-workflow-consumer" });
    this.blocking.on("error", () => {});
    this.loop = this.run(this.blocking);
  }

  /** Stops claiming; a handler already running finishes (within WORKFLOW_CLAIM_IDLE_MS) and is acknowledged first. */
  async stop(): Promise<void> {
    this.running = false;
    this.blocking?.disconnect();
    await this.loop;
  }

  private async run(blocking: Redis): Promise<void> {
    const { settings, log } = this.options;
    // Half the claim timeout: an abandoned entry waits at most 1.5× it; at most every 5 s, so a dead node's work is not left long.
    const claimEveryMs = Math.min(Math.max(Math.floor(settings.claimIdleMs / 2), 50), 5_000);
    let nextClaim = 0;
    while (this.running) {
      try {
        if (Date.now() >= nextClaim) {
          await this.claimRound();
          nextClaim = Date.now() + claimEveryMs;
        }
        const entries = await this.group.readNew(blocking, READ_COUNT, Math.max(1, Math.min(BLOCK_MS, nextClaim - Date.now())));
        await this.handleAll(entries.map((entry) => ({ entry, deliveries: 1 })));
      } catch (err) {
        if (!this.running) break;
        if (isNoGroupError(err)) {
          // The stream was deleted (and maybe written again): whatever it holds now is new.
          if (await this.group.ensure("0").catch(() => false)) log.warn({ group: keys.workflowGroup }, "workflow consumer group was gone (stream deleted); created again from the stream's start");
          continue;
        }
        log.debug({ err: (err as Error).message }, "workflow consumer interrupted, retrying");
        await Bun.sleep(RETRY_MS);
      }
    }
  }

  /** Claims what others left, removes consumers that left, and reads the group's pending count. */
  private async claimRound(): Promise<void> {
    const { settings, log } = this.options;
    const { claimed, trimmed } = await this.group.claimIdle(settings.claimIdleMs, CLAIM_COUNT);
    if (trimmed.length > 0) log.warn({ entries: trimmed }, "workflow events were trimmed from the stream before they were handled");
    await this.handleAll(claimed);
    const forgotten = await this.group.forgetConsumers(settings.consumerForgetMs);
    if (forgotten.length > 0) log.info({ consumers: forgotten }, "workflow consumers that left were removed from the group");
    this.pending = await this.group.pendingCount();
  }

  private async handleAll(entries: readonly { entry: StreamEntry; deliveries: number }[]): Promise<void> {
    const nothingToDo: string[] = [];
    for (const { entry, deliveries } of entries) {
      if (!this.running) break; // the rest stay pending: claimed again elsewhere
      const event = parseStreamEntry(entry);
      if (!this.options.handlers.has(event.event_type)) nothingToDo.push(event.id);
      else await this.handle(entry, event, deliveries);
    }
    await this.group.ack(nothingToDo);
  }

  private async handle(entry: StreamEntry, event: WorkflowEvent, deliveries: number): Promise<void> {
    const { handlers, settings, log, counts, redis } = this.options;
    const about = { event_id: event.id, event_type: event.event_type, hostname: event.hostname || undefined, delivery: deliveries, consumer: this.name };
    const lease = await this.group.lease(event.id, settings.claimIdleMs);
    if (lease === "done") {
      // Done on an earlier delivery (whose node maybe stopped before acknowledging it).
      await this.group.ack([event.id]);
      return;
    }
    if (lease === "busy") {
      // Another consumer is running it (it read the entry in an earlier batch, or claimed it first): it acknowledges it, or it is claimed again.
      log.debug(about, "workflow event is being handled by another consumer");
      return;
    }
    if (deliveries > settings.maxDeliveries) {
      // Its last attempt never ended (the node claiming it died each time).
      await this.group.release(event.id);
      await this.deadLetter(entry, event, deliveries, `claimed ${deliveries} times without an attempt ending (its nodes stopped mid-way)`);
      return;
    }
    try {
      const run = handlers.get(event.event_type)!(event, { delivery: deliveries, markDone: (tx) => this.group.queueDoneMarker(tx, event.id) });
      await withDeadline(run, settings.claimIdleMs);
    } catch (err) {
      const reason = (err as Error)?.message ?? String(err);
      // A handler that threw has stopped: the retry need not wait for the lease. One past its deadline may still run: its lease expires now anyway.
      if (!(err instanceof DeadlineError)) await this.group.release(event.id);
      counts?.failed(event.event_type);
      if (deliveries >= settings.maxDeliveries) {
        await this.deadLetter(entry, event, deliveries, reason);
      } else {
        log.warn({ ...about, err: reason, retry_after_ms: settings.claimIdleMs }, "workflow event handler failed; it is tried again");
      }
      await this.settled(event, false);
      return;
    }
    // Done, acknowledged and answered in one round trip: the API request waiting on the ticket resumes sooner.
    const tx = redis.multi();
    this.group.queueDone(tx, event.id);
    this.queueSettled(tx, event, true);
    await tx.exec();
    counts?.handled(event.event_type);
    log.debug(about, "workflow event handled");
  }

  private async deadLetter(entry: StreamEntry, event: WorkflowEvent, deliveries: number, reason: string): Promise<void> {
    await this.group.deadLetter(entry, deliveries, reason);
    this.options.counts?.deadLettered(event.event_type);
    this.options.log.error(
      { event_id: event.id, event_type: event.event_type, hostname: event.hostname || undefined, deliveries, err: reason, dead_letters: keys.workflowDeadLetters },
      "workflow event dead-lettered: its handler kept failing",
    );
  }

  /** Tells the node waiting on the event's ticket (the API that wrote it) that an attempt ended. */
  private async settled(event: WorkflowEvent, ok: boolean): Promise<void> {
    if (typeof event.data.ticket !== "string") return;
    const tx = this.options.redis.multi();
    this.queueSettled(tx, event, ok);
    await tx.exec().catch(() => {});
  }

  /** Queues that answer on `tx`; false when the event carries no ticket. */
  private queueSettled(tx: ChainableCommander, event: WorkflowEvent, ok: boolean): boolean {
    const ticket = event.data.ticket;
    if (typeof ticket !== "string") return false;
    tx.publish(keys.workflowSettledChannel, JSON.stringify({ ticket, ok }));
    return true;
  }
}

/**
 * A handler still running after the claim timeout counts as failed: by then
 * another node may claim its entry, and this node's consumer must not stay
 * stuck behind it. (The handler itself cannot be cancelled; being idempotent, it may finish.)
 */
async function withDeadline(run: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`handler still running after ${ms} ms (WORKFLOW_CLAIM_IDLE_MS)`)), ms);
  });
  try {
    await Promise.race([run, expired]);
  } finally {
    clearTimeout(timer);
  }
}

class DeadlineError extends Error {}
