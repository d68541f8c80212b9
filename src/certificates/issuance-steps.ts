/**
 * Deadlines for the steps of one issuance. Every step (an exchange with the
 * CA, the self-check of a name, a wait for the CA) gets its own limit, cut
 * short by what is left of the whole issuance's; when it fails or runs out,
 * the error names the step, so the status says where issuance stopped
 * instead of sitting in `issuing`.
 *
 * A step that runs out is abandoned, not cancelled: acme-client takes no
 * abort signal. Its requests carry their own timeout (see acme-issuer.ts), so
 * an abandoned one ends soon after; whatever it does then changes nothing.
 */

export interface Step {
  /** Short, for the status message: "order creation", "self-check of a.example.com". */
  readonly name: string;
  /** What the error detail speaks of, when more precise than `name` (e.g. the URL fetched). */
  readonly subject?: string;
}

/** Issuance stopped at `step`; the message says why in full. */
export class StepFailure extends Error {
  constructor(
    readonly step: string,
    message: string,
    /** The step ran out of time (rather than failing with an error of its own). */
    readonly timedOut = false,
  ) {
    super(message);
  }
}

/** An error whose message already says what failed (it is kept as it is, not prefixed with the step). */
export class ExplainedError extends Error {}

export const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;

export class IssuanceDeadline {
  private readonly endsAt: number;

  constructor(private readonly totalMs: number) {
    this.endsAt = Date.now() + totalMs;
  }

  /**
   * Runs `work` within `limitMs` or what is left of the issuance, whichever is
   * shorter. `signal` aborts when that time is up, for work that can stop.
   */
  async run<T>(step: Step, limitMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const subject = step.subject ?? step.name;
    const left = this.endsAt - Date.now();
    const cutByTotal = left < limitMs;
    const allowedMs = Math.max(0, Math.min(limitMs, left));
    const expired = cutByTotal
      ? `${subject} timed out after ${seconds(allowedMs)}: the whole issuance may take ${seconds(this.totalMs)} (ACME_ISSUANCE_TIMEOUT_SECONDS)`
      : `${subject} timed out after ${seconds(allowedMs)}`;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new StepFailure(step.name, expired, true));
      }, allowedMs);
    });
    try {
      return await Promise.race([work(controller.signal), timeout]);
    } catch (err) {
      if (err instanceof StepFailure) throw err;
      // Work that stops on the signal may lose the race by a tick: it is still the deadline that ended it.
      if (controller.signal.aborted) throw new StepFailure(step.name, expired, true);
      const message = err instanceof Error ? err.message : String(err);
      throw new StepFailure(step.name, err instanceof ExplainedError ? message : `${subject} failed: ${message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
