/** Complete proxy and route records for pure tests, with the API's defaults. */
import { PROXY_DEFAULTS } from "../../src/api/schemas/proxy-target";
import { ROUTE_DEFAULTS } from "../../src/api/schemas/route";
import type { ProxyRecord } from "../../src/storage/proxy-repository";
import type { RouteRecord } from "../../src/storage/route-repository";

const NOW = "2026-01-01T00:00:00.000Z";

export function proxyRecord(hostname: string, overrides: Partial<ProxyRecord> = {}): ProxyRecord {
  return {
    hostname,
    target_url: "http://127.0.0.1:3000/",
    ...PROXY_DEFAULTS,
    owner_token_hash: null,
    created_by: null,
    created_at: NOW,
    updated_at: NOW,
    ...overrides,
  };
}

export function routeRecord(route_id: string, overrides: Partial<RouteRecord> = {}): RouteRecord {
  return {
    route_id,
    path_pattern: "/",
    target_type: "url",
    target_value: `http://127.0.0.1:4000/${route_id}`,
    ...ROUTE_DEFAULTS,
    owner_token_hash: null,
    created_by: null,
    created_at: NOW,
    updated_at: NOW,
    ...overrides,
  };
}
