/**
 * What the dispatcher hands the forwarding engine for one request: where to send
 * it and how to rewrite it. Built once per config change (see dispatcher's host
 * table), never per request.
 */
import type { RequestTrace } from "./request-trace";

export interface ForwardTarget {
  /** Backend URL from target_url: scheme http or https, host, port, optional base path. */
  readonly url: URL;
  /** scheme://host:port of the backend, as request records name it. */
  readonly origin: string;
  /** target_url's path without a trailing slash ("" for none), prefixed to the request path. */
  readonly basePath: string;
  /** Send the client's Host header instead of the backend's host (preserve_host_header). */
  readonly preserveHost: boolean;
  /** custom_headers: set on the request to the backend (replacing same-named ones). */
  readonly requestHeaders: readonly (readonly [name: string, value: string])[];
  /** custom_response_headers: set on the response to the client. */
  readonly responseHeaders: readonly (readonly [name: string, value: string])[];
}

/** Facts about the client connection, known to the listener. */
export interface ForwardContext {
  /** The TCP peer's address (no port). */
  readonly clientIp: string;
  /** The scheme the client used to reach the gateway. */
  readonly proto: "http" | "https";
  /** The peer is in TRUSTED_PROXY_CIDRS: its X-Forwarded-* headers are extended, not replaced. */
  readonly trustedPeer: boolean;
  /**
   * What edge authentication decided for the upstream request (auth on);
   * without it every X-Auth-* header from the client is dropped and nothing
   * else changes.
   */
  readonly identity?: IdentityRewrite;
  /** The listener's server: an event stream from the backend turns that request's idle timeout off. */
  readonly server?: { timeout(request: Request, seconds: number): void };
  /**
   * The request body, already read whole at the edge (an MCP endpoint's JSON-RPC
   * checks): sent as exactly these bytes. The request's own stream is spent.
   */
  readonly body?: Uint8Array;
  /** The request id and trace context (request-trace.ts): sent to the backend in place of the client's, and on the answer. */
  readonly trace?: RequestTrace;
  /** The request's record (dispatcher/recording.ts): the engine times the backend and finishes it with the answer. */
  readonly record?: ExchangeRecord;
}

/** The part of a request's record the engine fills in. */
export interface ExchangeRecord {
  /** Body bytes received from the client. */
  bytesIn: number;
  /** Bun.nanoseconds() when the request went to the backend. */
  upstreamStartNs: number;
  /** The backend's response head arrived. */
  upstreamAnswered(): void;
  /** The answer is complete (a streamed body: its end, or where it broke off with `error`). */
  finish(status: number, bytesOut: number, error?: string): void;
}

/** Applied in the engine's one pass over the request headers, so the request's Headers are never mutated. */
export interface IdentityRewrite {
  /** Incoming headers whose lower-case name starts with this (or with x-auth-) are dropped. */
  readonly stripPrefix: string;
  /** The verified identity headers to send instead. */
  readonly headers: readonly (readonly [name: string, value: string])[];
  /** Drop the incoming Authorization header (it carried the bearer token). */
  readonly dropAuthorization: boolean;
  /** Rewrites the Cookie header (drops the session cookie); null leaves it alone. */
  readonly rewriteCookie: ((cookie: string) => string | null) | null;
}

export function forwardTarget(
  targetUrl: string,
  options: { preserveHost?: boolean; requestHeaders?: Record<string, string> | null; responseHeaders?: Record<string, string> | null } = {},
): ForwardTarget {
  const url = new URL(targetUrl);
  return Object.freeze({
    url,
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ""),
    preserveHost: options.preserveHost ?? false,
    requestHeaders: Object.freeze(Object.entries(options.requestHeaders ?? {})),
    responseHeaders: Object.freeze(Object.entries(options.responseHeaders ?? {})),
  });
}
