/** `portcullis logs audit`: every API write, newest first (admin), over /api/v1/logs/audit. */
import type { Command } from "commander";
import type { AuditEntry } from "../../consumers/audit/entry";
import type { CommandContext } from "../context";
import { renderList, type Column } from "../output";

const COLUMNS: Column<AuditEntry>[] = [
  { header: "Time", value: (e) => e.ts, kind: "date" },
  { header: "Token", value: (e) => e.token },
  { header: "Role", value: (e) => e.role },
  { header: "IP", value: (e) => e.ip },
  { header: "Method", value: (e) => e.method },
  { header: "Path", value: (e) => e.path },
  { header: "Status", value: (e) => e.status },
  { header: "Changed", value: (e) => (e.changed.length > 0 ? e.changed.map((name) => describeField(e, name)).join(", ") : e.error) },
];

/** `name=new` for a set field, `name: old → new` for a changed one. */
function describeField(entry: AuditEntry, name: string): string {
  const show = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));
  if (entry.before && entry.after) return `${name}: ${show(entry.before[name])} → ${show(entry.after[name])}`;
  if (entry.after) return `${name}=${show(entry.after[name])}`;
  return name;
}

/** Adds `audit` under `portcullis logs`. */
export function registerAuditLogCommands(logs: Command, context: CommandContext): void {
  logs
    .command("audit")
    .description("The audit log: every API write (who, from where, what changed), newest first (admin)")
    .option("--token <name>", "only writes made with this token")
    .option("--path <path>", "only this API path, or a prefix ending in * (/api/v1/proxy/*)")
    .option("--since <time>", "from this time on (ISO 8601)")
    .option("--hours <n>", "how far back (default 24)")
    .option("--limit <n>", "entries at most (default 100)")
    .action(async (options: { token?: string; path?: string; since?: string; hours?: string; limit?: string }) => {
      const { client, settings, print } = context();
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(options)) if (value !== undefined) query.set(name, value);
      const { entries } = await client.get<{ entries: AuditEntry[] }>(`/api/v1/logs/audit?${query}`);
      print(renderList(entries, COLUMNS, settings.format, "No API writes in this window."));
    });
}
