/**
 * /api/v1/services — external services, the internal ones, and the unified
 * registry (001 "Service Management"). External services are owned: the admin
 * sees and changes every one, other tokens their own. Internal services (the
 * gateway's API) are registered by the gateway and listed for everyone; they
 * cannot be created, changed or deleted here. Docker services are listed in
 * the unified view when their records (`docker_service:{name}`) exist.
 */
import { Elysia, t } from "elysia";
import { badParameter, conflict, forbidden, invalid, notFound } from "../../core/errors";
import { INTERNAL_SERVICES, type ExternalServiceRecord, type ServiceRepository } from "../../storage/service-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, canSee, type Caller } from "../caller";
import { inUseGuard, retriedDelete } from "../service-in-use";
import {
  checkNewServiceName,
  checkServiceName,
  checkServiceTargetUrl,
  ExternalServiceCreateBody,
  ExternalServiceUpdateBody,
} from "../schemas/service";

export const SERVICE_TYPES = ["docker", "external", "internal"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

export interface UnifiedService {
  service_name: string;
  service_type: ServiceType;
  /** What `service:url:{name}` resolves to now (null: nothing; routes and proxies naming it get 502). */
  url: string | null;
  status: string;
  /** The owning token's name for services the caller may see the owner of; null for internal services. */
  owner: string | null;
}

const NameParams = t.Object({ name: t.String({ minLength: 1, maxLength: 200 }) });

export function serviceRoutes(deps: { tokens: TokenRepository; services: ServiceRepository }) {
  const { services } = deps;

  const refuseInternal = (name: string, action: string) => {
    if ((INTERNAL_SERVICES as readonly string[]).includes(name)) {
      throw forbidden(`${JSON.stringify(name)} is an internal service, registered by the gateway itself; it cannot be ${action}`);
    }
  };

  const visibleService = async (caller: Caller, name: string): Promise<ExternalServiceRecord> => {
    const record = await services.get(name);
    if (!record || !canSee(caller, record.owner_token_hash)) throw notFound(`external service ${JSON.stringify(name.slice(0, 100))}`);
    return record;
  };

  /** Token names by hash, for the owner column of the unified view (admin only: others see their own name). */
  const ownerNames = async (caller: Caller): Promise<Map<string, string>> => {
    if (!caller.seesAll) return new Map([[caller.hash, caller.name]]);
    return new Map((await deps.tokens.list()).map((token) => [token.hash, token.name]));
  };

  const unified = async (caller: Caller, type: ServiceType | undefined): Promise<UnifiedService[]> => {
    const owners = await ownerNames(caller);
    const ownerOf = (hash: string | null) => (hash === null ? null : (owners.get(hash) ?? hash));
    const out: UnifiedService[] = [];
    if (type === undefined || type === "docker") {
      const docker = (await services.listDocker()).filter((s) => canSee(caller, s.owner_token_hash));
      const urls = await services.urls(docker.map((s) => s.service_name));
      docker.forEach((s, i) =>
        out.push({ service_name: s.service_name, service_type: "docker", url: urls[i] ?? null, status: s.status ?? "registered", owner: ownerOf(s.owner_token_hash) }),
      );
    }
    if (type === undefined || type === "external") {
      const external = (await services.list()).filter((s) => canSee(caller, s.owner_token_hash));
      const urls = await services.urls(external.map((s) => s.service_name));
      external.forEach((s, i) =>
        out.push({ service_name: s.service_name, service_type: "external", url: urls[i] ?? null, status: "registered", owner: ownerOf(s.owner_token_hash) }),
      );
    }
    if (type === undefined || type === "internal") {
      const urls = await services.urls(INTERNAL_SERVICES);
      INTERNAL_SERVICES.forEach((name, i) => out.push({ service_name: name, service_type: "internal", url: urls[i] ?? null, status: "internal", owner: null }));
    }
    return out;
  };

  return new Elysia({ prefix: "/services", tags: ["services"] })
    .resolve(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get(
      "/unified",
      ({ caller, query }) => {
        const type = query.type;
        if (type !== undefined && !(SERVICE_TYPES as readonly string[]).includes(type)) {
          throw badParameter(`type: ${JSON.stringify(type.slice(0, 100))} is not a service type; expected one of ${SERVICE_TYPES.join(", ")}`);
        }
        return unified(caller, type as ServiceType | undefined);
      },
      {
        query: t.Object({ type: t.Optional(t.String({ description: "docker, external or internal" })) }),
        detail: { summary: "List every service the caller can see (Docker, external, internal) with its type, URL, status and owner" },
      },
    )
    .get("/external", async ({ caller }) => (await services.list()).filter((s) => canSee(caller, s.owner_token_hash)), {
      detail: { summary: "List the external services the caller can see" },
    })
    .post(
      "/external",
      async ({ body, caller, set }) => {
        const name = checkNewServiceName("service_name", body.service_name);
        const now = new Date().toISOString();
        const record: ExternalServiceRecord = {
          service_name: name,
          service_type: "external",
          target_url: checkServiceTargetUrl(body.target_url),
          description: body.description ?? "",
          routing_enabled: body.routing_enabled ?? true,
          owner_token_hash: caller.hash,
          created_by: caller.name,
          created_at: now,
          updated_at: now,
        };
        const outcome = await services.create(record);
        if (outcome === "taken_external") throw conflict(`service_name: an external service ${JSON.stringify(name)} already exists`);
        if (outcome === "taken_docker") throw conflict(`service_name: a Docker service ${JSON.stringify(name)} already exists`);
        set.status = 201;
        return record;
      },
      { body: ExternalServiceCreateBody, detail: { summary: "Register an external service: a name routes and proxies (service:{name}) resolve to target_url" } },
    )
    .get(
      "/external/:name",
      async ({ caller, params }) => {
        refuseInternal(params.name, "shown as an external service; see GET /api/v1/services/unified?type=internal");
        return visibleService(caller, params.name);
      },
      { params: NameParams, detail: { summary: "Show an external service" } },
    )
    .put(
      "/external/:name",
      async ({ body, caller, params }) => {
        refuseInternal(params.name, "changed");
        const current = await visibleService(caller, params.name);
        if (body.service_name !== undefined && body.service_name !== current.service_name) {
          throw invalid(`service_name: ${JSON.stringify(body.service_name.slice(0, 100))} differs from the path's ${JSON.stringify(current.service_name)}; a service cannot be renamed`);
        }
        const targetUrl = body.target_url === undefined ? undefined : checkServiceTargetUrl(body.target_url);
        const updated = await services.update(current.service_name, (stored) => ({
          ...stored,
          ...(targetUrl !== undefined && { target_url: targetUrl }),
          ...(body.description !== undefined && { description: body.description }),
          ...(body.routing_enabled !== undefined && { routing_enabled: body.routing_enabled }),
        }));
        if (!updated) throw notFound(`external service ${JSON.stringify(params.name)}`);
        return updated;
      },
      { params: NameParams, body: ExternalServiceUpdateBody, detail: { summary: "Change an external service; routes and proxies using it follow at once" } },
    )
    .delete(
      "/external/:name",
      async ({ caller, params, query }) => {
        refuseInternal(params.name, "deleted");
        checkServiceName("name", params.name);
        const current = await visibleService(caller, params.name);
        // The in-use check runs inside the delete's transaction: a route or proxy created meanwhile is seen.
        const guard = inUseGuard(caller, current.service_name, { force: query.force === "true", deleteOwnProxies: false }, []);
        const deleted = await retriedDelete(current.service_name, () => services.delete(current.service_name, guard));
        if (!deleted) throw notFound(`external service ${JSON.stringify(params.name)}`);
        return { deleted: current.service_name };
      },
      {
        params: NameParams,
        query: t.Object({ force: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])) }),
        detail: { summary: "Delete an external service; refused (409, naming them) while routes or proxies use it, unless force=true" },
      },
    );
}
