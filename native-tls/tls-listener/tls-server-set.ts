/**
 * A TLS server on one port whose certificates change without failing a
 * request, served by Bun.serve itself (no copy of any byte in JavaScript).
 *
 * Bun.serve cannot change the certificates of a running server, so a change
 * starts a new generation on the same port with SO_REUSEPORT and retires the
 * previous one in two steps:
 *
 * 1. Draining (DRAIN_MS): the old server still accepts, but every response it
 *    sends says `Connection: close`, so keep-alive clients finish their request
 *    and reconnect — to whichever listener the kernel picks, until step 2.
 * 2. stop(false): the old server stops listening; requests in flight,
 *    streaming responses and WebSockets on it carry on until they end.
 *
 * Stopping at once instead fails the request each busy keep-alive client has
 * already sent (Bun closes the connection after the current response, without
 * announcing it). Closing a SO_REUSEPORT listener resets connections still in
 * its accept queue unless the kernel migrates them to the new listener
 * (`net.ipv4.tcp_migrate_req=1`, Linux 5.14+): use this set only where
 * `migratesPendingConnections()` is true, TlsListenerSet elsewhere.
 *
 * During the drain a new connection may still land on the retired server and
 * get the previous certificates (and Connection: close on its first
 * response), so a change reaches every new connection within DRAIN_MS.
 */
import { readFileSync } from "node:fs";
import type { Server } from "bun";
import { answerWithConnectionClose } from "../drain";
import { bunTlsOptions, type TlsCertificates, type TlsListener, type TlsListenerBaseOptions } from "./tls-config";

export interface TlsServerSetOptions<WS> extends TlsListenerBaseOptions<WS> {
  /** How long a retired generation answers with Connection: close before it stops listening. */
  readonly drainMs?: number;
}

export const DEFAULT_DRAIN_MS = 500;

interface Generation<WS> {
  readonly server: Server<WS>;
  stopTimer?: ReturnType<typeof setTimeout>;
}

export class TlsServerSet<WS> implements TlsListener<WS> {
  private current: Generation<WS>;
  private readonly retired = new Set<Generation<WS>>();
  private readonly boundPort: number;
  private stopping = false;

  /** Binds the port; throws as Bun.serve does when it cannot (port in use, bad certificate). */
  constructor(
    private readonly options: TlsServerSetOptions<WS>,
    certificates: TlsCertificates,
  ) {
    this.current = this.startGeneration(certificates, options.port);
    this.boundPort = this.current.server.port!;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Servers running: the current one plus retired ones still draining. */
  get generationCount(): number {
    return 1 + this.retired.size;
  }

  get draining(): boolean {
    return this.retired.size > 0;
  }

  /**
   * New connections get these certificates from now on (all of them once the
   * previous server has drained); open ones keep theirs. Throws, keeping the
   * previous certificates, if Bun refuses the set.
   */
  setCertificates(certificates: TlsCertificates): void {
    if (this.stopping) return;
    const next = this.startGeneration(certificates, this.boundPort);
    this.retire(this.current);
    this.current = next;
  }

  clientAddress(request: Request, server: Server<WS>): string {
    const peer = server.requestIP(request);
    if (!peer) return "";
    return this.options.identifyClient?.(peer.address, peer.port) ?? peer.address;
  }

  get pendingRequests(): number {
    let pending = this.current.server.pendingRequests;
    for (const generation of this.retired) pending += generation.server.pendingRequests;
    return pending;
  }

  /** Every generation answers with Connection: close from now on; the current one keeps accepting until stop(). */
  drain(onRequest?: () => void): void {
    this.stopping = true;
    for (const generation of [this.current, ...this.retired]) answerWithConnectionClose(generation.server, this.options.http, onRequest);
  }

  /**
   * Stops listening. Gracefully (the default): requests in flight finish, as
   * Bun.serve's stop(false) does; `true` cuts every connection.
   */
  async stop(closeActiveConnections = false): Promise<void> {
    this.stopping = true;
    const all = [this.current, ...this.retired];
    this.retired.clear();
    for (const generation of all) clearTimeout(generation.stopTimer);
    await Promise.all(all.map((g) => g.server.stop(closeActiveConnections)));
  }

  private startGeneration(certificates: TlsCertificates, port: number): Generation<WS> {
    const { http } = this.options;
    const server = Bun.serve<WS>({
      hostname: this.options.hostname,
      port,
      reusePort: true,
      tls: bunTlsOptions(certificates),
      idleTimeout: http.idleTimeout,
      maxRequestBodySize: http.maxRequestBodySize,
      websocket: http.websocket,
      fetch: http.fetch,
      development: false,
      error: http.error,
    });
    return { server };
  }

  private retire(generation: Generation<WS>): void {
    // Only the retired server pays for the header; the current one runs the handler as is.
    answerWithConnectionClose(generation.server, this.options.http);
    this.retired.add(generation);
    generation.stopTimer = setTimeout(() => {
      this.retired.delete(generation);
      void generation.server.stop(false);
    }, this.options.drainMs ?? DEFAULT_DRAIN_MS);
  }
}

/**
 * Whether this kernel hands connections queued on a closing SO_REUSEPORT
 * listener to another listener on the port, instead of resetting them.
 * `undefined` when it cannot be read (not Linux, or no /proc).
 */
export function migratesPendingConnections(): boolean | undefined {
  try {
    return readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim() !== "0";
  } catch {
    return undefined;
  }
}
