/**
 * Long-lived client connections open right now: relayed WebSockets and
 * server-sent event streams. Plain numbers the relays bump on open and close;
 * the gauges read them at scrape time.
 */
import { Gauge, type Registry } from "prom-client";

export type StreamKind = "websocket" | "event_stream";

/** What a relay calls; each `opened` is matched by exactly one `closed`. */
export interface StreamCounts {
  opened(kind: StreamKind): void;
  closed(kind: StreamKind): void;
}

export class StreamMetrics implements StreamCounts {
  private websockets = 0;
  private eventStreams = 0;

  constructor(registry: Registry) {
    const read = (kind: StreamKind) => () => this.open(kind);
    gauge(registry, "portcullis_open_websockets", "WebSocket connections relayed to a backend right now", read("websocket"));
    gauge(registry, "portcullis_open_event_streams", "Server-sent event streams (text/event-stream responses) being relayed right now", read("event_stream"));
  }

  opened(kind: StreamKind): void {
    if (kind === "websocket") this.websockets++;
    else this.eventStreams++;
  }

  closed(kind: StreamKind): void {
    if (kind === "websocket") this.websockets--;
    else this.eventStreams--;
  }

  open(kind: StreamKind): number {
    return kind === "websocket" ? this.websockets : this.eventStreams;
  }
}

function gauge(registry: Registry, name: string, help: string, value: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(value());
    },
  });
}
