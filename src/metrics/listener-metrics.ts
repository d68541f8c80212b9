/**
 * Requests each listener is answering right now (Bun.serve's
 * `pendingRequests`, streaming responses included), read at scrape time. The
 * listener label is one of the gateway's fixed listener names.
 */
import { Gauge, type Registry } from "prom-client";

export type ListenerName = "api" | "http" | "https" | "proxy_protocol" | "metrics";

export interface PendingRequestsSource {
  readonly pendingRequests: number;
}

export function registerPendingRequests(registry: Registry, listeners: ReadonlyMap<ListenerName, PendingRequestsSource>): void {
  new Gauge({
    name: "portcullis_pending_requests",
    help: "Requests a listener is answering right now (streaming responses included, WebSockets not), by listener",
    labelNames: ["listener"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [listener, source] of listeners) this.set({ listener }, source.pendingRequests);
    },
  });
}
