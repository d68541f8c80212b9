/**
 * The workflow consumer's settings (docs/operations.md "Workflow consumer"):
 * when a claimed event counts as abandoned, how often it may be tried, when
 * a consumer that left is forgotten. Pure: a reader in, settings out, problems appended.
 */

import { wholeNumberReader } from "./whole-number-setting";

export interface WorkflowSettings {
  /** WORKFLOW_CLAIM_IDLE_MS: an event claimed this long without being acknowledged (its node died, or its handler failed) is claimed again by any node. */
  readonly claimIdleMs: number;
  /** WORKFLOW_MAX_DELIVERIES: attempts before an event whose handler keeps failing is dead-lettered. */
  readonly maxDeliveries: number;
  /** WORKFLOW_CONSUMER_FORGET_MS: a consumer (a node) with nothing pending, silent this long, is removed from the group. */
  readonly consumerForgetMs: number;
}

interface Reader {
  read(name: string): string | undefined;
}

export function parseWorkflowSettings({ read }: Reader, problems: string[]): WorkflowSettings {
  const whole = wholeNumberReader(read, problems);
  return {
    claimIdleMs: whole("WORKFLOW_CLAIM_IDLE_MS", 30_000, 100, 3_600_000, "milliseconds"),
    maxDeliveries: whole("WORKFLOW_MAX_DELIVERIES", 5, 1, 100, "deliveries"),
    consumerForgetMs: whole("WORKFLOW_CONSUMER_FORGET_MS", 600_000, 1_000, 7 * 24 * 3_600_000, "milliseconds"),
  };
}
