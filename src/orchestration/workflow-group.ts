/**
 * The `workflow-group` consumer group on `events:workflow`, as Redis commands:
 * creating it, reading new entries for one consumer, claiming entries other
 * consumers left unacknowledged, acknowledging, dead-lettering, and removing
 * consumers that left. The loop that uses them is workflow-consumer.ts.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { keys } from "../storage/keys";

/** One stream entry as XREADGROUP and XAUTOCLAIM return it: `[id, [field, value, ...]]`. */
export type StreamEntry = [string, string[]];

/** An entry this consumer now holds, with how often it has been delivered (1 the first time). */
export interface ClaimedEntry {
  readonly entry: StreamEntry;
  readonly deliveries: number;
}

/** Dead letters kept: the oldest go first. */
const DEAD_LETTERS_MAX_LENGTH = 1_000;
/** How long a done marker outlives its event's last possible delivery (deliveries × claim timeout are far shorter). */
const DONE_MARKER_TTL_SECONDS = 86_400;

const stream = keys.workflowStream;
const group = keys.workflowGroup;

/**
 * Removes consumers other than `ARGV[3]` with nothing pending, idle longer
 * than ARGV[2] ms. In one script, so an entry delivered to a consumer between
 * the check and the removal cannot be dropped with it (XGROUP DELCONSUMER
 * discards the consumer's pending entries).
 */
const FORGET_CONSUMERS = `
local removed = {}
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return removed end
for _, c in ipairs(consumers) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['name'] ~= ARGV[3] and tonumber(f['pending']) == 0 and tonumber(f['idle']) > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed[#removed + 1] = f['name']
  end
end
return removed`;

/**
 * KEYS[1] the done marker, KEYS[2] the lease: "done" if the entry was done
 * (by whoever held the lease before), else the lease for ARGV[1] for ARGV[2] ms,
 * or "busy". One script: a holder finishing (done marker set, lease deleted,
 * in one transaction) between a check and a take cannot let a second run through.
 */
