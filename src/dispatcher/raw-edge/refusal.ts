/**
 * The answer to a request head the raw edge's parser refuses (request-head.ts):
 * the gateway's own error (JSON, as the client's Accept header is not read
 * from a head that failed to parse), after which the connection closes, so
 * nothing behind the bad head is ever read as a request.
 */
import { gatewayErrorResponse } from "../../core/error-page";
import { newRequestId } from "../../proxies/request-id";
import { badHostResponse } from "../host";
import type { RequestHeadRefusal } from "../http1/request-head";

const CODES: Record<RequestHeadRefusal["status"], { readonly code: string; readonly title: string }> = {
  400: { code: "bad_request", title: "Bad request" },
  431: { code: "request_header_fields_too_large", title: "Request header fields too large" },
  501: { code: "not_implemented", title: "Not implemented" },
  505: { code: "http_version_not_supported", title: "HTTP version not supported" },
};

export function refusalResponse(refusal: RequestHeadRefusal): Response {
  const requestId = newRequestId();
  // The same answer as a bad Host gets on every listener.
  if (refusal.reason === "more than one Host" || refusal.reason === "missing Host") return badHostResponse(requestId, null);
  const { code, title } = CODES[refusal.status];
  return gatewayErrorResponse({ status: refusal.status, code, title, detail: refusal.reason, requestId }, null);
}
