/**
 * "Deleting a service that a route or proxy uses is refused with 409 listing
 * them, unless force" (issue spec, 001 "Service Management"), for every
 * service type. The refusal is decided inside the delete's own Redis
 * transaction (storage/service-users.ts): a route or proxy created between a
 * separate check and the delete would otherwise be missed and left pointing at
 * a service that no longer exists.
 */
import type { Redis } from "ioredis";
import { conflict } from "../core/errors";
import { queueDeleteProxy } from "../storage/proxy-repository";
import { readServiceUsers, type ServiceDeleteGuard, type ServiceUsers } from "../storage/service-users";
import { TransactionConflictError } from "../storage/transaction";
import { canSee, type Caller } from "./caller";

export interface InUseOptions {
  /** Delete even while routes or proxies use the service (they then answer 502). */
  readonly force: boolean;
  /** The caller's own `service:{name}` proxies are deleted in the same transaction and do not count as users. */
  readonly deleteOwnProxies: boolean;
}

/** 409 naming the routes and proxies that use the service (those the caller cannot see only counted). */
export function refuseIfUsed(caller: Caller, name: string, users: ServiceUsers, except: ReadonlySet<string>): void {
  const proxies = users.proxies.filter((p) => !except.has(p.hostname));
  const visibleRoutes = users.routes.filter((r) => canSee(caller, r.owner_token_hash)).map((r) => r.route_id);
  const visibleProxies = proxies.filter((p) => canSee(caller, p.owner_token_hash)).map((p) => p.hostname);
  const hidden = users.routes.length - visibleRoutes.length + proxies.length - visibleProxies.length;
  if (visibleRoutes.length + visibleProxies.length + hidden === 0) return;
  const named = [
    visibleRoutes.length > 0 ? `routes ${visibleRoutes.join(", ")}` : "",
    visibleProxies.length > 0 ? `proxies ${visibleProxies.join(", ")}` : "",
    hidden > 0 ? `${hidden} route(s) or proxies of other tokens` : "",
  ].filter(Boolean);
  throw conflict(`service ${name} is used by ${named.join(" and ")}; change them first, or add force=true to delete it anyway (they then answer 502)`);
}

/**
 * A quick check before any slow work (a Docker delete asks the engine first):
 * the same refusal, read without a transaction. The guard below decides again
 * atomically at the delete itself.
 */
export async function precheckInUse(redis: Redis, caller: Caller, name: string, options: InUseOptions): Promise<void> {
  if (options.force) return;
  const users = await readServiceUsers(redis, name, false);
  refuseIfUsed(caller, name, users, ownProxyHostnames(caller, users, options));
}

/**
 * The guard for a service delete's transaction: refuses while used (unless
 * force) and queues the deletion of the caller's own proxies when asked.
 * `deletedProxies` receives the hostnames of the attempt that committed.
 */
export function inUseGuard(caller: Caller, name: string, options: InUseOptions, deletedProxies: string[]): ServiceDeleteGuard {
  return async (conn, tx) => {
    deletedProxies.length = 0; // an aborted attempt's list is not the committed one
    if (options.force && !options.deleteOwnProxies) return;
    const users = await readServiceUsers(conn, name, true);
    const own = ownProxyHostnames(caller, users, options);
    if (!options.force) refuseIfUsed(caller, name, users, own);
    for (const proxy of users.proxies) {
      if (!own.has(proxy.hostname)) continue;
      queueDeleteProxy(tx, proxy);
      deletedProxies.push(proxy.hostname);
    }
  };
}

/** A delete whose routes and proxies kept changing through every retry answers 409 (try again), not 500. */
export async function retriedDelete<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof TransactionConflictError) throw conflict(`service ${name}: the routes and proxies using it kept changing while it was being deleted; try again`);
    throw error;
  }
}

function ownProxyHostnames(caller: Caller, users: ServiceUsers, options: InUseOptions): Set<string> {
  if (!options.deleteOwnProxies) return new Set();
  return new Set(users.proxies.filter((p) => p.owner_token_hash === caller.hash).map((p) => p.hostname));
}
