/**
 * The declarative file's kinds on the REST API: where each is listed,
 * created, changed and deleted. Apply goes through the same endpoints as every
 * other client, so it gets the same checks, ownership and one transaction per
 * resource.
 */
import { ApiError, type ApiClient } from "../api-client";
import { KINDS, type Kind } from "./config-document";
import type { Change, Entry, GatewayState } from "./plan";
import { entryOf } from "./entries";

const ENDPOINTS: Record<Kind, { list: string; create: string; one: (name: string) => string; remove?: (name: string) => string }> = {
  certificates: { list: "/api/v1/certificates/", create: "/api/v1/certificates/multi-domain", one: (n) => `/api/v1/certificates/${encodeURIComponent(n)}` },
  // A running service is deleted with force: prune means "make it gone".
  docker_services: { list: "/api/v1/services/", create: "/api/v1/services/", one: (n) => `/api/v1/services/${encodeURIComponent(n)}`, remove: (n) => `/api/v1/services/${encodeURIComponent(n)}?force=true` },
  external_services: { list: "/api/v1/services/external", create: "/api/v1/services/external", one: (n) => `/api/v1/services/external/${encodeURIComponent(n)}` },
  proxies: { list: "/api/v1/proxy/targets/", create: "/api/v1/proxy/targets/", one: (n) => `/api/v1/proxy/targets/${encodeURIComponent(n)}` },
  resources: { list: "/api/v1/resources/", create: "/api/v1/resources/", one: (n) => `/api/v1/resources/${encodeURIComponent(n)}` },
  routes: { list: "/api/v1/routes/", create: "/api/v1/routes/", one: (n) => `/api/v1/routes/${encodeURIComponent(n)}` },
  // Created and replaced by PUT on the client's own id (applyChange); admin only.
  oauth_clients: { list: "/api/v1/oauth/clients?active_only=true", create: "/api/v1/oauth/clients", one: (n) => `/api/v1/oauth/clients/${encodeURIComponent(n)}` },
};

/** Kinds only the admin token may read or change. */
export const ADMIN_ONLY_KINDS: readonly Kind[] = ["oauth_clients"];

export interface Caller {
  readonly hash: string;
  readonly role: string;
}

/** Roles whose listings hold every owner's records, all of which are theirs to export (viewers: to read only). */
const SEES_ALL = new Set(["admin", "viewer", "cluster"]);

/**
 * The calling token; a cluster API key, which may not read /tokens at all
 * (403), is the cluster principal: it manages every owner's records.
 */
async function whoIsCalling(client: ApiClient): Promise<Caller> {
  try {
    return await client.get<Caller>("/api/v1/tokens/info");
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return { hash: "", role: "cluster" };
    throw err;
  }
}

/**
 * Everything of `kinds` the caller owns (the admin: everything), as entries.
 * Lists are already filtered to the caller's own, except routes, where other
 * tokens may read the global ones: those are not theirs to export or prune.
 */
export async function readGatewayState(client: ApiClient, kinds: readonly Kind[] = KINDS): Promise<{ state: GatewayState; views: Partial<Record<Kind, Entry[]>>; caller: Caller }> {
  const caller = await whoIsCalling(client);
  const state: GatewayState = {};
  const views: Partial<Record<Kind, Entry[]>> = {};
  // Another token cannot list them (403); they are not its to export.
  for (const kind of kinds.filter((k) => caller.role === "admin" || !ADMIN_ONLY_KINDS.includes(k))) {
    const listed = await client.get<Entry[]>(ENDPOINTS[kind].list);
    const owned = SEES_ALL.has(caller.role) ? listed : listed.filter((view) => !("owner_token_hash" in view) || view.owner_token_hash === caller.hash);
    // A Docker service's ports are listed apart from it: back into port_configs (their source tokens are hashes, not exported).
    const viewed =
      kind === "docker_services"
        ? await Promise.all(
            owned.map(async (view) => {
              const ports = await client.get<Entry[]>(`${ENDPOINTS.docker_services.one(String(view.service_name))}/ports`);
              return { ...view, ports, port_configs: portConfigsOf(ports) };
            }),
          )
        : owned;
    views[kind] = viewed;
    state[kind] = viewed.map((view) => entryOf(kind, view));
  }
  return { state, views, caller };
}

/** Carries out one change through the API; throws the API's error (which names the problem). */
export async function applyChange(client: ApiClient, change: Change): Promise<void> {
  const endpoint = ENDPOINTS[change.kind];
  if (change.kind === "oauth_clients" && change.action !== "delete") {
    // The import replaces the whole client: an update sends what the gateway has with the file's changes on top.
    const base = change.action === "update" ? entryOf("oauth_clients", await client.get<Entry>(endpoint.one(change.name))) : {};
    const { client_id: _id, ...body } = { ...base, ...change.body };
    await client.put(endpoint.one(change.name), body);
    return;
  }
  if (change.action === "create") await client.post(endpoint.create, change.body);
  else if (change.action === "update") await client.put(endpoint.one(change.name), change.body);
  else await client.delete((endpoint.remove ?? endpoint.one)(change.name));
}

/** Allocated ports as the port_configs a create takes (name, host, container, bind, protocol, description). */
function portConfigsOf(allocations: Entry[]): Entry[] {
  return allocations.map((a) => {
    const config: Entry = { name: a.port_name, host: a.host_port, container: a.container_port, bind: a.bind_address, protocol: a.protocol };
    if (a.description) config.description = a.description;
    return config;
  });
}
