/**
 * The per-request facts for correlation: made once at the edge, sent to the
 * backend, returned to the client, and kept for whoever records the request.
 */
import { requestIdFor } from "./request-id";
import type { HeaderView } from "./header-view";
import { gatewayTraceparent, parseTraceparent } from "./trace-context";

export interface RequestTrace {
  /** X-Request-Id: the trusted peer's, or the gateway's own. */
  readonly requestId: string;
  /** The gateway's span (traceparent) sent to the backend. */
  readonly traceparent: string;
  /** The trace id of that span (the same as the client's when it sent a valid traceparent). */
  readonly traceId: string;
  /** The client's traceparent was valid: its tracestate goes along; otherwise tracestate is dropped with it. */
  readonly continued: boolean;
}

export function traceRequest(headers: HeaderView, trustedPeer: boolean): RequestTrace {
  const incoming = parseTraceparent(headers.get("traceparent"));
  const traceparent = gatewayTraceparent(incoming);
  return {
    requestId: requestIdFor(headers.get("x-request-id"), trustedPeer),
    traceparent,
    traceId: traceparent.slice(3, 35),
    continued: incoming !== null,
  };
}

/** Puts the request id on an answer the gateway made itself (redirects, refusals, the API's). */
export function stampRequestId(response: Response, trace: RequestTrace): Response {
  response.headers.set("x-request-id", trace.requestId);
  return response;
}
