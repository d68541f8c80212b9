/**
 * Proxy targets (`proxy:{hostname}`, spec "Proxy Target Schema"). Every write
 * queues its `proxy_*` event in the same transaction, so the gateway nodes'
 * in-memory tables follow the stored state exactly.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { queueEvent } from "../orchestration/events";
import { keys } from "./keys";
import { queueDisown, queueOwn, type OwnedResourceKind } from "./ownership";
import type { McpRateLimitRule } from "../mcp/rate-limit/rate-rules";
import { watchAndCommit } from "./transaction";

export const PROXY_KIND = "proxy";

export type RouteMode = "all" | "selective" | "none";
export type AuthMode = "forward" | "redirect" | "passthrough";

export interface ProxyRecord {
  hostname: string;
  target_url: string;
  cert_name: string | null;
  owner_token_hash: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  enabled: boolean;
  enable_http: boolean;
  enable_https: boolean;
  preserve_host_header: boolean;
  custom_headers: Record<string, string> | null;
  custom_response_headers: Record<string, string> | null;
  /** Seconds for Strict-Transport-Security on HTTPS responses; null sends none (records older than the field lack it). */
  hsts_max_age: number | null;
  /** Plain HTTP answers 308 to https once a publicly trusted certificate serves the host (with enable_https). */
  https_redirect: boolean;
  /** Request records keep the (redacted) query string. Records older than the field lack it: read as false. */
  log_query?: boolean;

  auth_enabled: boolean;
  auth_proxy: string | null;
  auth_mode: AuthMode;
  auth_required_users: string[] | null;
  auth_required_emails: string[] | null;
  auth_required_groups: string[] | null;
  auth_allowed_scopes: string[] | null;
  auth_allowed_audiences: string[] | null;
  auth_pass_headers: boolean;
  auth_cookie_name: string;
  auth_header_prefix: string;
  auth_excluded_paths: string[] | null;
  /** Forward the client's bearer token to the backend (off: the gateway strips it). Records older than the field lack it: read as false. */
  auth_forward_bearer: boolean;

  route_mode: RouteMode;
  enabled_routes: string[];
  disabled_routes: string[];

  resource_endpoint: string | null;
  resource_scopes: string[] | null;
  resource_stateful: boolean;
  resource_versions: string[] | null;
  resource_server_info: Record<string, unknown> | null;
  resource_override_backend: boolean;
  resource_bearer_methods: string[] | null;
  resource_documentation_suffix: string | null;
  resource_custom_metadata: Record<string, unknown> | null;

  oauth_server_issuer: string | null;
  oauth_server_scopes: string[] | null;
  oauth_server_grant_types: string[] | null;
  oauth_server_response_types: string[] | null;
  oauth_server_token_auth_methods: string[] | null;
  oauth_server_claims: string[] | null;
  oauth_server_pkce_required: boolean;
  oauth_server_custom_metadata: Record<string, unknown> | null;
  oauth_server_override_defaults: boolean;

  github_client_id: string | null;
  /** Encrypted at rest; never returned by the API. */
  github_client_secret: string | null;

  /** At the MCP endpoint (resource_endpoint): tool name or glob → the scopes a tools/call needs. */
  mcp_tool_scopes: Record<string, string[]> | null;
  /** JSON-RPC method or glob (resources/read, prompts/*) → the scopes it needs. */
  mcp_method_scopes: Record<string, string[]> | null;
  /** tools/list answers list only the tools the caller's token may call. */
  mcp_filter_tools: boolean;
  /** Browser origins allowed besides the proxy's own ("*": any, "null": opaque origins); null: its own only. */
  mcp_allowed_origins: string[] | null;
  /** Per-identity call limits at the MCP endpoint: `{tool | method, per_second | per_minute | per_hour}`, shared by every node. */
  mcp_rate_limits: McpRateLimitRule[] | null;
}

const eventData = (p: ProxyRecord) => ({ enable_http: p.enable_http, enable_https: p.enable_https, cert_name: p.cert_name });

export class ProxyRepository {
  constructor(private readonly redis: Redis) {}

