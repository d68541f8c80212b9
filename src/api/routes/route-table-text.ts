/** GET /api/v1/routes/formatted: routes as a fixed-width text table, in evaluation order. */
import { routeMethods, routePath, routeScope, routeTarget } from "../../dispatcher/route-labels";
import type { RouteRecord } from "../../storage/route-repository";

const COLUMNS: [header: string, value: (r: RouteRecord) => string][] = [
  ["PRIORITY", (r) => String(r.priority)],
  ["ID", (r) => r.route_id],
  ["PATH", routePath],
  ["METHODS", routeMethods],
  ["TARGET", routeTarget],
  ["SCOPE", routeScope],
  ["ENABLED", (r) => (r.enabled ? "yes" : "no")],
  ["DESCRIPTION", (r) => r.description],
];

export function formatRouteTable(routes: readonly RouteRecord[]): string {
  if (routes.length === 0) return "No routes. Create one: portcullis route create <path> url <target-url>\n";
  const rows = [COLUMNS.map(([header]) => header), ...routes.map((r) => COLUMNS.map(([, value]) => value(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}
