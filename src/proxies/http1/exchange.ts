/**
 * One request/response on a backend connection: sends the head (and body),
 * parses the response head under the request timeout, then hands the body to
 * the client — as one buffer when it arrived with the head (the common small
 * response: no stream, and Bun.serve sends a Content-Length), else as a
 * StreamedBody that pauses the backend socket while the client is behind.
 * The connection goes back to the pool only after a clean, complete exchange.
 */
import type { UpstreamFailure } from "../errors";
import { ChunkedDecoder } from "./chunked-decoder";
import type { UpstreamRequest } from "./client";
import type { BackendConnection, ConnectionUser } from "./connection";
import type { OriginPool } from "./pool";
import { pumpRequestBody } from "./request-body";
import { findHeadEnd, MAX_HEAD_BYTES, type ResponseHead } from "./response-head";
import { StreamedBody, type StreamFraming } from "./streamed-body";

const enum Phase {
  Head,
  Body,
  Done,
}

export class Exchange implements ConnectionUser {
  private phase = Phase.Head;
  private head: Buffer | undefined;
  private reusable = true;
  private requestSent = false;
  private responseDone = false;
  private body: StreamedBody | undefined;
  private drained: (() => void) | undefined;

  constructor(
    private readonly connection: BackendConnection,
    private readonly pool: OriginPool,
    private readonly request: UpstreamRequest,
    private readonly resolve: (response: Response) => void,
    /** Set when a stale reused connection may be retried: called instead of failing. */
    private readonly onStale: (() => void) | undefined,
  ) {
    connection.user = this;
  }

  /** Sends the request head, then streams the body if any. */
  send(): void {
    // Closed between leaving the pool (or connecting) and now: no close event will come any more.
    if (this.connection.closed) return this.onClose();
    this.connection.deadline = this.pool.deadlines.fromNow();
    this.connection.write(this.request.bytes);
    const body = this.request.body;
    if (!body) {
      this.requestSent = true;
      return;
    }
    const sink = {
      // A long upload is not a slow backend: the wait for the response starts after the last byte sent.
      write: (data: Uint8Array) => {
        this.connection.deadline = this.pool.deadlines.fromNow();
        return this.connection.write(data);
      },
      writable: () => (this.connection.flushed || this.phase === Phase.Done ? Promise.resolve() : new Promise<void>((r) => (this.drained = r))),
      active: () => this.phase !== Phase.Done && !this.connection.closed,
    };
    pumpRequestBody(body, this.request.bodyFraming, sink).then(
      (complete) => {
        this.requestSent = complete;
        this.finishIfDone();
      },
      // The client's upload broke off (it disconnected): the backend must not see a truncated request as whole.
      () => this.fail("closed"),
    );
  }

  onTimeout(): void {
    this.fail("request_timeout");
  }

  /**
   * The client may have left while the backend is still thinking (a slow
   * request, a long poll): then the backend request is dropped. Checked on the
   * deadline sweep rather than with an abort listener per request, which costs
   * too much on the hot path.
   */
  onPoll(): void {
    if (this.phase === Phase.Head && this.request.clientGone()) this.fail("closed");
  }

  onWritable(): void {
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }

  onData(chunk: Buffer): void {
    if (this.phase === Phase.Body) return this.onBody(chunk);
    if (this.phase === Phase.Done) return;
    const bytes: Buffer = this.head ? Buffer.concat([this.head, chunk]) : chunk;
    let start = 0;
    let end = findHeadEnd(bytes, this.head ? this.head.length - 3 : 0);
    while (end >= 0) {
      if (end - start > MAX_HEAD_BYTES) return this.fail("invalid_response");
      const parsed = this.pool.heads.parse(bytes, start, end - 4, this.request.method);
      if (typeof parsed === "string") return this.fail("invalid_response");
      // 1xx interim responses (100 Continue, 103 Early Hints) are not passed on: the final one follows.
      if (parsed.status < 200) {
        if (parsed.status === 101) return this.fail("invalid_response");
        start = end;
        end = findHeadEnd(bytes, start);
        continue;
      }
      this.head = undefined;
      return this.onHead(parsed, bytes, end);
    }
    if (bytes.length - start > MAX_HEAD_BYTES) return this.fail("invalid_response");
    this.head = start === 0 ? bytes : bytes.subarray(start);
  }

