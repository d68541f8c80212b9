/** `portcullis cluster key …`: cluster API keys over /api/v1/cluster/keys (admin only); `cluster nodes` is in cluster-nodes.ts. */
import type { Command } from "commander";
import type { CommandContext } from "../context";
import { renderChange, renderItem, renderList, type Column } from "../output";

interface ClusterKeyView {
  name: string;
  key_preview: string;
  cluster: string;
  created_at: string;
  created_by: string;
  key?: string;
}

const COLUMNS: Column<ClusterKeyView>[] = [
  { header: "Name", value: (k) => k.name },
  { header: "Cluster", value: (k) => k.cluster },
  { header: "Created", value: (k) => k.created_at, kind: "date" },
  { header: "Created By", value: (k) => k.created_by },
  { header: "Key", value: (k) => k.key_preview },
];

export function registerClusterCommands(program: Command, context: CommandContext): Command {
  // Other cluster commands may have made `cluster` already: the key commands join it.
  const cluster = program.commands.find((command) => command.name() === "cluster") ?? program.command("cluster").description("The cluster: API keys for nodes and automation");
  const key = cluster.command("key").description("Manage cluster API keys (admin only)");

  key
    .command("create")
    .description("Create a cluster API key and print it (shown this once)")
    .argument("<name>", "key name")
    .option("--cluster <name>", "the cluster it works on (default: the gateway's CLUSTER_NAME)")
    .action(async (name: string, flags: { cluster?: string }) => {
      const { client, settings, print } = context();
      const created = await client.post<ClusterKeyView>("/api/v1/cluster/keys/", { name, ...(flags.cluster === undefined ? {} : { cluster: flags.cluster }) });
      print(renderItem({ ...created }, settings.format));
      if (settings.format === "table") print("Save this key now: it is stored hashed and never shown again.");
    });

  key
    .command("list")
    .description("List the cluster API keys (previews, never the keys)")
    .action(async () => {
      const { client, settings, print } = context();
      const rows = await client.get<ClusterKeyView[]>("/api/v1/cluster/keys/");
      print(renderList(rows, COLUMNS, settings.format, "No cluster keys yet. Create one: portcullis cluster key create <name>"));
    });

  key
    .command("delete")
    .description("Delete a cluster API key: it stops working at once on every node")
    .argument("<name>", "key name")
    .action(async (name: string) => {
      const { client, settings, print } = context();
      const deleted = await client.delete<{ deleted: string }>(`/api/v1/cluster/keys/${encodeURIComponent(name)}`);
      print(renderChange(`deleted cluster key ${deleted.deleted}`, { ...deleted }, settings.format));
    });

  return cluster;
}
