/**
 * A response body that did not arrive with its head: a ReadableStream fed from
 * the backend socket as bytes come in, decoded by the response's framing.
 * Backpressure: once more than HIGH_WATER bytes wait for the client, the
 * backend socket is paused; the stream's pull (the client caught up) resumes it.
 */
import { ChunkedDecoder, type DecodeResult } from "./chunked-decoder";
import type { BackendConnection } from "./connection";

/** Bytes queued toward the client before the backend socket is paused (per response: kept small, slow clients add up). */
const HIGH_WATER = 64 * 1024;

export type StreamFraming = { readonly kind: "length"; readonly remaining: number } | { readonly kind: "chunked"; readonly decoder: ChunkedDecoder } | { readonly kind: "close" };

export class StreamedBody {
  readonly stream: ReadableStream<Uint8Array>;
  /** Body bytes handed to the client's stream so far. */
  sent = 0;
  /** Bytes arrived after the end of the body: the connection cannot carry another request. */
  overrun = false;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private paused = false;
  private remaining: number;
  private readonly decoder: ChunkedDecoder | undefined;
  /** The body ends when the backend closes the connection (no length, not chunked). */
  readonly untilClose: boolean;

  constructor(
    private readonly connection: BackendConnection,
    framing: StreamFraming,
    /** The client went away (or Bun.serve gave up on it). */
    onCancel: () => void,
  ) {
    this.remaining = framing.kind === "length" ? framing.remaining : 0;
    this.decoder = framing.kind === "chunked" ? framing.decoder : undefined;
    this.untilClose = framing.kind === "close";
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => {
          if (!this.paused) return;
          this.paused = false;
          this.connection.resume();
        },
        cancel: () => {
          this.controller = undefined;
          onCancel();
        },
      },
      { highWaterMark: HIGH_WATER, size: (chunk) => chunk?.byteLength ?? 0 },
    );
  }

  /** Body bytes already decoded (they came with the head). */
  enqueue(piece: Uint8Array): void {
    const controller = this.controller;
    if (!controller || piece.length === 0) return;
    this.sent += piece.length;
    controller.enqueue(piece);
    if (!this.paused && controller.desiredSize! <= 0) {
      this.paused = true;
      this.connection.pause();
    }
  }

  /** Raw bytes from the socket, decoded by the framing. "done" once the body is complete. */
  push(chunk: Uint8Array): DecodeResult {
    if (this.decoder) {
      const result = this.decoder.push(chunk, (piece) => this.enqueue(piece));
      if (result === "done" && this.decoder.leftover > 0) this.overrun = true;
      return result;
    }
    if (this.untilClose) {
      this.enqueue(chunk);
      return "more";
    }
    const take = Math.min(this.remaining, chunk.length);
    this.enqueue(take === chunk.length ? chunk : chunk.subarray(0, take));
    this.remaining -= take;
    if (take < chunk.length) this.overrun = true;
    return this.remaining === 0 ? "done" : "more";
  }

  end(): void {
    this.controller?.close();
    this.controller = undefined;
  }

  /**
   * Cuts the client connection: Bun.serve aborts a response whose stream errors
   * (a truncated body must not look complete). With `undefined` as the reason
   * Bun does so without printing a stack trace for every broken backend.
   */
  abort(): void {
    this.controller?.error(undefined);
    this.controller = undefined;
  }
}
