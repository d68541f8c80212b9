/**
 * /api/v1/routes — priority-based path routing (spec "Route Management").
 *
 * A global route applies to every proxy, so only the admin creates or changes
 * one. Other tokens create routes scoped to proxies they own, aimed at URLs,
 * their own proxies or the authorization server, and see their own routes plus
 * the global ones.
 */
import { randomBytes } from "node:crypto";
import { Elysia } from "elysia";
import { ApiError, conflict, forbidden, invalid, notFound } from "../../core/errors";
import { byPriority } from "../../dispatcher/routes";
import type { ProxyRepository } from "../../storage/proxy-repository";
import type { RouteRecord, RouteRepository, RouteWriteResult } from "../../storage/route-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, canSee, type Caller } from "../caller";
import { checkRoute, ROUTE_DEFAULTS, ROUTE_ID, RouteCreateBody, RouteUpdateBody } from "../schemas/route";
import { formatRouteTable } from "./route-table-text";

export function routeRoutes(deps: {
  tokens: TokenRepository;
  proxies: ProxyRepository;
  routes: RouteRepository;
  /** Hostnames the API answers on: a route to them is the admin's to make. */
  apiHostnames: readonly string[];
  /** The authorization server's hostnames: public, any token may route to them. */
  authHostnames: readonly string[];
}) {
  const { routes } = deps;

  const canRead = (caller: Caller, route: RouteRecord) => route.scope === "global" || canSee(caller, route.owner_token_hash);

  const visibleRoute = async (caller: Caller, id: string): Promise<RouteRecord> => {
    const route = await routes.get(id);
    if (!route || !canRead(caller, route)) throw notFound(`route ${JSON.stringify(id)}`);
    return route;
  };

  const checkOwnsProxy = async (caller: Caller, hostname: string, field: string) => {
    const proxy = await deps.proxies.get(hostname);
    if (!proxy || !canSee(caller, proxy.owner_token_hash)) throw notFound(`${field}: proxy ${JSON.stringify(hostname)}`);
  };

  /**
   * Non-admins may only attach routes to proxies they own, and only send them
   * to what they own or what is public: another token's proxy, the API or a
   * service would otherwise be reachable through their hostname.
   */
  const checkRouteAllowed = async (caller: Caller, route: Pick<RouteRecord, "scope" | "proxy_hostnames" | "target_type" | "target_value">) => {
    if (caller.isAdmin) return;
    if (route.scope === "global") throw forbidden("only the admin token manages global routes; use scope \"proxy\"");
    for (const hostname of route.proxy_hostnames) await checkOwnsProxy(caller, hostname, "proxy_hostnames");
    if (route.target_type === "service") throw forbidden("target_type: only the admin token routes to services");
    if (route.target_type !== "hostname") return;
    if (deps.apiHostnames.includes(route.target_value)) throw forbidden("target_value: only the admin token routes to the API");
    if (!deps.authHostnames.includes(route.target_value)) await checkOwnsProxy(caller, route.target_value, "target_value");
  };

  const unwrap = (result: RouteWriteResult, id: string): RouteRecord => {
    if (result === null) throw notFound(`route ${JSON.stringify(id)}`);
    if (result.ok) return result.route;
    if (result.reason === "id_taken") throw conflict(`a route with route_id ${JSON.stringify(id)} already exists`);
    throw conflict(`another route (${result.conflict}) has the same path_pattern and priority`);
  };

  return new Elysia({ prefix: "/routes", tags: ["routes"] })
    .resolve(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/", async ({ caller }) => (await routes.list()).filter((r) => canRead(caller, r)), {
      detail: { summary: "List the routes the caller can see, highest priority first" },
    })
    .get(
      "/formatted",
      async ({ caller }) =>
        new Response(formatRouteTable((await routes.list()).filter((r) => canRead(caller, r)).sort(byPriority)), {
          headers: { "content-type": "text/plain; charset=utf-8" },
        }),
      { detail: { summary: "The routes as a plain-text table" } },
    )
    .post(
      "/",
      async ({ body, caller, set }) => {
        const id = body.route_id ?? `route-${randomBytes(4).toString("hex")}`;
        if (!ROUTE_ID.test(id) || id === "formatted") throw invalid("route_id: use 1-64 letters, digits, '_', '.' or '-' (not \"formatted\")");
        const { route_id: _, ...settings } = body;
        const route = checkRoute({ ...ROUTE_DEFAULTS, ...settings });
        await checkRouteAllowed(caller, route);
        const now = new Date().toISOString();
        const record: RouteRecord = {
          route_id: id,
          ...route,
          owner_token_hash: caller.hash,
          created_by: caller.name,
          created_at: now,
          updated_at: now,
        };
        const created = unwrap(await routes.create(record), id);
        set.status = 201;
        return created;
      },
      { body: RouteCreateBody, detail: { summary: "Create a route" } },
    )
    .get("/:id", async ({ caller, params }) => visibleRoute(caller, params.id), { detail: { summary: "One route" } })
    .put(
      "/:id",
      async ({ body, caller, params }) => {
        const current = await visibleRoute(caller, params.id);
        if (!canSee(caller, current.owner_token_hash)) throw forbidden("only the admin token changes global routes");
        if (body.route_id !== undefined && body.route_id !== current.route_id) throw invalid("route_id: cannot change");
        const merged = checkRoute({ ...current, ...body });
        await checkRouteAllowed(caller, merged);
        return unwrap(await routes.update(current.route_id, (stored) => ({ ...stored, ...merged })), params.id);
      },
      { body: RouteUpdateBody, detail: { summary: "Change some settings of a route" } },
    )
    .delete(
      "/:id",
      async ({ caller, params }) => {
        const current = await visibleRoute(caller, params.id);
        if (!canSee(caller, current.owner_token_hash)) throw forbidden("only the admin token deletes global routes");
        if (!(await routes.delete(current.route_id))) throw new ApiError("not_found", `route ${JSON.stringify(params.id)} not found`);
        return { deleted: current.route_id };
      },
      { detail: { summary: "Delete a route" } },
    );
}
