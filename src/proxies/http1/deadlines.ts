/**
 * The request timeout (and the pool's idle timeout), checked by one coarse
 * interval over the backend connections instead of a timer per request. Connections register once (they
 * live for many requests); starting and stopping a wait is a number written on
 * the connection, and the clock is the one read at the last sweep. A per-request
 * setTimeout/clearTimeout pair, or a Set of waiting requests, measurably cost
 * throughput on the hot path. A deadline fires between `ms` and `ms + 2 × tick`
 * after it was set. Each sweep also lets waiting items look around (`poll`):
 * that is how a request notices its client has gone.
 */

export interface Expirable {
  /** Coarse clock value at which `expire` runs; 0 when not waiting. */
  deadline: number;
  expire(): void;
  /** Called on every sweep while waiting and not yet expired. */
  poll(): void;
}

export class Deadlines {
  private items = new Set<Expirable>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private now = 0;
  private readonly tick: number;

  constructor(private readonly ms: number) {
    this.tick = Math.min(250, Math.max(5, Math.round(ms / 10)));
  }

  register(item: Expirable): void {
    this.items.add(item);
    if (this.timer === undefined) {
      this.now = performance.now();
      this.timer = setInterval(() => this.sweep(), this.tick);
      // Idle pooled connections alone must not keep the process alive.
      this.timer.unref();
    }
  }

  unregister(item: Expirable): void {
    this.items.delete(item);
    if (this.items.size === 0) this.stop();
  }

  /** The deadline for a wait of `ms` (default: the request timeout) starting now. */
  fromNow(ms = this.ms): number {
    // `now` may be a tick old: one more tick keeps the deadline from being early.
    return this.now + ms + this.tick;
  }

  private sweep(): void {
    const now = (this.now = performance.now());
    for (const item of this.items) {
      if (item.deadline === 0) continue;
      if (item.deadline > now) {
        item.poll();
        continue;
      }
      item.deadline = 0;
      item.expire();
    }
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    this.items.clear();
  }
}
