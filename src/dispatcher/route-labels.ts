/** How a route is shown in one line: in the CLI's tables and the API's formatted listing. */
import type { RouteRecord } from "../storage/route-repository";

type Shown = Pick<RouteRecord, "is_regex" | "path_pattern" | "methods" | "target_type" | "target_value" | "scope" | "proxy_hostnames">;

export const routePath = (r: Shown) => (r.is_regex ? `~${r.path_pattern}` : r.path_pattern);
export const routeMethods = (r: Shown) => (r.methods.length ? r.methods.join(",") : "*");
export const routeTarget = (r: Shown) => `${r.target_type}:${r.target_value}`;
export const routeScope = (r: Shown) => (r.scope === "global" ? "global" : `proxy:${r.proxy_hostnames.join(",")}`);
