/**
 * /api/v1/proxy/targets — proxy targets and their route control (002 "API
 * Endpoints"). The admin sees every proxy; other tokens see what they own.
 */
import { Elysia, t } from "elysia";
import { conflict, invalid, notFound } from "../../core/errors";
import { routesForProxy } from "../../dispatcher/routes";
import type { ProxyRecord, ProxyRepository } from "../../storage/proxy-repository";
import type { RouteRepository } from "../../storage/route-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, canSee, type Caller } from "../caller";
import { checkProxySettings, PROXY_DEFAULTS, ProxyCreateBody, ProxyUpdateBody } from "../schemas/proxy-target";

/** What the API shows of a proxy: everything but its secrets. */
export function proxyView(record: ProxyRecord) {
  const { github_client_secret, ...view } = record;
  return { ...view, github_client_secret_set: github_client_secret !== null };
}

const RouteControlBody = t.Object(
  {
    route_mode: t.Optional(t.Union([t.Literal("all"), t.Literal("selective"), t.Literal("none")])),
    enabled_routes: t.Optional(t.Array(t.String(), { maxItems: 1000 })),
    disabled_routes: t.Optional(t.Array(t.String(), { maxItems: 1000 })),
  },
  { additionalProperties: false },
);

export function proxyTargetRoutes(deps: {
  tokens: TokenRepository;
  proxies: ProxyRepository;
  routes: RouteRepository;
  apiHostnames: readonly string[];
}) {
  const { proxies } = deps;

  const visibleProxy = async (caller: Caller, hostname: string): Promise<ProxyRecord> => {
    const record = await proxies.get(hostname.toLowerCase());
    if (!record || !canSee(caller, record.owner_token_hash)) throw notFound(`proxy ${JSON.stringify(hostname)}`);
    return record;
  };

  const routeControl = async (record: ProxyRecord) => ({
    hostname: record.hostname,
    route_mode: record.route_mode,
    enabled_routes: record.enabled_routes,
    disabled_routes: record.disabled_routes,
    effective_routes: routesForProxy(record, await deps.routes.list()),
  });

  return new Elysia({ prefix: "/proxy/targets", tags: ["proxies"] })
    .resolve(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/", async ({ caller }) => (await proxies.list()).filter((p) => canSee(caller, p.owner_token_hash)).map(proxyView), {
      detail: { summary: "List the proxies the caller can see" },
    })
    .post(
      "/",
      async ({ body, caller, set }) => {
        const { hostname, ...settings } = checkProxySettings(body);
        if (deps.apiHostnames.includes(hostname)) throw conflict(`${hostname} is reserved for the API (API_HOSTNAME)`);
        const now = new Date().toISOString();
        const record: ProxyRecord = {
          hostname,
          ...PROXY_DEFAULTS,
          ...settings,
          owner_token_hash: caller.hash,
          created_by: caller.name,
          created_at: now,
          updated_at: now,
        };
        if (!(await proxies.create(record))) throw conflict(`a proxy for ${hostname} already exists`);
        set.status = 201;
        return proxyView(record);
      },
      { body: ProxyCreateBody, detail: { summary: "Create a proxy target; it serves at once on every node" } },
    )
    .get("/:hostname", async ({ caller, params }) => proxyView(await visibleProxy(caller, params.hostname)), {
      detail: { summary: "One proxy target" },
    })
    .put(
      "/:hostname",
      async ({ body, caller, params }) => {
        const current = await visibleProxy(caller, params.hostname);
        const settings = checkProxySettings(body);
        if (settings.hostname !== undefined && settings.hostname !== current.hostname) {
          throw invalid("hostname: a proxy's hostname cannot change; create a new proxy instead");
        }
        const updated = await proxies.update(current.hostname, (stored) => ({ ...stored, ...settings, hostname: stored.hostname }));
        if (!updated) throw notFound(`proxy ${JSON.stringify(params.hostname)}`);
        return proxyView(updated);
      },
      { body: ProxyUpdateBody, detail: { summary: "Change some settings of a proxy target" } },
    )
    .delete(
      "/:hostname",
      async ({ caller, params }) => {
        const current = await visibleProxy(caller, params.hostname);
        if (!(await proxies.delete(current.hostname))) throw notFound(`proxy ${JSON.stringify(params.hostname)}`);
        return { deleted: current.hostname };
      },
      { detail: { summary: "Delete a proxy target; requests in flight finish" } },
    )
    .get("/:hostname/routes", async ({ caller, params }) => routeControl(await visibleProxy(caller, params.hostname)), {
      detail: { summary: "The proxy's route mode and the routes that apply to it, in evaluation order" },
    })
    .put(
      "/:hostname/routes",
      async ({ body, caller, params }) => {
        const current = await visibleProxy(caller, params.hostname);
        const updated = await proxies.update(current.hostname, (stored) => ({ ...stored, ...body }));
        if (!updated) throw notFound(`proxy ${JSON.stringify(params.hostname)}`);
        return routeControl(updated);
      },
      { body: RouteControlBody, detail: { summary: "Set route_mode, enabled_routes and disabled_routes" } },
    );
}
