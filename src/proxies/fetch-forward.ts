/**
 * Forwarding through Bun's fetch(): bodies stream both ways, redirects are not
 * followed, and `decompress: false` keeps Content-Encoding and the bytes as the
 * backend sent them. fetch cannot tell connecting from waiting, so one timer
 * (the shorter of the two limits until the response head) covers both.
 */
import { UpstreamError, classifyError, upstreamErrorResponse } from "./errors";
import type { ForwardContext, ForwardTarget } from "./forward-target";
import { rewriteResponseHeaders, upstreamRequestHeaders } from "./headers";
import { upstreamPath } from "./request-target";
import type { ForwardingOptions } from "./options";

export type Forwarder = (request: Request, target: ForwardTarget, context: ForwardContext) => Promise<Response>;

export function createFetchForwarder(options: ForwardingOptions, session: Bun.FetchSession): Forwarder {
  return async (request, target, context) => {
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(new UpstreamError("request_timeout")), options.requestTimeoutMs);
    try {
      const upstream = await session.fetch(target.url.origin + upstreamPath(target.basePath, request.url), {
        method: request.method,
        headers: upstreamRequestHeaders(request.headers, target, context),
        body: request.body,
        redirect: "manual",
        decompress: false,
        // The client going away aborts the backend request too, mid-body included.
        signal: AbortSignal.any([timer.signal, request.signal]),
        proxy: false,
      });
      clearTimeout(timeout);
      return new Response(upstream.body, {
        status: upstream.status,
        statusText: upstream.statusText,
        headers: rewriteResponseHeaders(new Headers(upstream.headers), target),
      });
    } catch (error) {
      clearTimeout(timeout);
      const failure = timer.signal.aborted ? "request_timeout" : classifyError(error);
      return upstreamErrorResponse(failure, request.headers.get("accept"));
    }
  };
}
