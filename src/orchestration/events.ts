/**
 * Configuration events on `events:workflow` (spec "Event Schema"). Writers queue
 * the event in the same MULTI as the change, so a change and its announcement
 * land together or not at all. Every gateway node follows the stream to update
 * its in-memory tables.
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

export function queueEvent(
  tx: ChainableCommander,
  event: { event_type: WorkflowEventType; hostname?: string; data?: Record<string, unknown> },
): void {
  tx.xadd(
    keys.workflowStream,
    "MAXLEN",
    "~",
    STREAM_MAX_LENGTH,
    "*",
    "event_type",
    event.event_type,
    "hostname",
    event.hostname ?? "",
    "data",
    JSON.stringify(event.data ?? {}),
    "timestamp",
    new Date().toISOString(),
  );
}

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
