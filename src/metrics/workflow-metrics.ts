/**
 * The workflow consumer (orchestration/workflow-consumer.ts): events whose
 * side effect this node did, attempts that failed, events it dead-lettered,
 * and the group's unacknowledged entries as of its last claim round. Rare
 * (configuration changes), so prom-client's own counter is fine.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { WorkflowCounts } from "../orchestration/workflow-consumer";

type Result = "handled" | "failed" | "dead_lettered";

export class WorkflowMetrics implements WorkflowCounts {
  private readonly events: Counter<"event_type" | "result">;
  private pendingSource: (() => number) | undefined;

  constructor(registry: Registry) {
    this.events = new Counter({
      name: "portcullis_workflow_events_total",
      help: "Workflow events (events:workflow, group workflow-group) whose side effect this node attempted, by event_type and result (handled: done and acknowledged; failed: an attempt that threw, tried again later; dead_lettered: given up after WORKFLOW_MAX_DELIVERIES)",
      labelNames: ["event_type", "result"],
      registers: [registry],
    });
    const pending = () => this.pendingSource?.() ?? 0;
    new Gauge({
      name: "portcullis_workflow_pending",
      help: "Workflow events delivered to a consumer of workflow-group and not yet acknowledged (in progress, failed and waiting for a retry, or left by a node that stopped), as of this node's last claim round",
      registers: [registry],
      collect() {
        this.set(pending());
      },
    });
  }

  /** Zero series for the event types that have handlers, so rate() and alerts see them before the first event. */
  expect(eventTypes: Iterable<string>): void {
    for (const event_type of eventTypes) for (const result of ["handled", "failed", "dead_lettered"] as const) this.events.inc({ event_type, result }, 0);
  }

  /** Reports the consumer's last known pending count as portcullis_workflow_pending. */
  watchPending(count: () => number): void {
    this.pendingSource = count;
  }

  handled(eventType: string): void {
    this.count(eventType, "handled");
  }

  failed(eventType: string): void {
    this.count(eventType, "failed");
  }

  deadLettered(eventType: string): void {
    this.count(eventType, "dead_lettered");
  }

  private count(event_type: string, result: Result): void {
    this.events.inc({ event_type, result });
  }
}
