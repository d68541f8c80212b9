/**
 * Sends one prepared request to a backend origin and resolves to the client's
 * Response — never rejects: failures resolve to the caller's error response.
 * Takes an idle pooled connection when there is one (no promise hop), else
 * connects; a reused connection that turns out stale is retried once on a
 * fresh one when the request can be replayed (no streamed body, idempotent).
 */
import { classifyError, type UpstreamFailure } from "../errors";
import { Exchange } from "./exchange";
import type { OriginPool } from "./pool";
import type { BodyFraming } from "./request-body";
import type { ResponseHead } from "./response-head";

export interface UpstreamRequest {
  readonly method: string;
  /** The request head (an ASCII string, or bytes), and the whole body when it was small enough to buffer. */
  readonly bytes: string | Uint8Array;
  /** The body still to stream after `bytes`, if any. */
  readonly body: ReadableStream<Uint8Array> | null;
  /** How `body` is framed on the wire: chunked, or exactly this many bytes (what the head announced). */
  readonly bodyFraming: BodyFraming;
  /** Builds the client's Response from the backend's head (headers rewritten by the caller). */
  respond(head: ResponseHead, body: ReadableStream<Uint8Array> | Uint8Array | null): Response;
  /** A streamed body (one `respond` handed over as a stream) ended: complete, or broken off by `failure`. */
  bodyEnded(bytes: number, failure: UpstreamFailure | null): void;
  /** The error response for a failure before the response head arrived. */
  fail(failure: UpstreamFailure): Response;
  /** True once the client has disconnected. */
  clientGone(): boolean;
}

/**
 * Replayed after a stale connection: the backend closed without answering, so
 * it most likely never saw the request, but only these methods are safe if it did.
 */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

export function sendRequest(pool: OriginPool, request: UpstreamRequest): Promise<Response> {
  return new Promise((resolve) => attempt(pool, request, resolve, 0));
}

/** sendRequest for a caller whose `request` answers the client itself (the raw edge): no Promise per request. */
export function dispatchRequest(pool: OriginPool, request: UpstreamRequest): void {
  attempt(pool, request, IGNORE_RESPONSE, 0);
}

const IGNORE_RESPONSE = (): void => {};

function attempt(pool: OriginPool, request: UpstreamRequest, resolve: (r: Response) => void, tries: number): void {
  // A retry always takes a fresh connection: the other idle ones may be stale too.
  const idle = tries === 0 ? pool.takeIdle() : undefined;
  const onStale = tries === 0 && request.body === null && IDEMPOTENT.has(request.method) ? () => attempt(pool, request, resolve, 1) : undefined;
  if (idle) {
    new Exchange(idle, pool, request, resolve, onStale).send();
    return;
  }
  pool.connect().then(
    (connection) => new Exchange(connection, pool, request, resolve, undefined).send(),
    (error: unknown) => resolve(request.fail(classifyError(error))),
  );
}
