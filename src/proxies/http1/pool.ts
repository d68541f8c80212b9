/**
 * Keep-alive connections per backend origin (scheme, host, port). Idle
 * connections are reused most-recently-used first (warm ones; the cold tail
 * times out), and closed after IDLE_MS — below the 5 s keep-alive timeout
 * of Node's http server, the shortest common default, so the pool rarely hands
 * out a connection the backend is about to close.
 */
import { UpstreamError } from "../errors";
import { BackendConnection, socketHandlers, type ConnectionOwner } from "./connection";
import type { Deadlines } from "./deadlines";
import { HeadCache } from "./head-cache";

const IDLE_MS = 4_000;
const MAX_IDLE_PER_ORIGIN = 256;

export interface Origin {
  readonly hostname: string;
  readonly port: number;
  readonly tls: boolean;
}

export class OriginPool implements ConnectionOwner {
  private idle: BackendConnection[] = [];
  readonly heads = new HeadCache();

  constructor(
    readonly origin: Origin,
    private readonly connectTimeoutMs: number,
    /** Request timeouts of the connections of this pool. */
    readonly deadlines: Deadlines,
  ) {}

  /** An idle connection, or undefined when a new one must be opened. */
  takeIdle(): BackendConnection | undefined {
    for (let connection = this.idle.pop(); connection; connection = this.idle.pop()) {
      if (connection.closed) continue;
      connection.deadline = 0;
      connection.uses++;
      return connection;
    }
    return undefined;
  }

  /**
   * Opens a connection: TCP, and for https the TLS handshake with the
   * certificate verified. Rejects with connect_timeout after connectTimeoutMs.
   */
  connect(): Promise<BackendConnection> {
    const connection = new BackendConnection(this);
    connection.uses = 1;
    const { hostname, port, tls } = this.origin;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        connection.connecting = undefined;
        if (error === undefined) return resolve(connection);
        connection.destroy();
        reject(error);
      };
      const timer = setTimeout(() => finish(new UpstreamError("connect_timeout")), this.connectTimeoutMs);
      connection.connecting = (ok) => finish(ok ? undefined : new UpstreamError(tls ? "unreachable" : "closed"));
      Bun.connect({ hostname, port, data: connection, socket: socketHandlers, tls: tls ? { serverName: hostname } : undefined }).then(
        (socket) => {
          // Connected only after the timeout gave up on it: nobody wants this socket any more.
          if (settled) return socket.terminate();
          connection.socket = socket;
          socket.setNoDelay(true);
          this.deadlines.register(connection);
          // TLS: usable only after the handshake callback.
          if (!tls) finish();
        },
        (error: unknown) => finish(error),
      );
    });
  }

  /** Returns a connection whose exchange finished cleanly. */
  release(connection: BackendConnection): void {
    connection.user = undefined;
    if (connection.closed) return;
    if (this.idle.length >= MAX_IDLE_PER_ORIGIN) return connection.destroy();
    connection.resume();
    connection.deadline = this.deadlines.fromNow(IDLE_MS);
    this.idle.push(connection);
  }

  closed(connection: BackendConnection): void {
    this.deadlines.unregister(connection);
    const index = this.idle.lastIndexOf(connection);
    if (index >= 0) this.idle.splice(index, 1);
  }

  close(): void {
    for (const connection of this.idle.splice(0)) connection.destroy();
  }
}

/** One pool per origin, created on first use. */
export class PoolSet {
  private pools = new Map<string, OriginPool>();

  constructor(
    private readonly connectTimeoutMs: number,
    private readonly deadlines: Deadlines,
  ) {}

  private byUrl = new WeakMap<URL, OriginPool>();

  /** The pool for a target URL; the URL object itself is the fast key (targets are built once per config change). */
  forUrl(url: URL): OriginPool {
    const known = this.byUrl.get(url);
    if (known) return known;
    const key = url.origin;
    let pool = this.pools.get(key);
    if (!pool) {
      const tls = url.protocol === "https:";
      const port = url.port === "" ? (tls ? 443 : 80) : Number(url.port);
      // URL keeps IPv6 literals bracketed; sockets want them bare.
      const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
      pool = new OriginPool({ hostname, port, tls }, this.connectTimeoutMs, this.deadlines);
      this.pools.set(key, pool);
    }
    this.byUrl.set(url, pool);
    return pool;
  }

  close(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
    this.byUrl = new WeakMap();
  }
}
