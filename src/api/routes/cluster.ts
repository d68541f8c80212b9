/**
 * /api/v1/cluster/nodes — the gateway nodes registered on this Redis, as
 * their heartbeats describe them, with a state derived at read time (up,
 * down, stopped; orchestration/cluster-view.ts). The admin, viewers and
 * cluster keys read it (permissions.ts); never service-owner tokens: an entry
 * names hosts, pids and ports.
 */
import { Elysia, t } from "elysia";
import type { ClusterSettings } from "../../core/cluster-config";
import { badParameter, notFound } from "../../core/errors";
import { NODE_ID_PATTERN, nodeView } from "../../orchestration/cluster-view";
import type { ClusterNodeRepository } from "../../storage/cluster-node-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate } from "../caller";

export interface ClusterRouteDeps {
  readonly tokens: TokenRepository;
  readonly clusterNodes: ClusterNodeRepository;
  /** CLUSTER_NODE_DOWN_SECONDS as this node reads it. */
  readonly cluster: Pick<ClusterSettings, "downAfterSeconds">;
}

const NODE_FIELDS =
  "node_id, state (up, down — no heartbeat for CLUSTER_NODE_DOWN_SECONDS — or stopped: shut down cleanly), host, pid, version, commit, started_at, heartbeat_at, seconds_since_heartbeat, heartbeat_seconds, stopped_at, listeners [{ name, protocol, port }], event_stream { applied_id, behind_events, lag_seconds } as of its last heartbeat, load { pending_requests, requests_per_second, memory_rss_bytes, heap_used_bytes }";

export function clusterRoutes(deps: ClusterRouteDeps) {
  // Who may read the registry is the permission table's rule (permissions.ts); this only makes sure the credential is valid.
  const requireCaller = async (request: Request) => {
    await authenticate(request, deps.tokens);
  };
  return new Elysia({ prefix: "/cluster", tags: ["cluster"] })
    .get(
      "/nodes",
      async ({ request }) => {
        await requireCaller(request);
        const now = Date.now();
        const nodes = (await deps.clusterNodes.list()).map((node) => nodeView(node, now, deps.cluster.downAfterSeconds));
        return { nodes, count: nodes.length, up: nodes.filter((n) => n.state === "up").length };
      },
      {
        detail: {
          summary: "The gateway nodes on this Redis and their state (admin)",
          description: `Every node that sent a heartbeat within CLUSTER_NODE_FORGET_SECONDS, most recent first. Answers { nodes, count, up }; each node: ${NODE_FIELDS}.`,
        },
      },
    )
    .get(
      "/nodes/:id",
      async ({ request, params }) => {
        await requireCaller(request);
        if (!NODE_ID_PATTERN.test(params.id)) throw badParameter(`id: expected a node id (up to 80 letters, digits, dots, dashes or underscores), got ${JSON.stringify(params.id.slice(0, 100))}`);
        const node = await deps.clusterNodes.get(params.id);
        if (!node) throw notFound(`node ${JSON.stringify(params.id)}`);
        return nodeView(node, Date.now(), deps.cluster.downAfterSeconds);
      },
      {
        params: t.Object({ id: t.String({ description: "The node id (NODE_ID)" }) }),
        detail: { summary: "One gateway node's registry entry and state (admin)", description: `Each field: ${NODE_FIELDS}. 404 when the node is not (or no longer) registered.` },
      },
    );
}
