/** WORKFLOW_CLAIM_IDLE_MS, WORKFLOW_MAX_DELIVERIES and WORKFLOW_CONSUMER_FORGET_MS: defaults, and bad values named. */
import { expect, test } from "bun:test";
import { parseConfig } from "../../src/core/config";
import { configProblems as problems } from "../helpers/config-problems";


test("defaults: claimed again after 30 s, dead-lettered after 5 attempts, consumers forgotten after 10 min", () => {
  expect(parseConfig({}).workflow).toEqual({ claimIdleMs: 30_000, maxDeliveries: 5, consumerForgetMs: 600_000 });
});

test("each setting is read", () => {
  const settings = parseConfig({ WORKFLOW_CLAIM_IDLE_MS: "1500", WORKFLOW_MAX_DELIVERIES: "2", WORKFLOW_CONSUMER_FORGET_MS: "60000" }).workflow;
  expect(settings).toEqual({ claimIdleMs: 1500, maxDeliveries: 2, consumerForgetMs: 60_000 });
  expect(Object.isFrozen(settings)).toBe(true);
});

test("bad values stop start-up, each named with what is expected", () => {
  expect(problems({ WORKFLOW_CLAIM_IDLE_MS: "10", WORKFLOW_MAX_DELIVERIES: "0", WORKFLOW_CONSUMER_FORGET_MS: "soon" })).toEqual([
    'WORKFLOW_CLAIM_IDLE_MS="10": expected whole milliseconds from 100 to 3600000',
    'WORKFLOW_MAX_DELIVERIES="0": expected whole deliveries from 1 to 100',
    'WORKFLOW_CONSUMER_FORGET_MS="soon": expected whole milliseconds from 1000 to 604800000',
  ]);
  expect(problems({ WORKFLOW_MAX_DELIVERIES: "2.5" })).toEqual(['WORKFLOW_MAX_DELIVERIES="2.5": expected whole deliveries from 1 to 100']);
});
