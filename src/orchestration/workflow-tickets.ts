/**
 * Lets an API request wait, briefly, for the side effect of the event it
 * wrote: the writer puts a random `ticket` in the event's data, and whichever
 * node's workflow consumer handles the event publishes `{ticket, ok}` on
 * `workflow:settled` when an attempt ends. So a new proxy's answer still shows
 * its certificate (signed, or its request queued) although another node may
 * have done the work. Waiting is bounded: if no consumer answers in time, the
 * answer shows the state as it is, and the work still happens when claimed.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { keys } from "../storage/keys";

/** A ticket being waited for: put `ticket` in the event, then `settled()`; `cancel()` if the event was never written. */
export interface Expectation {
  readonly ticket: string;
  /** True when an attempt ended within `timeoutMs` (successful or not), false on timeout. */
  settled(timeoutMs: number): Promise<boolean>;
  cancel(): void;
}

export class WorkflowTickets {
  private subscriber: Redis | undefined;
  /** Ticket → its waiter's wake-up, told whether an answer came. */
  private readonly waiting = new Map<string, (answered: boolean) => void>();

  constructor(private readonly redis: Redis) {}

  /** Subscribes (on a connection of its own) before the API takes writes, so no answer can come before the subscription. */
  async start(): Promise<void> {
    const subscriber = this.redis.duplicate({ connectionName: "portcullis-workflow-tickets" });
    subscriber.on("error", () => {});
    subscriber.on("message", (_channel: string, message: string) => this.answer(message));
    this.subscriber = subscriber;
    await subscriber.subscribe(keys.workflowSettledChannel);
  }

  stop(): void {
    this.subscriber?.disconnect();
    for (const wake of this.waiting.values()) wake(false);
    this.waiting.clear();
  }

  /** Registers a new ticket before its event is written, so the answer cannot arrive unheard. */
  expect(): Expectation {
    const ticket = randomUUID();
    let answered = false;
    let wake: () => void = () => {};
    const answer = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.waiting.set(ticket, (ok) => {
      answered = ok;
      wake();
    });
    return {
      ticket,
      settled: async (timeoutMs) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([answer, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
        clearTimeout(timer);
        this.waiting.delete(ticket);
        return answered;
      },
      cancel: () => {
        this.waiting.delete(ticket);
      },
    };
  }

  private answer(message: string): void {
    let ticket: unknown;
    try {
      ticket = (JSON.parse(message) as { ticket?: unknown }).ticket;
    } catch {
      return;
    }
    if (typeof ticket === "string") this.waiting.get(ticket)?.(true);
  }
}
