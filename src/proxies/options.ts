import type { StreamCounts } from "../metrics/stream-metrics";

/** The engine's settings (PROXY_CONNECT_TIMEOUT, PROXY_REQUEST_TIMEOUT), in milliseconds. */
export interface ForwardingOptions {
  /** Backend TCP (and TLS) connect; exceeding it answers 504. Default 30 s. */
  readonly connectTimeoutMs: number;
  /** From sending the request until the backend's response head arrives; exceeding it answers 504. Default 120 s. */
  readonly requestTimeoutMs: number;
  /** Counts relayed WebSockets and event streams while they are open (the gateway's metrics). */
  readonly streams?: StreamCounts;
}

export const DEFAULT_FORWARDING_OPTIONS: ForwardingOptions = Object.freeze({ connectTimeoutMs: 30_000, requestTimeoutMs: 120_000 });
