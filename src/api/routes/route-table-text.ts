/** GET /api/v1/routes/formatted: routes as a fixed-width text table, in evaluation order. */
import type { RouteRecord } from "../../storage/route-repository";

const COLUMNS: [header: string, value: (r: RouteRecord) => string][] = [
  ["PRIORITY", (r) => String(r.priority)],
  ["ID", (r) => r.route_id],
  ["PATH", (r) => (r.is_regex ? `~${r.path_pattern}` : r.path_pattern)],
  ["METHODS", (r) => (r.methods.length ? r.methods.join(",") : "*")],
  ["TARGET", (r) => `${r.target_type}:${r.target_value}`],
  ["SCOPE", (r) => (r.scope === "global" ? "global" : `proxy:${r.proxy_hostnames.join(",")}`)],
  ["ENABLED", (r) => (r.enabled ? "yes" : "no")],
  ["DESCRIPTION", (r) => r.description],
];

export function formatRouteTable(routes: readonly RouteRecord[]): string {
  if (routes.length === 0) return "No routes. Create one: portcullis route create <path> url <target-url>\n";
  const rows = [COLUMNS.map(([header]) => header), ...routes.map((r) => COLUMNS.map(([, value]) => value(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}