const TAKE_LEASE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'done' end
if redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return 'mine' end
return 'busy'`;

/** Deletes KEYS[1] if it holds ARGV[1]: a lease that expired and was taken by another consumer stays theirs. */
const RELEASE_LEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export function isNoGroupError(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith("NOGROUP");
}

export class WorkflowGroup {
  constructor(
    private readonly redis: Redis,
    /** This node's consumer name in the group. */
    readonly consumer: string,
  ) {}

  /**
   * Creates the group if it does not exist. `$` (the first start): the events
   * already in the stream were written before any node claimed work through
   * the group, when their side effects were done where they were written.
   * `0` (the stream was deleted and written again while running): every entry
   * in it is new. Returns false if the group existed.
   */
  async ensure(from: "$" | "0"): Promise<boolean> {
    try {
      await this.redis.xgroup("CREATE", stream, group, from, "MKSTREAM");
      return true;
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("BUSYGROUP")) return false;
      throw err;
    }
  }

  /** Waits up to `blockMs` for entries no consumer has been given yet, on a connection of its own (the read blocks it). */
  async readNew(blocking: Redis, count: number, blockMs: number): Promise<StreamEntry[]> {
    const reply = (await blocking.xreadgroup("GROUP", group, this.consumer, "COUNT", count, "BLOCK", blockMs, "STREAMS", stream, ">")) as
      | [string, StreamEntry[]][]
      | null;
    return reply?.[0]?.[1] ?? [];
  }

  /**
   * Takes over entries pending longer than `minIdleMs` on any consumer (one
   * that died, or whose handler failed), with their delivery counts. Entries
   * trimmed from the stream while pending come back as `trimmed` (Redis drops them from the group).
   */
  async claimIdle(minIdleMs: number, count: number): Promise<{ claimed: ClaimedEntry[]; trimmed: string[] }> {
    const claimed: ClaimedEntry[] = [];
    const trimmed: string[] = [];
    let cursor = "0-0";
    do {
      const reply = (await this.redis.xautoclaim(stream, group, this.consumer, minIdleMs, cursor, "COUNT", count)) as unknown as [string, (StreamEntry | null)[], string[]?];
      cursor = reply[0];
      const entries = reply[1].filter((e): e is StreamEntry => e !== null);
      trimmed.push(...(reply[2] ?? []));
      if (entries.length > 0) {
        const counts = await this.deliveryCounts(entries[0]![0], entries[entries.length - 1]![0], entries.length);
        for (const entry of entries) claimed.push({ entry, deliveries: counts.get(entry[0]) ?? 1 });
      }
    } while (cursor !== "0-0" && claimed.length < count);
    return { claimed, trimmed };
  }

  /** XPENDING of this consumer between two ids: id → delivery count. */
  private async deliveryCounts(first: string, last: string, atLeast: number): Promise<Map<string, number>> {
    const rows = (await this.redis.xpending(stream, group, first, last, Math.max(atLeast, 1) + 100, this.consumer)) as [string, string, number, number][];
    return new Map(rows.map(([id, , , deliveries]) => [id, Number(deliveries)]));
  }

  /** Acknowledges entries that needed nothing (no handler for their type, or already done). */
  async ack(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.xack(stream, group, ...ids);
  }

  /** Queues an entry's done marker (its side effect happened; a redelivery only acknowledges it). */
  queueDoneMarker(tx: ChainableCommander, id: string): void {
    tx.set(keys.workflowDone(id), this.consumer, "EX", DONE_MARKER_TTL_SECONDS);
  }

  /**
   * Takes the right to run an entry's handler for `ms` (the claim timeout,
   * after which this node gives up on it): "mine", "done" (nothing left to
   * run), or "busy" while another consumer holds it — an entry can be in two
   * consumers' hands at once: one still working through the batch it read,
   * one that claimed the entry as idle meanwhile.
   */
  async lease(id: string, ms: number): Promise<"mine" | "done" | "busy"> {
    return (await this.redis.eval(TAKE_LEASE, 2, keys.workflowDone(id), keys.workflowLease(id), this.consumer, String(ms))) as "mine" | "done" | "busy";
  }

  /** Gives the lease back (the handler failed), if it is still this consumer's. */
  async release(id: string): Promise<void> {
    await this.redis.eval(RELEASE_LEASE, 1, keys.workflowLease(id), this.consumer);
  }

  /** Queues the acknowledgement of an entry whose side effect is done, with its done marker; the lease goes. */
  queueDone(tx: ChainableCommander, id: string): void {
    this.queueDoneMarker(tx, id);
    tx.xack(stream, group, id);
    tx.del(keys.workflowLease(id));
  }

  /** Moves an entry to the dead letters (its fields, plus where it came from and why) and acknowledges it, in one transaction. */
  async deadLetter(entry: StreamEntry, deliveries: number, reason: string): Promise<void> {
    const [id, fields] = entry;
    await this.redis
      .multi()
      .xadd(keys.workflowDeadLetters, "MAXLEN", "~", DEAD_LETTERS_MAX_LENGTH, "*", ...fields, "original_id", id, "deliveries", String(deliveries), "consumer", this.consumer, "reason", reason.slice(0, 500))
      .xack(stream, group, id)
      .exec();
  }

  /** Removes consumers that left (nothing pending, silent longer than `idleMs`); returns their names. */
  async forgetConsumers(idleMs: number): Promise<string[]> {
    return (await this.redis.eval(FORGET_CONSUMERS, 1, stream, group, String(idleMs), this.consumer)) as string[];
  }

  /** Entries delivered to some consumer and not acknowledged yet, across the group. */
  async pendingCount(): Promise<number> {
    const summary = (await this.redis.xpending(stream, group)) as [number, ...unknown[]];
    return Number(summary[0] ?? 0);
  }
}
