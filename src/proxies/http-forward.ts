/**
 * HTTP forwarding over the engine's own HTTP/1.1 client (http1/): the request
 * head is written as one string straight from the header rules, the response
 * head is parsed from the socket, and small responses never become streams.
 * On this machine it forwards ~1.5× the requests per second of Bun's fetch().
 */
import { upstreamErrorResponse, type UpstreamFailure } from "./errors";
import type { ForwardContext, ForwardTarget } from "./forward-target";
import { responseHeaderPairs, visitUpstreamRequestHeaders } from "./headers";
import { sendRequest, type UpstreamRequest } from "./http1/client";
import type { PoolSet } from "./http1/pool";
import type { ResponseHead } from "./http1/response-head";
import { upstreamPath } from "./request-target";

export type Forwarder = (request: Request, target: ForwardTarget, context: ForwardContext) => Promise<Response>;

/** Request bodies up to this size (with a Content-Length) are read whole and sent with the head in one write. */
const SMALL_BODY = 64 * 1024;

export function createHttpForwarder(pools: PoolSet): Forwarder {
  return (request, target, context) => {
    const method = request.method;
    let head = `${method} ${upstreamPath(target.basePath, request.url)} HTTP/1.1\r\n`;
    visitUpstreamRequestHeaders(request.headers, target, context, (name, value) => {
      head += `${name}: ${value}\r\n`;
    });
    const pool = pools.forUrl(target.url);
    const body = request.body;
    if (body === null) return sendRequest(pool, new Forwarded(request, target, context, wire(head + "\r\n"), null, false));
    const length = request.headers.get("content-length");
    if (length === null) {
      return sendRequest(pool, new Forwarded(request, target, context, wire(`${head}transfer-encoding: chunked\r\n\r\n`), body, true));
    }
    if (Number(length) > SMALL_BODY) return sendRequest(pool, new Forwarded(request, target, context, wire(head + "\r\n"), body, false));
    head += "\r\n";
    return request.bytes().then(
      (whole) => {
        const bytes = Buffer.allocUnsafe(head.length + whole.length);
        bytes.write(head, 0, "latin1");
        bytes.set(whole, head.length);
        return sendRequest(pool, new Forwarded(request, target, context, bytes, null, false));
      },
      // The client went away while sending its body: nobody is left to answer.
      () => upstreamErrorResponse("closed", null),
    );
  };
}

/**
 * Header values can hold bytes above 0x7f (Bun hands them over as latin1
 * characters); those heads go out as latin1 bytes. Plain ASCII, the usual
 * case, is written as the string itself.
 */
function wire(head: string): string | Uint8Array {
  return NON_ASCII.test(head) ? Buffer.from(head, "latin1") : head;
}
const NON_ASCII = /[^\x00-\x7f]/;

/** One client request on its way to the backend: what to send, and how to answer the client. */
class Forwarded implements UpstreamRequest {
  readonly method: string;

  constructor(
    private readonly request: Request,
    private readonly target: ForwardTarget,
    private readonly context: ForwardContext,
    readonly bytes: string | Uint8Array,
    readonly body: ReadableStream<Uint8Array> | null,
    readonly chunked: boolean,
  ) {
    this.method = request.method;
  }

  respond(head: ResponseHead, body: ReadableStream<Uint8Array> | Uint8Array | null): Response {
    // An event stream may be quiet for longer than the idle timeout and must stay open.
    if (head.eventStream && body instanceof ReadableStream) this.context.server?.timeout(this.request, 0);
    return buildResponse(head, body, this.method, this.target);
  }

  fail(failure: UpstreamFailure): Response {
    return upstreamErrorResponse(failure, this.request.headers.get("accept"));
  }

  clientGone(): boolean {
    return this.request.signal.aborted;
  }
}

function buildResponse(head: ResponseHead, body: ReadableStream<Uint8Array> | Uint8Array | null, method: string, target: ForwardTarget): Response {
  let headers: Headers;
  // Bodiless answers keep the backend's Content-Length (what a GET would return); Bun.serve writes it as given.
  if (head.contentLength !== undefined && body === null && (method === "HEAD" || head.status === 304)) {
    headers = new Headers(responseHeaderPairs(head.headers, head.connectionTokens, target) as [string, string][]);
    headers.set("content-length", head.contentLength);
  } else if (head.memo?.key === target) {
    // The same head as last time (HeadCache) for the same target: half the cost of building headers from pairs.
    headers = head.memo.headers;
  } else {
    headers = new Headers(responseHeaderPairs(head.headers, head.connectionTokens, target) as [string, string][]);
    head.memo = { key: target, headers };
  }
  // Bun.serve labels a buffered body without Content-Type as application/octet-stream; a stream it does not.
  if (body instanceof Uint8Array && !head.hasContentType) body = singleChunk(body);
  // No statusText: Bun.serve writes its own reason phrase whatever it is given (and RFC 9112 lets clients ignore it).
  return new Response(body, { status: head.status, headers });
}

function singleChunk(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}
