/**
 * ACME issuances this node finished, by operation (a first issuance or a
 * renewal) and result. Counted by the issuance workers when an order ends:
 * stored (success) or given up on with a failed status (failure). Rare, so
 * prom-client's own counter is fine.
 */
import { Counter, type Registry } from "prom-client";

export type AcmeOperation = "issue" | "renew";
export type AcmeResult = "success" | "failure";

/** What the issuance workers call. */
export interface AcmeIssuanceCounts {
  finished(operation: AcmeOperation, result: AcmeResult): void;
}

export class AcmeMetrics implements AcmeIssuanceCounts {
  private readonly counter: Counter<"operation" | "result">;

  constructor(registry: Registry) {
    this.counter = new Counter({
      name: "portcullis_acme_issuances_total",
      help: "ACME certificate orders this node finished, by operation (issue, renew) and result (success, failure)",
      labelNames: ["operation", "result"],
      registers: [registry],
    });
    // Zero from the start, so rate() and alerts see the series before the first order.
    for (const operation of ["issue", "renew"] as const) for (const result of ["success", "failure"] as const) this.counter.inc({ operation, result }, 0);
  }

  finished(operation: AcmeOperation, result: AcmeResult): void {
    this.counter.inc({ operation, result });
  }
}
