/**
 * What the edge knows of an MCP proxy, compiled once per host-table build:
 * a proxy is an MCP proxy when it names its MCP endpoint (`resource_endpoint`;
 * "/" for a server at the host's root). Its `mcp_*` fields then add the
 * Origin allowlist, per-tool and per-method scopes, and tools/list
 * filtering. Pure.
 */
import { normalizeEndpoint } from "../auth/edge/policy";
import type { ProxyRecord } from "../storage/proxy-repository";
import type { AccessTokenClaims } from "../auth/tokens/access-token";
import { endpointPathMatcher } from "./endpoint-path";
import type { McpMessage } from "./json-rpc-body";
import { compileOriginPolicy, type OriginPolicy } from "./origin-policy";
import { compileScopePolicy, type McpScopePolicy } from "./scope-policy";

/**
 * A check on an admitted call, after its scopes: the place for a per-identity
 * rate limit. It must answer from memory (the edge never awaits Redis) and
 * returns the refusal to send, or null to let the call through.
 */
export type McpCallGate = (call: McpCall) => Response | null;

export interface McpCall {
  /** The verified token, or null (auth off, passthrough without a good token, an excluded path). */
  readonly identity: AccessTokenClaims | null;
  /** The body's messages, or null when the edge did not read it (streamed, or past the read bound): method unknown. */
  readonly messages: readonly McpMessage[] | null;
  readonly request: Request;
  /** The client's address (from a trusted proxy: the one it reports), for callers without a verified token. */
  readonly clientIp: string;
}

/** The gates of a proxy, made when the host table is built (a rate limiter's, which holds the counters). */
export type McpGateFactory = (proxy: ProxyRecord) => readonly McpCallGate[];

export interface McpEndpoint {
  /** resource_endpoint as the edge compares it: "" for the host itself, else "/path". */
  readonly endpoint: string;
  /** Whether a request path reaches the endpoint (endpoint-path.ts). */
  readonly isEndpointPath: (path: string) => boolean;
  readonly origins: OriginPolicy;
  readonly scopes: McpScopePolicy;
  /** tools/list answers list only the tools the token may call. */
  readonly filterTools: boolean;
  /** Run in order after the scope check (the rate limits, src/mcp/rate-limit). */
  readonly gates: readonly McpCallGate[];
}

/** The proxy's MCP endpoint, or null when the proxy names none. */
export function compileMcpEndpoint(proxy: ProxyRecord, gatesFor?: McpGateFactory): McpEndpoint | null {
  if (!proxy.resource_endpoint) return null;
  const endpoint = normalizeEndpoint(proxy.resource_endpoint);
  return {
    endpoint,
    isEndpointPath: endpointPathMatcher(endpoint),
    origins: compileOriginPolicy(proxy.mcp_allowed_origins ?? null),
    scopes: compileScopePolicy(proxy.mcp_tool_scopes ?? null, proxy.mcp_method_scopes ?? null),
    filterTools: proxy.mcp_filter_tools === true,
    gates: gatesFor?.(proxy) ?? [],
  };
}
