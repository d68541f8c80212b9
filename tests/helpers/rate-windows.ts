/**
 * Rate limits count in fixed windows aligned to the clock. A test that makes
 * a few calls and expects the last one refused must not straddle two windows:
 * these wait for the next window when the current one is nearly over.
 */

/** Waits out the end of the current `windowMs` window when less than `neededMs` of it is left. */
export async function outsideWindowEdge(windowMs: number, neededMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < neededMs) await Bun.sleep(left + 50);
}

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
