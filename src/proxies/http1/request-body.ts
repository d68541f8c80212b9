/**
 * Streams a client's request body to the backend: as-is when the head announced
 * a Content-Length (and then exactly that many bytes, or the exchange fails and
 * the connection is dropped), chunk-framed otherwise. The next chunk is read from the
 * client only once the previous one has reached the backend's socket, so a slow
 * backend slows the client down instead of filling memory.
 */

export interface BodySink {
  /** Writes or queues; false when the caller must wait for `writable()`. */
  write(data: Uint8Array): boolean;
  /** Resolves when the queue has drained, or the exchange ended. */
  writable(): Promise<void>;
  /** False once the exchange has ended (response done, failure, client gone). */
  active(): boolean;
}

/** "chunked", or the exact byte count the request head announced. */
export type BodyFraming = "chunked" | number;

const CRLF = new Uint8Array([13, 10]);
const LAST_CHUNK = new Uint8Array([48, 13, 10, 13, 10]); // "0\r\n\r\n"

/**
 * Resolves true when the whole body was written, false when the exchange ended
 * first. Rejects if the client's body fails or does not match its announced
 * length: the backend connection's framing can no longer be trusted.
 */
export async function pumpRequestBody(body: ReadableStream<Uint8Array>, framing: BodyFraming, sink: BodySink): Promise<boolean> {
  const chunked = framing === "chunked";
  let remaining = chunked ? 0 : framing;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (!sink.active()) {
        void reader.cancel().catch(() => {});
        return false;
      }
      if (done) break;
      if (value.byteLength === 0) continue;
      let flushed: boolean;
      if (chunked) {
        sink.write(Buffer.from(`${value.byteLength.toString(16)}\r\n`, "latin1"));
        sink.write(value);
        flushed = sink.write(CRLF);
      } else {
        remaining -= value.byteLength;
        if (remaining < 0) throw new Error("request body longer than its Content-Length");
        flushed = sink.write(value);
      }
      if (!flushed) await sink.writable();
    }
    if (remaining !== 0) throw new Error("request body shorter than its Content-Length");
    if (chunked && !sink.write(LAST_CHUNK)) await sink.writable();
    return sink.active();
  } finally {
    reader.releaseLock();
  }
}
