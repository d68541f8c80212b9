/**
 * How a registry entry is shown (GET /api/v1/cluster/nodes, `portcullis
 * cluster nodes`): the node's own report plus a state derived at read time —
 * `stopped` if it deregistered cleanly, `down` if its last heartbeat is older
 * than CLUSTER_NODE_DOWN_SECONDS, else `up`. Pure.
 */
import type { NodeReport, StoredNode } from "../storage/cluster-node-repository";

export type NodeState = "up" | "down" | "stopped";

export interface NodeView extends NodeReport {
  readonly state: NodeState;
  readonly heartbeat_at: string;
  readonly seconds_since_heartbeat: number;
  readonly stopped_at: string | null;
}

export function nodeState(node: StoredNode, now: number, downAfterSeconds: number): NodeState {
  if (node.state === "stopped") return "stopped";
  return now - node.heartbeatAt > downAfterSeconds * 1000 ? "down" : "up";
}

export function nodeView(node: StoredNode, now: number, downAfterSeconds: number): NodeView {
  return {
    ...node.report,
    state: nodeState(node, now, downAfterSeconds),
    heartbeat_at: new Date(node.heartbeatAt).toISOString(),
    seconds_since_heartbeat: Math.max(0, Math.round((now - node.heartbeatAt) / 100) / 10),
    stopped_at: node.stoppedAt === null ? null : new Date(node.stoppedAt).toISOString(),
  };
}

/** Node id syntax (NODE_ID's, plus the `-w<i>` of worker processes): anything else in a path is a 400, not a lookup. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,80}$/;
