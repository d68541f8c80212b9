/**
 * Bytes on their way to one socket. Bun's sockets write what the kernel takes
 * and return the count; the rest waits here until `drain`. The relay pauses
 * the reading side while this holds more than its high-water mark, so the
 * queue stays bounded (the mark plus what one read can deliver).
 */
import type { Socket } from "bun";

export class Outbox {
  private chunks: Uint8Array[] = [];
  /** Bytes queued and not yet taken by the socket. */
  bytes = 0;

  get empty(): boolean {
    return this.bytes === 0;
  }

  /**
   * Writes what the socket takes now and queues the rest (everything, without
   * a socket yet). Chunks are kept, not copied: Bun hands each read a buffer
   * of its own.
   */
  write(socket: Socket<unknown> | undefined, chunk: Uint8Array): void {
    if (this.bytes === 0 && socket) {
      const written = socket.write(chunk);
      // A negative count: the socket is closing, and its close handler will tidy up.
      if (written < 0 || written >= chunk.length) return;
      chunk = chunk.subarray(written);
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Writes queued bytes until the socket stops taking them; true once nothing is left. */
  flush(socket: Socket<unknown>): boolean {
    while (this.chunks.length > 0) {
      const head = this.chunks[0]!;
      const written = socket.write(head);
      if (written < 0) return false;
      if (written < head.length) {
        this.chunks[0] = head.subarray(written);
        this.bytes -= written;
        return false;
      }
      this.chunks.shift();
      this.bytes -= head.length;
    }
    return true;
  }

  clear(): void {
    this.chunks = [];
    this.bytes = 0;
  }
}
