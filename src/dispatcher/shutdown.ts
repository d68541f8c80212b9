/**
 * Taking the listeners down without failing a request a client has sent.
 *
 * Stopping a Bun.serve at once (stop(false)) closes its idle keep-alive
 * connections on the spot, so a client that is just sending its next request
 * on one gets a reset. Shutdown therefore runs in three steps, the first the
 * same drain the certificate swap uses (native-tls/drain):
 *
 * 1. Drain: every listener keeps accepting, but every response says
 *    `Connection: close`, so each busy keep-alive client gets its answer and
 *    then a clean close. This lasts `drainMs`, or less once no request has
 *    been in flight or arrived for `quietMs` (an idle gateway stops quickly).
 * 2. Stop accepting; requests in flight, event streams and WebSockets may
 *    finish for up to `graceMs`. Idle connections close now.
 * 3. Cut whatever is left.
 */
import type { Server } from "bun";
import { answerWithConnectionClose, type ServerHandlers } from "../../native-tls/drain";

/** A listener the gateway can drain and stop. */
export interface DrainableListener {
  /** The port it is bound to (for a listener behind a relay: the public one). */
  readonly port: number;
  /** Requests being answered now (streaming responses included, WebSockets not). */
  readonly pendingRequests: number;
  /** Step 1: answer with `Connection: close` from now on, still accepting; `onRequest` hears of each request. */
  drain(onRequest: () => void): void;
  /** Step 2 (`false`: stop accepting, let what is in flight finish) and step 3 (`true`: cut everything). */
  stop(closeActiveConnections?: boolean): Promise<void>;
}

export interface ShutdownTiming {
  /** Longest time the listeners keep accepting while answering with Connection: close. */
  readonly drainMs: number;
  /** The drain ends early once no request has been in flight or arrived for this long. */
  readonly quietMs: number;
  /** Then: how long requests in flight, streams and WebSockets may take before they are cut. */
  readonly graceMs: number;
}

export const SHUTDOWN_TIMING: ShutdownTiming = { drainMs: 2_000, quietMs: 250, graceMs: 10_000 };

/** How often the drain looks at the listeners. */
const POLL_MS = 25;

/** A Bun.serve as a DrainableListener; `handlers` are the ones it was started with. */
export function drainableServer<WS>(server: Server<WS>, handlers: ServerHandlers<WS>): DrainableListener {
  return {
    port: server.port!,
    get pendingRequests() {
      return server.pendingRequests;
    },
    drain(onRequest) {
      answerWithConnectionClose(server, handlers, onRequest);
    },
    stop: (closeActiveConnections = false) => server.stop(closeActiveConnections),
  };
}

/** Runs the three steps over all `listeners` together; resolves when every one is stopped. */
export async function shutDownListeners(listeners: readonly DrainableListener[], timing: ShutdownTiming = SHUTDOWN_TIMING): Promise<void> {
  const start = performance.now();
  // A response sent without the header (its request came before the drain) may be followed by another
  // request on its connection: the quiet period counts from when nothing was in flight either.
  let lastActivity = start;
  for (const listener of listeners) listener.drain(() => (lastActivity = performance.now()));
  for (;;) {
    const now = performance.now();
    if (now - start >= timing.drainMs) break;
    if (listeners.some((listener) => listener.pendingRequests > 0)) lastActivity = now;
    else if (now - lastActivity >= timing.quietMs) break;
    await Bun.sleep(Math.min(POLL_MS, timing.drainMs - (now - start)));
  }

  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const graceOver = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, timing.graceMs)));
  await Promise.race([Promise.all(listeners.map((listener) => listener.stop(false))), graceOver]);
  clearTimeout(graceTimer);
  await Promise.all(listeners.map((listener) => listener.stop(true)));
}
