/**
 * Request ids: one per request the edge answers, sent to the backend and back
 * to the client (X-Request-Id). Pure apart from the per-process prefix.
 */

/** Bounded so a client cannot make every log line and header carry kilobytes. */
export const MAX_REQUEST_ID_LENGTH = 128;

/** Visible ASCII without space, comma (a list separator) or quote: safe in headers, logs and HTML-escaped pages. */
const SANE = /^[\x21\x23-\x2b\x2d-\x7e]+$/;

export function isSaneRequestId(value: string): boolean {
  return value.length > 0 && value.length <= MAX_REQUEST_ID_LENGTH && SANE.test(value);
}

/**
 * A random per-process prefix and a counter: unique across nodes and restarts
 * without a random draw per request (this runs on every request).
 */
const PREFIX = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");
let counter = 0;

export function newRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${PREFIX}-${counter.toString(36)}`;
}

/** The client's X-Request-Id is kept only from a TRUSTED_PROXY_CIDRS peer, and only if sane; else a new one. */
export function requestIdFor(incoming: string | null, trustedPeer: boolean): string {
  return trustedPeer && incoming !== null && isSaneRequestId(incoming) ? incoming : newRequestId();
}
