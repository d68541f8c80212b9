/** The fixed-window count of one rate-limit counter on one node, as pure functions with the time given. */
import { describe, expect, test } from "bun:test";
import {
  beginSend,
  charge,
  failSend,
  fits,
  isUrgent,
  known,
  needsRefresh,
  newCount,
  retryAfterSeconds,
  rollForward,
  settleRead,
  settleSend,
  windowEnd,
  windowIndex,
  type WindowCount,
} from "../../src/mcp/rate-limit/window-count";

const MINUTE = 60_000;
/** When the steps below happen, unless a step says otherwise. */
const NOW = 30_000;
const FRESH_MS = 100;

describe("windows are aligned to the clock", () => {
  test.each([
    [0, MINUTE, 0],
    [59_999, MINUTE, 0],
    [60_000, MINUTE, 1],
    [1_700_000_012_345, MINUTE, 28_333_333],
    [1_700_000_012_345, 1_000, 1_700_000_012],
    [1_700_000_012_345, 3_600_000, 472_222],
  ])("t=%d, window %d ms → index %d", (now, windowMs, index) => {
    expect(windowIndex(now, windowMs)).toBe(index);
    expect(windowEnd(index, windowMs)).toBeGreaterThan(now);
    expect(windowEnd(index, windowMs) - windowMs).toBeLessThanOrEqual(now);
  });
});

describe("Retry-After: whole seconds to the window's end, at least 1", () => {
  test.each([
    ["at the window's start", 120_000, MINUTE, 60],
    ["a millisecond in", 120_001, MINUTE, 60],
    ["half a second before the end", 179_500, MINUTE, 1],
    ["a millisecond before the end", 179_999, MINUTE, 1],
    ["a one-second window", 5_200, 1_000, 1],
    ["an hour window, 10 minutes in", 3_600_000 + 600_000, 3_600_000, 3000],
  ])("%s", (_, now, windowMs, seconds) => {
    const count = newCount(windowIndex(now, windowMs));
    expect(retryAfterSeconds(count, now, windowMs)).toBe(seconds);
  });
});

/** A step on one count: what happens, then what the node should know. */
type Step =
  | { charge: number; fits: boolean }
  | { at: number }
  | { send: number }
  | { answer: number; sent: number; window?: number }
  | { fail: number; window?: number }
  | { read: number; window?: number }
  | { clock: number };

function run(steps: readonly Step[], limit: number, windowMs = MINUTE): WindowCount {
  const count = newCount(0);
  let now = NOW;
  for (const step of steps) {
    if ("charge" in step) {
      const ok = fits(count, step.charge, limit);
      expect(ok).toBe(step.fits);
      if (ok) charge(count, step.charge);
    } else if ("at" in step) rollForward(count, step.at, windowMs);
    else if ("clock" in step) now = step.clock;
    else if ("send" in step) expect(beginSend(count)).toBe(step.send);
    else if ("answer" in step) settleSend(count, step.window ?? count.window, step.sent, step.answer, now);
    else if ("read" in step) settleRead(count, step.window ?? count.window, step.read, now);
    else failSend(count, step.window ?? count.window, step.fail);
  }
  return count;
}

