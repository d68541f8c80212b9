/**
 * One request as the gateway records it (docs/observability.md): what the
 * edge knew when it answered. Absent facts are left out rather than stored
 * as empty strings, so a record costs only what it says.
 */

/** How the edge's authentication ended: none (no auth on the path), ok, or the refusal with its reason (`401:invalid_token`). */
export type AuthOutcome = "none" | "ok" | `401:${string}` | `403:${string}`;

/** Who answered: a backend, the gateway itself (refusals, redirects, error pages), or an app in this process. */
export type RecordKind = "proxy" | "websocket" | "gateway" | "api" | "oauth";

export interface RequestRecord {
  /** Epoch milliseconds when the request arrived. */
  readonly ts: number;
  /** The node that answered (NODE_ID, or the hostname). */
  readonly node: string;
  /** The client's real address (PROXY protocol or a trusted X-Forwarded-For), not the relay's. */
  readonly ip: string;
  readonly method: string;
  /** The Host the client asked for, normalized (lowercase, no port). */
  readonly host: string;
  /** The path without the query. */
  readonly path: string;
  /** The query with secret parameters redacted; only for proxies that log queries (log_query). */
  readonly query?: string;
  /** 101 for an accepted WebSocket upgrade. */
  readonly status: number;
  readonly bytes_in: number;
  /** Body bytes sent to the client; for a streamed body, counted when it ends. */
  readonly bytes_out: number;
  /** Milliseconds from arrival to the response's last byte handed to the client (headers, for a WebSocket). */
  readonly duration_ms: number;
  /** Milliseconds from sending upstream to the backend's response head. */
  readonly upstream_ms?: number;
  /** The backend's origin (scheme://host:port). */
  readonly backend?: string;
  /** The configured proxy hostname that matched (a wildcard stays `*.example.com`). */
  readonly proxy?: string;
  /** The id of the route that matched. */
  readonly route?: string;
  readonly kind: RecordKind;
  readonly auth: AuthOutcome;
  /** The authenticated user (the token's subject, e.g. a GitHub login). */
  readonly user?: string;
  readonly client_id?: string;
  readonly request_id: string;
  /** The W3C trace id (traceparent) the request was forwarded under. */
  readonly trace_id?: string;
  /** For MCP proxies: the JSON-RPC method and, for tools/call, the tool. */
  readonly mcp_method?: string;
  readonly mcp_tool?: string;
  /** Why the gateway answered itself (`unknown_host`, `upstream_timeout`, `rate_limited`…). */
  readonly error?: string;
}

/** Requests at least this slow are also indexed under idx:req:slow. */
export const SLOW_REQUEST_MS = 1000;

export const isErrorStatus = (status: number) => status >= 400;
