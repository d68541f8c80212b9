/**
 * Who uses a service: routes of target_type "service" naming it and proxies
 * whose target_url is `service:{name}`. A service delete reads them inside its
 * own transaction, WATCHing the route and proxy indexes and every record it
 * read, so a route or proxy created (or re-pointed) between the check and the
 * delete aborts the delete's EXEC and the check runs again: the refusal
 * ("used by …") and the delete are one atomic decision.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { keys } from "./keys";
import type { ProxyRecord } from "./proxy-repository";
import type { RouteRecord } from "./route-repository";
import { serviceTargetName } from "./service-repository";

export interface ServiceUsers {
  readonly routes: readonly Pick<RouteRecord, "route_id" | "owner_token_hash">[];
  readonly proxies: readonly ProxyRecord[];
}

/**
 * Runs inside a service delete's transaction (after WATCH of the service's
 * record): may read more under WATCH through `conn`, queue writes on `tx`, or
 * throw to refuse the delete (nothing is written).
 */
export type ServiceDeleteGuard = (conn: Redis, tx: ChainableCommander) => Promise<void>;

/**
 * The routes and proxies using `name`. With `watch`, the indexes are WATCHed
 * before they are read and every record before it is read, so the caller's
 * EXEC fails if any of them changes afterwards.
 */
export async function readServiceUsers(conn: Redis, name: string, watch: boolean): Promise<ServiceUsers> {
  if (watch) await conn.watch(keys.routeIds, keys.proxyHostnames);
  const [routeIds, hostnames] = await Promise.all([conn.smembers(keys.routeIds), conn.smembers(keys.proxyHostnames)]);
  const recordKeys = [...routeIds.map(keys.route), ...hostnames.map(keys.proxy)];
  if (recordKeys.length === 0) return { routes: [], proxies: [] };
  if (watch) await conn.watch(...recordKeys);
  const raw = await conn.mget(recordKeys);
  const routes: ServiceUsers["routes"][number][] = [];
  const proxies: ProxyRecord[] = [];
  raw.forEach((value, i) => {
    if (value === null) return;
    if (i < routeIds.length) {
      const route = JSON.parse(value) as RouteRecord;
      if (route.target_type === "service" && route.target_value === name) routes.push({ route_id: route.route_id, owner_token_hash: route.owner_token_hash ?? null });
    } else {
      const proxy = JSON.parse(value) as ProxyRecord;
      if (serviceTargetName(proxy.target_url) === name) proxies.push(proxy);
    }
  });
  routes.sort((a, b) => a.route_id.localeCompare(b.route_id));
  proxies.sort((a, b) => a.hostname.localeCompare(b.hostname));
  return { routes, proxies };
}
