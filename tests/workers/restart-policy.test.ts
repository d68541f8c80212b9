import { expect, test } from "bun:test";
import { RESTART_POLICY, RestartPolicy } from "../../src/workers/restart-policy";

test("backoff doubles with each crash in the window, up to the cap", () => {
  const policy = new RestartPolicy({ crashLimit: 10, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 500 });
  const delays = [0, 1, 2, 3, 4].map((i) => policy.onCrash(1_000 + i));
  expect(delays.map((d) => (d.action === "restart" ? d.delayMs : -1))).toEqual([100, 200, 400, 500, 500]);
});

test("the limit within the window gives up; crashes older than the window are forgotten", () => {
  const policy = new RestartPolicy(RESTART_POLICY);
  for (let i = 0; i < 4; i++) expect(policy.onCrash(i * 1_000).action).toBe("restart");
  expect(policy.onCrash(10_000)).toEqual({ action: "give-up", recentCrashes: 5, windowMs: 60_000 });

  const spaced = new RestartPolicy(RESTART_POLICY);
  // One crash a minute never adds up to a loop, and each restart waits only the base delay.
  for (let minute = 0; minute < 20; minute++) expect(spaced.onCrash(minute * 61_000)).toEqual({ action: "restart", delayMs: 100, recentCrashes: 1 });
});
