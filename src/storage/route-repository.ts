/**
 * Routes (`route:{id}`, spec "Route Management"). A path+priority pair is unique
 * (`route:unique:{path}:{prio}`); `route:priority:{prio}:{id}` indexes by
 * priority. Every write queues its `route_*` event in the same transaction.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { queueEvent } from "../orchestration/events";
import { keys } from "./keys";
import { queueDisown, queueOwn, type OwnedResourceKind } from "./ownership";
import { watchAndCommit } from "./transaction";

export const ROUTE_KIND = "route";

/** url: a backend URL; service: a named service's URL; hostname: whatever serves that hostname here (a proxy, the API, the OAuth server). */
export type RouteTargetType = "url" | "service" | "hostname";
export type RouteScope = "global" | "proxy";

/** How a route with override_proxy_auth authenticates its paths (002 "Route Authentication Override"). */
export interface RouteAuthConfig {
  /** none: public, whatever the proxy says; oauth: a valid token, whether or not the proxy has auth on. */
  auth_type: "none" | "oauth";
  /** With oauth: scopes the token must carry for this route, beyond the proxy's auth_allowed_scopes. */
  required_scopes?: string[];
}

export interface RouteRecord {
  route_id: string;
  path_pattern: string;
  target_type: RouteTargetType;
  target_value: string;
  priority: number;
  methods: string[];
  is_regex: boolean;
  enabled: boolean;
  scope: RouteScope;
  proxy_hostnames: string[];
  description: string;
  /** The route's auth_config replaces the proxy's auth policy for its paths. Records older than the field lack it: read as false. */
  override_proxy_auth: boolean;
  /** Read only when override_proxy_auth is true; older records lack it: read as null. */
  auth_config: RouteAuthConfig | null;
  owner_token_hash: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

export type RouteWriteResult = { ok: true; route: RouteRecord } | { ok: false; reason: "id_taken" | "duplicate"; conflict?: string } | null;

export class RouteRepository {
  constructor(private readonly redis: Redis) {}

  create(route: RouteRecord): Promise<RouteWriteResult> {
    const unique = keys.routeUnique(route.path_pattern, route.priority);
    return watchAndCommit<RouteWriteResult>(this.redis, [keys.route(route.route_id), unique], async (conn) => {
      if (await conn.exists(keys.route(route.route_id))) return { result: { ok: false, reason: "id_taken" } };
      const holder = await conn.get(unique);
      if (holder !== null) return { result: { ok: false, reason: "duplicate", conflict: holder } };
      const tx = conn.multi();
      queueWrite(tx, route);
      if (route.owner_token_hash) queueOwn(tx, route.owner_token_hash, ROUTE_KIND, route.route_id);
      queueEvent(tx, { event_type: "route_created", data: { route_id: route.route_id } });
      return { commit: tx, result: { ok: true, route } };
    });
  }

  async get(id: string): Promise<RouteRecord | null> {
    return parse(await this.redis.get(keys.route(id)));
  }

  async list(): Promise<RouteRecord[]> {
    const ids = await this.redis.smembers(keys.routeIds);
    if (ids.length === 0) return [];
    const routes = (await this.redis.mget(ids.map(keys.route))).map(parse).filter((r): r is RouteRecord => r !== null);
    return routes.sort((a, b) => b.priority - a.priority || a.route_id.localeCompare(b.route_id));
  }

  /** Applies `change` under WATCH; moves the unique and priority indexes when path or priority change. */
  async update(id: string, change: (current: RouteRecord) => RouteRecord): Promise<RouteWriteResult> {
    return watchAndCommit<RouteWriteResult>(this.redis, [keys.route(id)], async (conn) => {
      const current = parse(await conn.get(keys.route(id)));
      if (!current) return { result: null };
      const updated: RouteRecord = { ...change(current), route_id: id, updated_at: new Date().toISOString() };
      const newUnique = keys.routeUnique(updated.path_pattern, updated.priority);
      if (newUnique !== keys.routeUnique(current.path_pattern, current.priority)) {
        await conn.watch(newUnique);
        const holder = await conn.get(newUnique);
        if (holder !== null && holder !== id) return { result: { ok: false, reason: "duplicate", conflict: holder } };
      }
      const tx = conn.multi();
      queueUnindex(tx, current);
      queueWrite(tx, updated);
      queueEvent(tx, { event_type: "route_updated", data: { route_id: id } });
      return { commit: tx, result: { ok: true, route: updated } };
    });
  }

  delete(id: string): Promise<boolean> {
    return watchAndCommit(this.redis, [keys.route(id)], async (conn) => {
      const current = parse(await conn.get(keys.route(id)));
      if (!current) return { result: false };
      const tx = conn.multi();
      queueDelete(tx, current);
      if (current.owner_token_hash) queueDisown(tx, current.owner_token_hash, ROUTE_KIND, id);
      return { commit: tx, result: true };
    });
  }

  ownedKind(): OwnedResourceKind {
    return {
      kind: ROUTE_KIND,
      queueDelete: async (tx, ids) => {
        for (const route of await Promise.all(ids.map((id) => this.get(id)))) if (route) queueDelete(tx, route);
      },
    };
  }
}

function queueWrite(tx: ChainableCommander, route: RouteRecord): void {
  tx.set(keys.route(route.route_id), JSON.stringify(route));
  tx.set(keys.routeUnique(route.path_pattern, route.priority), route.route_id);
  tx.set(keys.routePriority(route.priority, route.route_id), route.route_id);
  tx.sadd(keys.routeIds, route.route_id);
}

function queueUnindex(tx: ChainableCommander, route: RouteRecord): void {
  tx.del(keys.routeUnique(route.path_pattern, route.priority), keys.routePriority(route.priority, route.route_id));
}

function queueDelete(tx: ChainableCommander, route: RouteRecord): void {
  queueUnindex(tx, route);
  tx.del(keys.route(route.route_id));
  tx.srem(keys.routeIds, route.route_id);
  queueEvent(tx, { event_type: "route_deleted", data: { route_id: route.route_id } });
}

/** Fields added after records were first stored get their defaults here, so every reader sees a complete record. */
function parse(raw: string | null): RouteRecord | null {
  return raw === null ? null : ({ override_proxy_auth: false, auth_config: null, ...JSON.parse(raw) } as RouteRecord);
}
