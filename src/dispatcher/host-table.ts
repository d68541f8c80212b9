/**
 * The in-memory host table: hostname → compiled proxy (target, routes). Built
 * whole from the current records and swapped in one step, so a request sees
 * either the old table or the new one, never a mix. A record that cannot be
 * compiled is left out with its error; the rest keeps serving.
 */
import { compileEdgeAuthPolicy, compileRouteAuthPolicy, normalizeEndpoint, type EdgeAuthPolicy, type EdgeAuthSettings } from "../auth/edge/policy";
import { compileMcpEndpoint, type McpEndpoint, type McpGateFactory } from "../mcp/mcp-endpoint";
import { forwardTarget, type ForwardTarget } from "../proxies/forward-target";
import type { ProxyRecord } from "../storage/proxy-repository";
import type { RouteRecord } from "../storage/route-repository";
import { serviceTargetName } from "../storage/service-repository";
import { compileRoute, pathMatcher, routesForProxy, type CompiledRoute } from "./routes";

export interface HostEntry {
  readonly hostname: string;
  /** The stored proxy this entry was compiled from. */
  readonly record: ProxyRecord;
  readonly enabled: boolean;
  readonly enableHttp: boolean;
  readonly enableHttps: boolean;
  /** The Strict-Transport-Security value for HTTPS responses, or null. */
  readonly hsts: string | null;
  /** log_query: request records keep the redacted query string. */
  readonly logQuery: boolean;
  /** enable_https and https_redirect: plain HTTP goes to https once a publicly trusted certificate serves the host. */
  readonly redirectsToHttps: boolean;
  /** Null when target_url names a service (`service:{name}`) with no URL now: requests that reach it get 502. */
  readonly target: ForwardTarget | null;
  readonly routes: readonly CompiledRoute[];
  /** Who may reach the backend (auth_enabled), or null: everyone. */
  readonly auth: EdgeAuthPolicy | null;
  /**
   * The proxy is a protected resource (auth on, or resource metadata set): it
   * serves RFC 9728 metadata, and its 401s point at it. The endpoint is
   * resource_endpoint, or "" for the host itself.
   */
  readonly protectedResource: { readonly endpoint: string; readonly record: ProxyRecord } | null;
  /**
   * auth_header_prefix when it is not the default: client headers under it are
   * stripped here (the forwarding engine already drops X-Auth-*); null otherwise.
   */
  readonly customIdentityPrefix: string | null;
  /** The MCP endpoint (resource_endpoint set): Origin checks, body checks and per-tool scopes (src/mcp); null otherwise. */
  readonly mcp: McpEndpoint | null;
}

export interface HostTableSource {
  readonly proxies: Iterable<ProxyRecord>;
  readonly routes: Iterable<RouteRecord>;
  /** service name → URL (`service:url:{name}`), for routes of target_type "service" and `service:{name}` proxy targets. */
  readonly serviceUrls: ReadonlyMap<string, string>;
  /** The authorization server's settings the edge checks tokens against; without them no proxy authenticates. */
  readonly edgeAuth?: EdgeAuthSettings;
  /** The gates of each MCP endpoint (rate limits); none without it. */
  readonly mcpGates?: McpGateFactory;
}

export class HostTable {
  constructor(
    private readonly exact: ReadonlyMap<string, HostEntry>,
    /** Problems found while building, for logs and diagnostics. */
    readonly problems: readonly string[] = [],
  ) {}

  get size(): number {
    return this.exact.size;
  }

  /** Exact hostname first, then the wildcard one label up (`a.example.com` → `*.example.com`). */
  lookup(host: string): HostEntry | undefined {
    const hit = this.exact.get(host);
    if (hit) return hit;
    const dot = host.indexOf(".");
    return dot > 0 ? this.exact.get("*" + host.slice(dot)) : undefined;
  }

