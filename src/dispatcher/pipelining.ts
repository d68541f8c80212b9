/**
 * Bun.serve (1.4) refuses HTTP/1.1 pipelining behind a pending response: when
 * a second request arrives on a connection while the first one's answer is
 * still being computed, it closes the connection without a byte, after the
 * first request's handler has already run. For a request with side effects
 * that would mean a backend that executed a POST whose client never learns
 * the outcome.
 *
 * So a request whose method is not safe (RFC 9110 §9.2.1) is acted on only
 * after the read pass that delivered it has ended: by then Bun has parsed
 * anything pipelined behind it in the same bytes, and has aborted this
 * request if it is going to close the connection. An aborted request is
 * dropped, unforwarded. Safe methods go at once: they have no side effects a
 * client must learn of, and a client that pipelines retries them.
 *
 * What this cannot catch: a second request that arrives in a later packet
 * while the first is at the backend. RFC 9112 §9.3.2 asks clients not to
 * pipeline after a non-idempotent method; browsers and common HTTP clients
 * never pipeline.
 */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** What Bun.serve gets for a dropped request; its connection is already closed, so nobody reads it. */
const dropped = () => new Response(null, { status: 499 });

type Handler = (request: Request, server: never) => unknown;

/** `handle`, with requests of unsafe methods deferred to the end of the read pass and dropped if Bun aborted them. */
export function afterPipelinedRequestsSeen<H extends Handler>(handle: H): H {
  const afterReadPass = async (request: Request, server: never) => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    return request.signal.aborted ? dropped() : handle(request, server);
  };
  return ((request: Request, server: never) => (SAFE_METHODS.has(request.method) ? handle(request, server) : afterReadPass(request, server))) as H;
}
