/**
 * The gateway serves token ports itself (docs/services.md "Source tokens"): a
 * tcp port allocation with a source token is bound here, on its
 * `bind_address:host_port`, by a small Bun.serve that checks the token on
 * every HTTP request and forwards it with the gateway's forwarding engine to
 * `relay_upstream` (where the engine published the container port on
 * loopback). So the gateway, not the client, decides the framing the
 * container receives, and X-Forwarded-* are the gateway's.
 *
 * Every node keeps the token ports in memory and follows
 * `service_port_changed` (LiveConfig calls reload); a request never waits on
 * Redis. Token changes apply to the next request; a port that stops being a
 * token port is closed. Of several nodes on one machine the first to bind a
 * port serves it; the others retry at intervals (EADDRINUSE is expected), so
 * the port is served again when that node goes away.
 */
import type { Server } from "bun";
import type { Logger } from "../core/logger";
import type { StreamFollower } from "../dispatcher/live-config";
import { afterPipelinedRequestsSeen } from "../dispatcher/pipelining";
import { SERVE_DEFAULTS } from "../dispatcher/listen";
import { forwardTarget, type ForwardContext, type ForwardingEngine, type ForwardTarget, type WebSocketProxyData } from "../proxies";
import { stampRequestId, traceRequest } from "../proxies/request-trace";
import type { PortAllocation, PortRepository } from "../storage/port-repository";
import { checkSourceToken, isTokenPort, SOURCE_TOKEN_HEADER, sourceTokenRefusal, storedDigest } from "./source-token-check";

/** One token port as this node serves it. */
interface TokenPort {
  readonly service: string;
  readonly portName: string;
  readonly bind: string;
  /** The stored hash's digest; null if the record holds no valid hash (then every request is refused). */
  readonly digest: Buffer | null;
  /** The container's published loopback address; null while it does not run. */
  readonly target: ForwardTarget | null;
}

export interface SourceTokenRelayOptions {
  /** CLIENT_IDLE_TIMEOUT, as the edge uses it. */
  readonly idleTimeoutSeconds: number;
  /** How often a port another process holds is tried again. */
  readonly retryMs?: number;
}

const DEFAULT_RETRY_MS = 1_000;

export class SourceTokenRelay implements StreamFollower {
  private wanted = new Map<number, TokenPort>();
  private readonly servers = new Map<number, { bind: string; server: Server<WebSocketProxyData> }>();
  private retry: ReturnType<typeof setTimeout> | undefined;
  /** Ports whose unexpected bind failure was logged at warn already; retries log at debug. */
  private readonly warned = new Set<number>();
  private stopped = false;

  constructor(
    private readonly ports: PortRepository,
    private readonly engine: ForwardingEngine,
    private readonly log: Logger,
    private readonly options: SourceTokenRelayOptions,
  ) {}

  wants(eventType: string): boolean {
    return eventType === "service_port_changed";
  }

  /** Reads every token port from Redis, then binds, rebinds and closes listeners to match. */
  async reload(): Promise<void> {
    const allocations = (await this.ports.list()).filter(isTokenPort);
    this.apply(allocations);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    for (const { server } of this.servers.values()) server.stop(true);
    this.servers.clear();
  }

  private apply(allocations: PortAllocation[]): void {
    const next = new Map<number, TokenPort>();
    for (const a of allocations) {
      const previous = this.wanted.get(a.host_port);
      const upstream = a.relay_upstream ?? null;
      // One ForwardTarget per upstream address, kept across reloads: the engine keys its header cache on it.
      let target: ForwardTarget | null = null;
      if (upstream !== null) target = previous?.target?.url.host === upstream ? previous.target : forwardTarget(`http://${upstream}`, { preserveHost: true });
      next.set(a.host_port, { service: a.service_name, portName: a.port_name, bind: a.bind_address, digest: a.source_token_hash ? storedDigest(a.source_token_hash) : null, target });
    }
    // Swapped in one step: a request reads the new token from here on.
    this.wanted = next;
    this.reconcile();
  }

