/**
 * One direction of a byte relay between two sockets, with backpressure: what
 * the destination does not take now is queued and the source is paused until
 * the destination drains, so a slow reader holds a fast writer back instead of
 * growing a buffer.
 */

/** What the relay needs of a socket (Bun's Socket has all of it). */
export interface RelaySocket {
  /** Bytes taken, possibly fewer than offered; -1 once the socket is closed. */
  write(data: Uint8Array): number;
  end(): void;
  pause(): void;
  resume(): void;
}

export class RelayDirection {
  private queue: Uint8Array[] = [];
  private ending = false;

  constructor(
    private readonly from: RelaySocket,
    private readonly to: RelaySocket,
  ) {}

  /** Passes a chunk read from `from` on to `to`. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    // Bun hands each read a buffer of its own, so chunks are queued without copying.
    if (this.queue.length > 0) {
      this.queue.push(chunk);
      return;
    }
    const written = this.to.write(chunk);
    if (written < 0) return; // `to` is closed; its close handler ends the other side
    if (written < chunk.length) {
      this.queue.push(chunk.subarray(written));
      this.from.pause();
    }
  }

  /** Call from `to`'s drain handler: sends what was queued, then lets `from` read again. */
  drain(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const written = this.to.write(head);
      if (written < 0) {
        this.queue = [];
        return;
      }
      if (written < head.length) {
        this.queue[0] = head.subarray(written);
        return;
      }
      this.queue.shift();
    }
    if (this.ending) {
      this.to.end();
      return;
    }
    this.from.resume();
  }

  /** `from` is done: end `to` once everything queued has been written. */
  end(): void {
    if (this.queue.length > 0) this.ending = true;
    else this.to.end();
  }
}
