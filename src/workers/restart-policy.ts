/**
 * When a crashed worker is started again, and when the supervisor gives up.
 * Pure: crash times in, a decision out; the supervisor owns the clock and the processes.
 */

export interface RestartPolicySettings {
  /** This many crashes within `windowMs` stop the supervisor. */
  readonly crashLimit: number;
  readonly windowMs: number;
  /** The first restart waits this long; each further crash in the window doubles it up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const RESTART_POLICY: RestartPolicySettings = { crashLimit: 5, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 5_000 };

export type CrashDecision =
  | { readonly action: "restart"; readonly delayMs: number; readonly recentCrashes: number }
  | { readonly action: "give-up"; readonly recentCrashes: number; readonly windowMs: number };

/** Crashes of all workers together: one bad binary or config crashes every worker alike. */
export class RestartPolicy {
  private crashes: number[] = [];

  constructor(private readonly settings: RestartPolicySettings = RESTART_POLICY) {}

  /** Records a crash at `now` (ms) and says what to do. */
  onCrash(now: number): CrashDecision {
    const { crashLimit, windowMs, baseDelayMs, maxDelayMs } = this.settings;
    this.crashes = this.crashes.filter((at) => now - at < windowMs);
    this.crashes.push(now);
    const recentCrashes = this.crashes.length;
    if (recentCrashes >= crashLimit) return { action: "give-up", recentCrashes, windowMs };
    return { action: "restart", delayMs: Math.min(maxDelayMs, baseDelayMs * 2 ** (recentCrashes - 1)), recentCrashes };
  }
}
