/**
 * `portcullis cluster nodes` / `cluster node <id>`: the gateway nodes on this
 * Redis as the registry shows them (admin, viewers, cluster keys), over
 * /api/v1/cluster/nodes.
 */
import type { Command } from "commander";
import type { NodeView } from "../../orchestration/cluster-view";
import type { CommandContext } from "../context";
import { renderItem, renderList, type Column } from "../output";

const mebibytes = (bytes: number) => `${Math.round(bytes / 1_048_576)} MiB`;

const COLUMNS: Column<NodeView>[] = [
  { header: "Node", value: (n) => n.node_id },
  { header: "State", value: (n) => n.state },
  { header: "Host", value: (n) => n.host },
  { header: "PID", value: (n) => n.pid },
  { header: "Version", value: (n) => n.version },
  { header: "Started", value: (n) => n.started_at, kind: "date" },
  { header: "Heartbeat", value: (n) => n.heartbeat_at, kind: "date" },
  { header: "Listeners", value: (n) => n.listeners.map((l) => `${l.name}:${l.port}`).join(" ") },
  { header: "Behind", value: (n) => n.event_stream.behind_events },
  { header: "Req/s", value: (n) => n.load.requests_per_second },
  { header: "In flight", value: (n) => n.load.pending_requests },
  { header: "Memory", value: (n) => n.load.memory_rss_bytes },
];

/** The table shows memory in MiB; csv/json/yaml keep bytes. */
const tableColumns = COLUMNS.map((c) => (c.header === "Memory" ? { ...c, value: (n: NodeView) => mebibytes(n.load.memory_rss_bytes) } : c));

/** Adds `nodes` and `node` under `portcullis cluster` (created here unless another module made it first). */
export function registerClusterNodeCommands(program: Command, context: CommandContext): void {
  const cluster = program.commands.find((command) => command.name() === "cluster") ?? program.command("cluster").description("The gateway nodes sharing this Redis");
  cluster
    .command("nodes")
    .description("List the gateway nodes on this Redis: up, down (no heartbeat for CLUSTER_NODE_DOWN_SECONDS) or stopped (admin, viewer, cluster key)")
    .action(async () => {
      const { client, settings, print } = context();
      const { nodes } = await client.get<{ nodes: NodeView[] }>("/api/v1/cluster/nodes");
      const columns = settings.format === "table" ? tableColumns : COLUMNS;
      print(renderList(nodes, columns, settings.format, "No gateway node has registered on this Redis (is one running?)."));
    });
  cluster
    .command("node")
    .description("One gateway node's registry entry (admin, viewer, cluster key)")
    .argument("<id>", "the node id (NODE_ID)")
    .action(async (id: string) => {
      const { client, settings, print } = context();
      const node = await client.get<NodeView>(`/api/v1/cluster/nodes/${encodeURIComponent(id)}`);
      print(renderItem(node as unknown as Record<string, unknown>, settings.format));
    });
}