  /** `bytes` from `offset` on are the first body bytes (and whatever follows). */
  private onHead(head: ResponseHead, bytes: Buffer, offset: number): void {
    this.connection.deadline = 0;
    this.reusable = head.keepAlive;
    const framing = head.framing;
    const available = bytes.length - offset;
    let buffered: Uint8Array | null | undefined;
    if (framing.kind === "none") {
      buffered = null;
      if (available > 0) this.reusable = false;
    } else if (framing.kind === "length" && available >= framing.length) {
      // A plain view: Buffer#subarray costs noticeably more per request, and Response takes any Uint8Array.
      buffered = new Uint8Array(bytes.buffer, bytes.byteOffset + offset, framing.length);
      if (available > framing.length) this.reusable = false;
    } else if (framing.kind === "chunked") {
      const decoder = new ChunkedDecoder();
      const pieces: Uint8Array[] = [];
      const result = decoder.push(bytes.subarray(offset), (piece) => pieces.push(piece));
      if (result === "error") return this.fail("invalid_response");
      if (result === "done") {
        buffered = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
        if (decoder.leftover > 0) this.reusable = false;
      } else {
        return this.startStream(head, { kind: "chunked", decoder }, pieces);
      }
    }
    if (buffered !== undefined) {
      this.phase = Phase.Done;
      this.responseDone = true;
      this.settle(head, buffered);
      return this.finishIfDone();
    }
    const first = available > 0 ? [bytes.subarray(offset)] : [];
    // Only here with `available` below the length: all of it is body.
    if (framing.kind === "length") this.startStream(head, { kind: "length", remaining: framing.length - available }, first);
    else this.startStream(head, { kind: "close" }, first);
  }

  private settle(head: ResponseHead, body: ReadableStream<Uint8Array> | Uint8Array | null): void {
    let response: Response;
    try {
      response = this.request.respond(head, body);
    } catch {
      // A header value Bun refuses (Headers validation): the response cannot be passed on.
      this.connection.user = undefined;
      this.connection.destroy();
      response = this.request.fail("invalid_response");
    }
    this.resolve(response);
  }

  private startStream(head: ResponseHead, framing: StreamFraming, first: Uint8Array[]): void {
    this.phase = Phase.Body;
    const body = new StreamedBody(this.connection, framing, () => this.abandon());
    this.body = body;
    for (const piece of first) body.enqueue(piece);
    this.settle(head, body.stream);
  }

  private onBody(chunk: Buffer): void {
    const result = this.body!.push(chunk);
    if (result === "error") return this.fail("invalid_response");
    if (result === "done") this.endBody();
  }

  private endBody(): void {
    this.phase = Phase.Done;
    this.responseDone = true;
    if (this.body!.overrun) this.reusable = false;
    this.body!.end();
    this.request.bodyEnded(this.body!.sent, null);
    this.finishIfDone();
  }

  /** Hands the connection back, or drops it, once both directions are complete. */
  private finishIfDone(): void {
    if (!this.responseDone) return;
    if (this.requestSent && this.reusable && !this.connection.closed) {
      this.pool.release(this.connection);
      return;
    }
    // The response is complete but the upload is not (an early answer like 413), or the backend said close.
    this.connection.user = undefined;
    this.connection.destroy();
  }

  onClose(): void {
    if (this.phase === Phase.Body && this.body!.untilClose) return this.endBody();
    // A reused connection closed before any answer: the backend timed it out while idle; nothing was processed.
    if (this.phase === Phase.Head && this.head === undefined && this.connection.uses > 1 && this.onStale) {
      this.phase = Phase.Done;
      this.connection.deadline = 0;
      this.connection.user = undefined;
      return this.onStale();
    }
    this.fail("closed");
  }

  /** The client is gone: drop the backend request without reporting anything. */
  private abandon(): void {
    this.fail("closed");
  }

  private fail(failure: UpstreamFailure): void {
    if (this.phase === Phase.Done) return;
    const wasHead = this.phase === Phase.Head;
    this.phase = Phase.Done;
    this.connection.deadline = 0;
    this.connection.user = undefined;
    this.connection.destroy();
    this.onWritable();
    if (wasHead) this.resolve(this.request.fail(failure));
    else if (this.body) {
      this.body.abort();
      this.request.bodyEnded(this.body.sent, failure);
    }
  }
}