  private reconcile(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = undefined;
    for (const [port, held] of this.servers) {
      const want = this.wanted.get(port);
      if (want && want.bind === held.bind) continue;
      // Closing cuts the open connections too: a released port is nobody's the moment it is released.
      held.server.stop(true);
      this.servers.delete(port);
      this.log.info({ port, bind: held.bind }, "source-token relay: stopped serving a port");
    }
    let waiting = false;
    for (const [port, want] of this.wanted) {
      if (this.servers.has(port)) continue;
      if (!this.bind(port, want)) waiting = true;
    }
    if (waiting) {
      this.retry = setTimeout(() => this.reconcile(), this.options.retryMs ?? DEFAULT_RETRY_MS);
      this.retry.unref?.();
    }
  }

  /** True when this node now serves the port. */
  private bind(port: number, want: TokenPort): boolean {
    try {
      const fetch = afterPipelinedRequestsSeen((request: Request, server: Server<WebSocketProxyData>) => this.answer(port, request, server));
      const server = Bun.serve<WebSocketProxyData>({
        // SERVE_DEFAULTS has reusePort: false: a sibling node gets EADDRINUSE instead of sharing the port.
        ...SERVE_DEFAULTS,
        hostname: want.bind,
        port,
        idleTimeout: this.options.idleTimeoutSeconds,
        // Bodies stream through to the container, which sets its own limit (as at the edge).
        maxRequestBodySize: Number.MAX_SAFE_INTEGER,
        fetch,
        websocket: this.engine.websocket,
      });
      this.servers.set(port, { bind: want.bind, server });
      this.warned.delete(port);
      this.log.info({ port, bind: want.bind, service: want.service, port_name: want.portName }, "source-token relay: serving a token port");
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      const message = (err as Error).message;
      // Another node on this machine (or the container being replaced) holds it: expected, try again later.
      if (code === "EADDRINUSE" || /in use/i.test(message)) this.log.debug({ port, bind: want.bind }, "source-token relay: port in use, retrying");
      else if (!this.warned.has(port)) {
        this.warned.add(port);
        this.log.warn({ port, bind: want.bind, err: message }, "source-token relay: cannot bind a token port, retrying");
      } else this.log.debug({ port, bind: want.bind, err: message }, "source-token relay: still cannot bind a token port");
      return false;
    }
  }

  private answer(port: number, request: Request, server: Server<WebSocketProxyData>): Response | Promise<Response | undefined> {
    const trace = traceRequest(request.headers, false);
    const want = this.wanted.get(port);
    if (!want || want.digest === null) return stampRequestId(sourceTokenRefusal("this port has no source token configured"), trace);
    const verdict = checkSourceToken(request.headers, want.digest);
    if (!verdict.ok) return stampRequestId(sourceTokenRefusal(verdict.detail), trace);
    if (!want.target) {
      const detail = `service ${want.service} is not running; start it to reach port ${want.portName}`;
      return stampRequestId(Response.json({ error: "unavailable", detail }, { status: 503, headers: { "x-content-type-options": "nosniff" } }), trace);
    }
    const context: ForwardContext = {
      clientIp: server.requestIP(request)?.address ?? "",
      proto: "http",
      // The relay's clients are never trusted proxies: X-Forwarded-* and X-Real-IP are always the gateway's own.
      trustedPeer: false,
      server,
      trace,
      identity: { stripPrefix: SOURCE_TOKEN_HEADER, headers: [], dropAuthorization: verdict.dropAuthorization, rewriteCookie: null },
    };
    // A WebSocket is checked once, at its handshake; its frames are relayed as the edge relays them.
    if (this.engine.isWebSocketUpgrade(request)) return this.engine.upgradeWebSocket(request, server, want.target, context);
    return this.engine.forward(request, want.target, context);
  }
}