  /** Every host, for what is derived from the whole configuration (the scopes the authorization server offers). */
  entries(): IterableIterator<HostEntry> {
    return this.exact.values();
  }
}

export function buildHostTable(source: HostTableSource): HostTable {
  const problems: string[] = [];
  const routes = [...source.routes];
  const matchers = new Map<string, (path: string) => boolean>();
  for (const route of routes) {
    try {
      matchers.set(route.route_id, pathMatcher(route));
    } catch (err) {
      problems.push(`route ${route.route_id}: ${(err as Error).message}; route skipped`);
    }
  }

  const entries = new Map<string, HostEntry>();
  for (const proxy of source.proxies) {
    const headers = {
      preserveHost: proxy.preserve_host_header,
      requestHeaders: proxy.custom_headers,
      responseHeaders: proxy.custom_response_headers,
    };
    let target: ForwardTarget | null = null;
    const service = serviceTargetName(proxy.target_url);
    const targetUrl = service === null ? proxy.target_url : source.serviceUrls.get(service);
    try {
      if (targetUrl !== undefined) target = forwardTarget(targetUrl, headers);
      else problems.push(`proxy ${proxy.hostname}: service ${JSON.stringify(service)} has no URL; requests get 502`);
    } catch {
      if (service !== null) problems.push(`proxy ${proxy.hostname}: service ${JSON.stringify(service)} URL ${JSON.stringify(targetUrl)} is not a URL; requests get 502`);
      else {
        problems.push(`proxy ${proxy.hostname}: target_url ${JSON.stringify(proxy.target_url)} is not a URL; proxy skipped`);
        continue;
      }
    }
    const compiled: CompiledRoute[] = [];
    for (const route of routesForProxy(proxy, routes)) {
      const matches = matchers.get(route.route_id);
      if (!matches) continue;
      // A route overriding the proxy's auth: undefined (no override), null (public) or its own policy.
      const authPolicy =
        route.override_proxy_auth && route.auth_config && source.edgeAuth
          ? compileRouteAuthPolicy(proxy, source.edgeAuth, route.auth_config)
          : route.override_proxy_auth && !route.auth_config
            ? null
            : undefined;
      if (route.target_type === "hostname") {
        compiled.push(compileRoute(route, matches, null, route.target_value, authPolicy));
        continue;
      }
      const url = route.target_type === "service" ? source.serviceUrls.get(route.target_value) : route.target_value;
      let routeTarget: ForwardTarget | null = null;
      try {
        if (url) routeTarget = forwardTarget(url, headers);
        else problems.push(`route ${route.route_id}: service ${JSON.stringify(route.target_value)} has no URL; requests get 502`);
      } catch {
        problems.push(`route ${route.route_id}: target ${JSON.stringify(url)} is not a URL; requests get 502`);
      }
      compiled.push(compileRoute(route, matches, routeTarget, null, authPolicy));
    }
    entries.set(proxy.hostname, {
      hostname: proxy.hostname,
      record: proxy,
      enabled: proxy.enabled,
      enableHttp: proxy.enable_http,
      enableHttps: proxy.enable_https,
      hsts: typeof proxy.hsts_max_age === "number" ? `max-age=${proxy.hsts_max_age}` : null,
      logQuery: proxy.log_query === true,
      redirectsToHttps: proxy.enable_https && proxy.https_redirect !== false,
      target,
      routes: compiled,
      auth: source.edgeAuth ? compileEdgeAuthPolicy(proxy, source.edgeAuth) : null,
      protectedResource:
        proxy.auth_enabled || proxy.resource_endpoint ? { endpoint: normalizeEndpoint(proxy.resource_endpoint), record: proxy } : null,
      customIdentityPrefix: proxy.auth_header_prefix && proxy.auth_header_prefix.toLowerCase() !== "x-auth-" ? proxy.auth_header_prefix : null,
      mcp: compileMcpEndpoint(proxy, source.mcpGates),
    });
  }
  return new HostTable(entries, problems);
}
