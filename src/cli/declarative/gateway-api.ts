/**
 * The declarative file's kinds on the REST API: where each is listed,
 * created, changed and deleted. Apply goes through the same endpoints as every
 * other client, so it gets the same checks, ownership and one transaction per
 * resource.
 */
import type { ApiClient } from "../api-client";
import { KINDS, type Kind } from "./config-document";
import type { Change, Entry, GatewayState } from "./plan";
import { entryOf } from "./entries";

const ENDPOINTS: Record<Kind, { list: string; create: string; one: (name: string) => string }> = {
  certificates: { list: "/api/v1/certificates/", create: "/api/v1/certificates/multi-domain", one: (n) => `/api/v1/certificates/${encodeURIComponent(n)}` },
  external_services: { list: "/api/v1/services/external", create: "/api/v1/services/external", one: (n) => `/api/v1/services/external/${encodeURIComponent(n)}` },
  proxies: { list: "/api/v1/proxy/targets/", create: "/api/v1/proxy/targets/", one: (n) => `/api/v1/proxy/targets/${encodeURIComponent(n)}` },
  resources: { list: "/api/v1/resources/", create: "/api/v1/resources/", one: (n) => `/api/v1/resources/${encodeURIComponent(n)}` },
  routes: { list: "/api/v1/routes/", create: "/api/v1/routes/", one: (n) => `/api/v1/routes/${encodeURIComponent(n)}` },
};

interface Caller {
  readonly hash: string;
  readonly role: string;
}

/**
 * Everything of `kinds` the caller owns (the admin: everything), as entries.
 * Lists are already filtered to the caller's own, except routes, where other
 * tokens may read the global ones: those are not theirs to export or prune.
 */
export async function readGatewayState(client: ApiClient, kinds: readonly Kind[] = KINDS): Promise<{ state: GatewayState; views: Partial<Record<Kind, Entry[]>> }> {
  const caller = await client.get<Caller>("/api/v1/tokens/info");
  const state: GatewayState = {};
  const views: Partial<Record<Kind, Entry[]>> = {};
  for (const kind of kinds) {
    const listed = await client.get<Entry[]>(ENDPOINTS[kind].list);
    const owned = caller.role === "admin" ? listed : listed.filter((view) => !("owner_token_hash" in view) || view.owner_token_hash === caller.hash);
    views[kind] = owned;
    state[kind] = owned.map((view) => entryOf(kind, view));
  }
  return { state, views };
}

/** Carries out one change through the API; throws the API's error (which names the problem). */
export async function applyChange(client: ApiClient, change: Change): Promise<void> {
  const endpoint = ENDPOINTS[change.kind];
  if (change.action === "create") await client.post(endpoint.create, change.body);
  else if (change.action === "update") await client.put(endpoint.one(change.name), change.body);
  else await client.delete(endpoint.one(change.name));
}