describe("what one node admits", () => {
  test.each<[string, Step[], number, Partial<WindowCount> & { known: number }]>([
    ["up to the limit, then no more", [{ charge: 1, fits: true }, { charge: 1, fits: true }, { charge: 1, fits: true }, { charge: 1, fits: false }], 3, { known: 3, unsent: 3 }],
    ["a batch fits whole or not at all", [{ charge: 2, fits: true }, { charge: 2, fits: false }, { charge: 1, fits: true }], 3, { known: 3 }],
    ["a batch larger than the limit never fits", [{ charge: 4, fits: false }], 3, { known: 0 }],
    ["calls in flight still count", [{ charge: 2, fits: true }, { send: 2 }, { charge: 2, fits: false }, { charge: 1, fits: true }], 3, { known: 3, sending: 2, unsent: 1 }],
    [
      "Redis's total brings in the other nodes' calls",
      [{ charge: 1, fits: true }, { send: 1 }, { answer: 4, sent: 1 }, { charge: 1, fits: true }, { charge: 1, fits: false }],
      5,
      { known: 5, synced: 4, sending: 0, unsent: 1, heardAt: NOW },
    ],
    [
      "a total lower than what the node knew (Redis lost the key) does not lower the count",
      [{ charge: 3, fits: true }, { send: 3 }, { answer: 1, sent: 3 }],
      5,
      { known: 3, synced: 3 },
    ],
    ["a failed send is sent again: nothing is forgotten", [{ charge: 2, fits: true }, { send: 2 }, { fail: 2 }, { charge: 1, fits: true }], 3, { known: 3, unsent: 3, sending: 0 }],
    ["a new window starts from nothing", [{ charge: 3, fits: true }, { send: 3 }, { at: 60_000 }, { charge: 3, fits: true }], 3, { window: 1, known: 3, synced: 0, sending: 0, unsent: 3, heardAt: -Infinity }],
    [
      "an answer for an earlier window is ignored",
      [{ charge: 3, fits: true }, { send: 3 }, { at: 60_000 }, { answer: 9, sent: 3, window: 0 }, { fail: 3, window: 0 }, { charge: 1, fits: true }],
      3,
      { window: 1, known: 1, synced: 0, unsent: 1 },
    ],
    ["the same window again changes nothing", [{ charge: 2, fits: true }, { at: 59_999 }], 3, { window: 0, known: 2 }],
    ["a read brings in the others' calls without sending any", [{ charge: 1, fits: true }, { send: 1 }, { answer: 1, sent: 1 }, { read: 4 }, { charge: 1, fits: true }, { charge: 1, fits: false }], 5, { known: 5, synced: 4, unsent: 1, heardAt: NOW }],
    ["a read lower than what the node knew changes nothing", [{ charge: 2, fits: true }, { send: 2 }, { answer: 2, sent: 2 }, { read: 0 }], 5, { known: 2, synced: 2 }],
    ["a read for an earlier window is ignored", [{ at: 60_000 }, { read: 7, window: 0 }], 5, { window: 1, known: 0, heardAt: -Infinity }],
  ])("%s", (_, steps, limit, expected) => {
    const count = run(steps, limit);
    const { known: total, ...fields } = expected;
    expect(known(count)).toBe(total);
    expect(count).toMatchObject(fields);
  });
});

describe("which counts are read from Redis with every sync", () => {
  test.each<[string, Step[], number, boolean]>([
    ["below half the limit: not yet", [{ charge: 4, fits: true }], 10, false],
    ["at half", [{ charge: 5, fits: true }], 10, true],
    ["just below the limit", [{ charge: 9, fits: true }], 10, true],
    ["at the limit: refused until the window ends whatever the others do", [{ charge: 10, fits: true }], 10, false],
  ])("%s", (_, steps, limit, refresh) => {
    expect(needsRefresh(run(steps, limit), limit)).toBe(refresh);
  });
});

describe("when a count goes to Redis at once", () => {
  test.each<[string, Step[], number, boolean]>([
    ["the first call of a window on this node: the others may have spent the budget", [{ charge: 1, fits: true }], 100, true],
    ["heard from Redis just now and below half the limit: with the next periodic sync", [{ charge: 1, fits: true }, { send: 1 }, { answer: 10, sent: 1 }, { charge: 1, fits: true }], 100, false],
    ["heard 100 ms ago: still fresh", [{ charge: 1, fits: true }, { send: 1 }, { answer: 10, sent: 1 }, { clock: NOW + 100 }, { charge: 1, fits: true }], 100, false],
    ["heard longer ago than the sync interval (an idle spell): ask again", [{ charge: 1, fits: true }, { send: 1 }, { answer: 10, sent: 1 }, { clock: NOW + 101 }, { charge: 1, fits: true }], 100, true],
    ["at half the limit", [{ charge: 1, fits: true }, { send: 1 }, { answer: 49, sent: 1 }, { charge: 1, fits: true }], 100, true],
    ["nothing unsent: nothing to send", [{ charge: 1, fits: true }, { send: 1 }], 100, false],
    ["a limit of 1 is urgent from the first call", [{ charge: 1, fits: true }], 1, true],
  ])("%s", (_, steps, limit, urgent) => {
    const last = [...steps].reverse().find((s): s is { clock: number } => "clock" in s);
    expect(isUrgent(run(steps, limit), limit, last?.clock ?? NOW, FRESH_MS)).toBe(urgent);
  });
});
