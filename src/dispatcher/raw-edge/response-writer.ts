/**
 * The fast lane's answers: a backend response (its head already parsed by
 * the engine, proxies/http1) written to the client connection as bytes, with
 * the gateway's framing: Content-Length for a buffered body or a body of
 * known length, chunked for anything else (an event stream, a body until
 * close), none where HTTP allows none. The reason phrase is the standard
 * one, as Bun.serve writes it.
 */
import { STATUS_CODES } from "node:http";
import { upstreamErrorResponse, type UpstreamFailure } from "../../proxies/errors";
import type { ForwardTarget } from "../../proxies/forward-target";
import type { HeaderView } from "../../proxies/header-view";
import { responseHeaderPairs } from "../../proxies/headers";
import type { UpstreamRequest } from "../../proxies/http1/client";
import type { ResponseHead } from "../../proxies/http1/response-head";
import type { StreamCounts } from "../../metrics/stream-metrics";
import type { RecordDraft } from "../recording";
import type { ClientConnection } from "./client-connection";
import { currentDateLine } from "./date-line";
import { headWithBytes } from "./wire-bytes";

/** UpstreamRequest.respond returns a Response; the raw edge has written its answer already. */
const WRITTEN = new Response(null);

/** One fast-lane request on its way to the backend and its answer on the way back. */
export class RawForward implements UpstreamRequest {
  readonly body = null;
  readonly bodyFraming = "chunked" as const;
  private upstreamFailure: UpstreamFailure | undefined;

  constructor(
    readonly method: string,
    readonly bytes: string | Uint8Array,
    private readonly client: ClientConnection,
    /** The client's headers (its Accept decides the form of an error page). */
    private readonly headers: HeaderView,
    private readonly target: ForwardTarget,
    private readonly draft: RecordDraft,
    /** HTTP/1.1 and no Connection: close: the connection stays open after this answer. */
    private readonly keepAlive: boolean,
    /** An HTTP/1.0 client cannot read chunked framing. */
    private readonly chunkedAllowed: boolean,
    private readonly streams: StreamCounts | undefined,
  ) {}

  respond(head: ResponseHead, body: ReadableStream<Uint8Array> | Uint8Array | null): Response {
    const draft = this.draft;
    draft.upstreamAnswered();
    const keepAlive = this.keepAlive && !this.client.draining;
    // The same head as last time (HeadCache) for the same target: its lines are made once.
    let cached = head.rawLines;
    if (cached?.key !== this.target) head.rawLines = cached = statusAndHeaderLines(head, this.target);
    let lines = cached.hasDate ? cached.lines : cached.lines + currentDateLine();
    lines += `x-request-id: ${draft.requestId}\r\n`;
    const bodiless = this.method === "HEAD" || head.status === 204 || head.status === 304;
    if (!(body instanceof ReadableStream) || bodiless) {
      const length = body === null || body instanceof ReadableStream ? 0 : body.length;
      // A HEAD or 304 keeps the backend's Content-Length: what a GET would return.
      if (bodiless) lines += head.contentLength !== undefined && head.status !== 204 ? `content-length: ${head.contentLength}\r\n` : "";
      else lines += `content-length: ${length}\r\n`;
      lines += keepAlive ? "\r\n" : "connection: close\r\n\r\n";
      const sent = bodiless ? 0 : length;
      this.client.write(headWithBytes(lines, sent > 0 ? (body as Uint8Array) : undefined));
      if (body instanceof ReadableStream) body.cancel().catch(() => {});
      draft.finish(head.status, sent);
      this.client.answered(keepAlive);
      return WRITTEN;
    }
    const knownLength = head.framing.kind === "length" ? head.contentLength : undefined;
    const chunked = knownLength === undefined && this.chunkedAllowed;
    if (knownLength !== undefined) lines += `content-length: ${knownLength}\r\n`;
    else if (chunked) lines += "transfer-encoding: chunked\r\n";
    // Without a length or chunks, only the connection's end can end the body.
    const staysOpen = keepAlive && (knownLength !== undefined || chunked);
    lines += staysOpen ? "\r\n" : "connection: close\r\n\r\n";
    this.client.write(Buffer.from(lines, "latin1"));
    if (head.eventStream) {
      this.client.keepOpenWhileQuiet();
      this.streams?.opened("event_stream");
    }
    void this.pump(body, head, chunked, staysOpen);
    return WRITTEN;
  }

  private async pump(body: ReadableStream<Uint8Array>, head: ResponseHead, chunked: boolean, staysOpen: boolean): Promise<void> {
    const reader = body.getReader();
    let sent = 0;
    let failure: string | undefined;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (this.client.gone) {
          reader.cancel().catch(() => {});
          failure = "closed";
          break;
        }
        if (value.length === 0) continue;
        sent += value.length;
        if (chunked) this.client.write(Buffer.from(`${value.length.toString(16)}\r\n`, "latin1"));
        const more = this.client.write(value);
        if (chunked) this.client.write(CRLF);
        if (!more) await this.client.writable();
      }
    } catch {
      failure ??= this.upstreamFailure ?? "invalid_response";
    }
    if (head.eventStream) this.streams?.closed("event_stream");
    this.draft.finish(head.status, sent, failure);
    if (failure !== undefined) return this.client.abort();
    if (chunked) this.client.write(LAST_CHUNK);
    this.client.answered(staysOpen);
  }

  bodyEnded(_bytes: number, failure: UpstreamFailure | null): void {
    // Called before the stream's error reaches pump(), which records the failure under its real name.
    this.upstreamFailure = failure ?? undefined;
  }

  fail(failure: UpstreamFailure): Response {
    const response = upstreamErrorResponse(failure, this.headers.get("accept"), this.draft.requestId);
    this.draft.finish(response.status, 0, failure);
    void writeResponse(this.client, response, this.keepAlive && !this.client.draining);
    return WRITTEN;
  }

  clientGone(): boolean {
    return this.client.gone;
  }
}

function statusAndHeaderLines(head: ResponseHead, target: ForwardTarget): NonNullable<ResponseHead["rawLines"]> {
  let lines = `HTTP/1.1 ${head.status} ${STATUS_CODES[head.status] ?? ""}\r\n`;
  let hasDate = false;
  for (const [name, value] of responseHeaderPairs(head.headers, head.connectionTokens, target)) {
    if (name === "date") hasDate = true;
    lines += `${name}: ${value}\r\n`;
  }
  return { key: target, lines, hasDate };
}

const CRLF = Buffer.from("\r\n");
const LAST_CHUNK = Buffer.from("0\r\n\r\n");

/** A Response the gateway made itself (an error page), written whole. */
export async function writeResponse(client: ClientConnection, response: Response, keepAlive: boolean): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  let lines = `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ""}\r\n`;
  response.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== "transfer-encoding" && name !== "connection") lines += `${name}: ${value}\r\n`;
  });
  lines += `${currentDateLine()}content-length: ${body.length}\r\n${keepAlive ? "" : "connection: close\r\n"}\r\n`;
  client.write(headWithBytes(lines, body));
  client.answered(keepAlive);
}