  /**
   * Stores a new proxy; false if the hostname is taken. `work` joins the
   * `proxy_created` event's data: what the workflow consumer is to do for it
   * (a certificate) and the ticket its writer waits on (orchestration/workflow-tickets.ts).
   */
  create(record: ProxyRecord, work: Record<string, unknown> = {}): Promise<boolean> {
    return watchAndCommit(this.redis, [keys.proxy(record.hostname)], async (conn) => {
      if (await conn.exists(keys.proxy(record.hostname))) return { result: false };
      const tx = conn.multi();
      tx.set(keys.proxy(record.hostname), JSON.stringify(record));
      tx.sadd(keys.proxyHostnames, record.hostname);
      if (record.owner_token_hash) queueOwn(tx, record.owner_token_hash, PROXY_KIND, record.hostname);
      queueEvent(tx, { event_type: "proxy_created", hostname: record.hostname, data: { ...work, ...eventData(record) } });
      return { commit: tx, result: true };
    });
  }

  async get(hostname: string): Promise<ProxyRecord | null> {
    return parse(await this.redis.get(keys.proxy(hostname)));
  }

  async list(): Promise<ProxyRecord[]> {
    const names = (await this.redis.smembers(keys.proxyHostnames)).sort();
    if (names.length === 0) return [];
    return (await this.redis.mget(names.map(keys.proxy))).map(parse).filter((p): p is ProxyRecord => p !== null);
  }

  /**
   * Applies `change` to the stored record under WATCH. `change` may throw to
   * refuse (nothing is written). Returns null when the proxy does not exist.
   */
  update(hostname: string, change: (current: ProxyRecord) => ProxyRecord): Promise<ProxyRecord | null> {
    return watchAndCommit(this.redis, [keys.proxy(hostname)], async (conn) => {
      const current = parse(await conn.get(keys.proxy(hostname)));
      if (!current) return { result: null };
      const updated = { ...change(current), hostname, updated_at: new Date().toISOString() };
      const tx = conn.multi();
      tx.set(keys.proxy(hostname), JSON.stringify(updated));
      queueEvent(tx, { event_type: "proxy_updated", hostname, data: eventData(updated) });
      return { commit: tx, result: updated };
    });
  }

  /** Deletes the proxy; false if it did not exist. */
  delete(hostname: string): Promise<boolean> {
    return watchAndCommit(this.redis, [keys.proxy(hostname)], async (conn) => {
      const current = parse(await conn.get(keys.proxy(hostname)));
      if (!current) return { result: false };
      const tx = conn.multi();
      queueDeleteProxy(tx, current);
      return { commit: tx, result: true };
    });
  }

  /** Lets a token's cascade delete remove its proxies in the token's transaction. */
  ownedKind(): OwnedResourceKind {
    return {
      kind: PROXY_KIND,
      queueDelete: async (tx, hostnames) => {
        const records = await Promise.all(hostnames.map((h) => this.get(h)));
        for (const record of records) if (record) queueDeleteProxy(tx, record, false);
      },
    };
  }
}

/** Queues a proxy's removal (record, index, owner bookkeeping, event); also used by a service delete that takes its proxies along. */
export function queueDeleteProxy(tx: ChainableCommander, record: ProxyRecord, disown = true): void {
  tx.del(keys.proxy(record.hostname));
  tx.srem(keys.proxyHostnames, record.hostname);
  if (disown && record.owner_token_hash) queueDisown(tx, record.owner_token_hash, PROXY_KIND, record.hostname);
  queueEvent(tx, { event_type: "proxy_deleted", hostname: record.hostname, data: eventData(record) });
}

const MCP_FIELDS_BEFORE_THEY_EXISTED = { mcp_tool_scopes: null, mcp_method_scopes: null, mcp_filter_tools: false, mcp_allowed_origins: null, mcp_rate_limits: null };

/** Fields added after records were first stored get their defaults here, so every reader sees a complete record. */
function parse(raw: string | null): ProxyRecord | null {
  return raw === null ? null : ({ auth_forward_bearer: false, https_redirect: true, ...MCP_FIELDS_BEFORE_THEY_EXISTED, ...JSON.parse(raw) } as ProxyRecord);
}
