/**
 * Route evaluation, pure: which routes apply to a proxy (scope, route_mode,
 * enabled/disabled lists), compiled once per config change, and matched per
 * request by priority — highest first, first match wins.
 */
import type { EdgeAuthPolicy } from "../auth/edge/policy";
import type { ForwardTarget } from "../proxies/forward-target";
import type { ProxyRecord } from "../storage/proxy-repository";
import type { RouteRecord } from "../storage/route-repository";

export interface CompiledRoute {
  readonly id: string;
  readonly priority: number;
  /** Upper-case methods; null matches every method. */
  readonly methods: ReadonlySet<string> | null;
  readonly matches: (path: string) => boolean;
  /** Null when the target cannot be resolved (e.g. an unknown service): requests get 502. */
  readonly target: ForwardTarget | null;
  /** For target_type "hostname": the host whose handler (proxy, API, OAuth server) takes the request, looked up per request. */
  readonly hostTarget: string | null;
  /** With override_proxy_auth: the policy for this route's paths (null: public); undefined: the proxy's. */
  readonly authPolicy: EdgeAuthPolicy | null | undefined;
  /** What the route points at, for error messages to the operator (never to clients). */
  readonly targetLabel: string;
}

type RouteControl = Pick<ProxyRecord, "hostname" | "route_mode" | "enabled_routes" | "disabled_routes">;

/** The routes that apply to one proxy, highest priority first (ties by id, for a stable order). */
export function routesForProxy(proxy: RouteControl, routes: Iterable<RouteRecord>): RouteRecord[] {
  if (proxy.route_mode === "none") return [];
  const enabled = new Set(proxy.enabled_routes);
  const disabled = new Set(proxy.disabled_routes);
  const applicable: RouteRecord[] = [];
  for (const route of routes) {
    if (!route.enabled) continue;
    if (route.scope === "proxy" && !route.proxy_hostnames.includes(proxy.hostname)) continue;
    if (proxy.route_mode === "selective" ? !enabled.has(route.route_id) : disabled.has(route.route_id)) continue;
    applicable.push(route);
  }
  return applicable.sort(byPriority);
}

export function byPriority(a: RouteRecord, b: RouteRecord): number {
  return b.priority - a.priority || a.route_id.localeCompare(b.route_id);
}

/** Compiles a route's path test; throws on an invalid regex (rejected by the API before it is stored). */
export function pathMatcher(route: Pick<RouteRecord, "path_pattern" | "is_regex">): (path: string) => boolean {
  if (route.is_regex) {
    const regex = new RegExp(route.path_pattern);
    return (path) => regex.test(path);
  }
  const prefix = route.path_pattern;
  return (path) => path.startsWith(prefix);
}

export function compileRoute(
  route: RouteRecord,
  matches: (path: string) => boolean,
  target: ForwardTarget | null,
  hostTarget: string | null = null,
  authPolicy: EdgeAuthPolicy | null | undefined = undefined,
): CompiledRoute {
  return {
    id: route.route_id,
    priority: route.priority,
    methods: route.methods.length > 0 ? new Set(route.methods.map((m) => m.toUpperCase())) : null,
    matches,
    target,
    hostTarget,
    authPolicy,
    targetLabel: `${route.target_type}:${route.target_value}`,
  };
}

/** The first route, in priority order, whose method set and path test accept the request. */
export function matchRoute(routes: readonly CompiledRoute[], method: string, path: string): CompiledRoute | undefined {
  for (const route of routes) {
    if (route.methods && !route.methods.has(method)) continue;
    if (route.matches(path)) return route;
  }
  return undefined;
}
