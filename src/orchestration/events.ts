/**
 * Configuration events on `events:workflow` (spec "Event Schema"). Writers queue
 * the event in the same MULTI as the change, so a change and its announcement
 * land together or not at all. Every gateway node follows the stream to update
 * its in-memory tables (fan-out); side effects an event asks for are claimed
 * by one node through the `workflow-group` consumer group (workflow-consumer.ts).
 */
import type { ChainableCommander } from "ioredis";
import { keys } from "../storage/keys";

export type WorkflowEventType =
  | "proxy_created"
  | "proxy_updated"
  | "proxy_deleted"
  | "route_created"
  | "route_updated"
  | "route_deleted"
  | "service_url_changed"
  | "service_port_changed"
  | "certificate_ready"
  | "certificate_deleted"
  | "self_signed_certificate_ready"
  | "oauth_token_revoked"
  | "oauth_signing_key_rotated";

export interface WorkflowEvent {
  readonly id: string;
  readonly event_type: WorkflowEventType | string;
  readonly hostname: string;
  readonly data: Record<string, unknown>;
  readonly timestamp: string;
}

/** Keep the stream bounded; a node that falls further behind reloads a snapshot. */
const STREAM_MAX_LENGTH = 10_000;

type NewEvent = { event_type: WorkflowEventType; hostname?: string; data?: Record<string, unknown> };

export function queueEvent(tx: ChainableCommander, event: NewEvent): void {
  tx.xadd(keys.workflowStream, "MAXLEN", "~", STREAM_MAX_LENGTH, "*", ...eventFields(event));
}

/** The stream entry's fields and values, for writers that add it from a Lua script (see XADD_EVENT). */
export function eventFields(event: NewEvent): string[] {
  return ["event_type", event.event_type, "hostname", event.hostname ?? "", "data", JSON.stringify(event.data ?? {}), "timestamp", new Date().toISOString()];
}

/** Lua that appends one event: KEYS[n] the stream, the 8 fields of eventFields from ARGV[i] on (used as `XADD_EVENT(n, i)`). */
export const XADD_EVENT = (streamKey: number, firstArg: number): string =>
  `redis.call('XADD', KEYS[${streamKey}], 'MAXLEN', '~', ${STREAM_MAX_LENGTH}, '*', ${Array.from({ length: 8 }, (_, k) => `ARGV[${firstArg + k}]`).join(", ")})`;

/** Parses one stream entry as XREAD returns it: `[id, [field, value, ...]]`. */
export function parseStreamEntry([id, fields]: [string, string[]]): WorkflowEvent {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  let data: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(map.get("data") ?? "{}");
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) data = parsed;
  } catch {
    // A malformed entry from another writer carries no data; its type still applies.
  }
  return {
    id,
    event_type: map.get("event_type") ?? "",
    hostname: map.get("hostname") ?? "",
    data,
    timestamp: map.get("timestamp") ?? "",
  };
}

/** Stream ids compare by milliseconds, then sequence. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number) as [number, number];
  const [bm, bs] = b.split("-").map(Number) as [number, number];
  return am !== bm ? am - bm : as - bs;
}
