/**
 * A TCP relay that requires a PROXY protocol header (v1 or v2) from trusted
 * peers, strips it, and pipes the rest of the connection to an internal
 * listener, recording who the client is in a ClientRegistry keyed by the
 * relay's local port towards that listener.
 *
 * Per connection: a peer outside `isTrusted` is closed at once; otherwise the
 * header must arrive complete within `headerTimeoutMs`, or the connection is
 * closed with nothing forwarded. Each refusal is reported through `onReject`
 * (the relay itself never logs). Once the header is in, the relay connects
 * upstream, registers the client, and only then forwards the bytes that came
 * after the header, followed by everything else, both ways, with backpressure.
 */
import type { Socket, TCPSocketListener } from "bun";
import type { ProxyErrorCode, ProxyHeader } from "../proxy-protocol";
import { ProxyHeaderReader } from "./header-reader";
import { Outbox } from "./outbox";
import { ClientRegistry, type RelayedClient, type RelayEndpoint } from "./registry";

export type RelayRejectReason =
  /** The peer is not allowed to send PROXY headers. */
  | "untrusted_source"
  /** The first bytes are not a valid PROXY header (`code` says how). */
  | "malformed_header"
  /** No complete header within the deadline. */
  | "header_timeout"
  /** The peer closed before its header was complete (a TCP health check sends nothing at all). */
  | "closed_before_header"
  /** The internal listener refused the connection. */
  | "upstream_unavailable";

export interface RelayRejection {
  readonly reason: RelayRejectReason;
  readonly peer: RelayEndpoint;
  /** For "malformed_header": the parser's error code. */
  readonly code?: ProxyErrorCode;
  readonly detail: string;
  /** Bytes read from the peer while its header was awaited. */
  readonly bytesReceived: number;
}

export interface RelayedConnection {
  readonly client: RelayedClient;
  readonly header: ProxyHeader;
  /** The relay's local port towards the upstream: the registry key. */
  readonly upstreamLocalPort: number;
  readonly upstreamPort: number;
}

export interface RelayOptions {
  readonly hostname: string;
  /** 0 picks a free port (see `port` on the result). */
  readonly port: number;
  /** Share the port with other processes' relays (SO_REUSEPORT); otherwise a second bind is refused. */
  readonly reusePort?: boolean;
  /** The internal listener that receives the connection without its header. */
  readonly upstream: { readonly hostname: string; readonly port: number };
  /** Whether a peer address may send PROXY headers. */
  readonly isTrusted: (address: string) => boolean;
  /** Time allowed for the whole header to arrive (default 5000 ms). */
  readonly headerTimeoutMs?: number;
  /** Cap on a v2 header (default 4096 bytes, see parseProxyHeader). */
  readonly maxV2HeaderBytes?: number;
  /** Bytes queued towards a slow side before the other side is paused (default 64 KiB). */
  readonly highWaterBytes?: number;
  /** Where clients are recorded; a new registry when absent. */
  readonly registry?: ClientRegistry;
  readonly onReject?: (rejection: RelayRejection) => void;
  /** Called once per connection, after it is registered and before any byte is forwarded. */
  readonly onRelay?: (connection: RelayedConnection) => void;
}

export interface ProxyProtocolRelay {
  readonly hostname: string;
  readonly port: number;
  readonly registry: ClientRegistry;
  /** Connections open now, in any phase. */
  readonly connections: number;
  /** Bytes held in the relay's queues now, both ways, all connections (bounded by backpressure). */
  readonly bufferedBytes: number;
  /** Stops accepting; with `closeActive`, also cuts every open connection. */
  stop(closeActive?: boolean): void;
}

export const DEFAULT_HEADER_TIMEOUT_MS = 5_000;
export const DEFAULT_HIGH_WATER_BYTES = 64 * 1024;
/** How long a client may hold its half of a connection whose upstream is gone. */
const LINGER_MS = 5_000;

const enum Phase {
  Header,
  Connecting,
  Piping,
  Closed,
}

interface RelaySettings {
  readonly options: RelayOptions;
  readonly registry: ClientRegistry;
  readonly headerTimeoutMs: number;
  readonly highWater: number;
  readonly readerOptions: { readonly maxV2Bytes?: number };
  readonly live: Set<Connection>;
}

class Connection {
  phase = Phase.Header;
  readonly peer: RelayEndpoint;
  private reader: ProxyHeaderReader | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  upstream: Socket<Connection> | undefined;
  private header: ProxyHeader | undefined;
  private entry: RelayedClient | undefined;
  private localPort = 0;
  readonly toUpstream = new Outbox();
  readonly toClient = new Outbox();
  private clientPaused = false;
  private upstreamPaused = false;
  /** A FIN is owed to that side once its outbox is empty. */
  private endUpstream = false;
  private endClient = false;
  private clientFinSent = false;
  private clientClosed = false;
  private upstreamClosed = false;

  constructor(
    private readonly settings: RelaySettings,
    readonly client: Socket<Connection>,
  ) {
    this.peer = { address: client.remoteAddress, port: client.remotePort };
    this.reader = new ProxyHeaderReader(this.peer, settings.readerOptions);
  }

  open(): void {
    if (!this.settings.options.isTrusted(this.peer.address)) {
      this.reject("untrusted_source", "the peer is not in the trusted ranges for PROXY protocol headers");
      return;
    }
    this.timer = setTimeout(
      () => this.reject("header_timeout", `no complete PROXY protocol header within ${this.settings.headerTimeoutMs} ms`),
      this.settings.headerTimeoutMs,
    );
  }

  fromClient(chunk: Uint8Array): void {
    if (this.phase === Phase.Header) return this.readHeader(chunk);
    if (this.phase === Phase.Closed) return;
    // While connecting there is no upstream socket yet, and the outbox keeps everything.
    this.toUpstream.write(this.upstream, chunk);
    if (this.toUpstream.bytes > this.settings.highWater && !this.clientPaused) {
      this.clientPaused = true;
      this.client.pause();
    }
  }

  fromUpstream(chunk: Uint8Array): void {
    if (this.clientClosed) return;
    this.toClient.write(this.client, chunk);
    if (this.toClient.bytes > this.settings.highWater && !this.upstreamPaused) {
      this.upstreamPaused = true;
      this.upstream?.pause();
    }
  }

  private readHeader(chunk: Uint8Array): void {
    const result = this.reader!.push(chunk);
    if (result.kind === "incomplete") return;
    if (result.kind === "error") {
      this.reject("malformed_header", result.message, result.code);
      return;
    }
    this.reader = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.phase = Phase.Connecting;
    this.entry = result.client;
    this.header = result.header;
    if (result.rest.length > 0) this.toUpstream.write(undefined, result.rest);
    // Nothing more is read until the upstream is there to take it.
    this.clientPaused = true;
    this.client.pause();
    const { hostname, port } = this.settings.options.upstream;
    // Failures arrive through connectError; the promise itself has nothing to add.
    Bun.connect<Connection>({ hostname, port, data: this, allowHalfOpen: true, socket: upstreamHandlers }).catch(() => {});
  }

  upstreamOpen(socket: Socket<Connection>): void {
    if (this.phase === Phase.Closed || this.clientClosed) {
      socket.terminate();
      return;
    }
    this.upstream = socket;
    this.phase = Phase.Piping;
    this.localPort = socket.localPort;
    const entry = this.entry!;
    this.settings.registry.add(this.localPort, entry);
    const upstreamPort = this.settings.options.upstream.port;
    notify(this.settings.options.onRelay, { client: entry, header: this.header!, upstreamLocalPort: this.localPort, upstreamPort });
    this.header = undefined;
    this.upstreamDrained();
  }

  /** The upstream took more bytes (or just connected): send the rest, let the client speak again. */
  upstreamDrained(): void {
    const upstream = this.upstream;
    if (!upstream || !this.toUpstream.flush(upstream)) return;
    if (this.endUpstream) {
      this.endUpstream = false;
      upstream.shutdown();
    }
    if (this.clientPaused && !this.clientClosed) {
      this.clientPaused = false;
      this.client.resume();
    }
  }

  clientDrained(): void {
    if (this.clientClosed || !this.toClient.flush(this.client)) return;
    if (this.endClient) this.finishClient();
    if (this.upstreamPaused && !this.upstreamClosed) {
      this.upstreamPaused = false;
      this.upstream?.resume();
    }
  }

  /** The client sent FIN. */
  clientEnded(): void {
    if (this.phase === Phase.Header) {
      this.reject("closed_before_header", "the peer closed the connection before its PROXY protocol header was complete");
      return;
    }
    if (this.upstream && this.toUpstream.empty) this.upstream.shutdown();
    else this.endUpstream = true;
  }

  /** The upstream sent FIN, or closed: the client gets FIN once what is queued for it is out. */
  upstreamEnded(): void {
    if (this.toClient.empty) this.finishClient();
    else this.endClient = true;
  }

  private finishClient(): void {
    this.endClient = false;
    if (this.clientClosed) return;
    if (!this.clientFinSent) {
      this.clientFinSent = true;
      if (this.upstreamClosed) this.client.end();
      else this.client.shutdown();
    }
    // end() may have closed it already (its close handler runs synchronously).
    if (this.upstreamClosed && !this.clientClosed) {
      // A client that never closes its half would otherwise hold the socket for good.
      this.timer ??= setTimeout(() => this.client.terminate(), LINGER_MS);
    }
  }

  clientClose(): void {
    if (this.clientClosed) return;
    this.clientClosed = true;
    this.toClient.clear();
    if (this.phase === Phase.Header) {
      this.reject("closed_before_header", "the peer closed the connection before its PROXY protocol header was complete");
    }
    this.phase = Phase.Closed;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.settings.live.delete(this);
    // Nothing can reach the client any more: a client that vanished is a client that aborted.
    if (!this.upstreamClosed) this.upstream?.terminate();
  }

  upstreamClose(): void {
    if (this.upstreamClosed) return;
    this.upstreamClosed = true;
    this.toUpstream.clear();
    if (this.entry) this.settings.registry.remove(this.localPort, this.entry);
    if (this.phase !== Phase.Closed) this.upstreamEnded();
  }

  upstreamFailed(error: Error): void {
    this.upstreamClosed = true;
    this.reject("upstream_unavailable", `cannot reach the internal listener: ${error.message}`);
  }

  reject(reason: RelayRejectReason, detail: string, code?: ProxyErrorCode): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    clearTimeout(this.timer);
    this.timer = undefined;
    const rejection: RelayRejection = { reason, peer: this.peer, detail, bytesReceived: this.reader?.received ?? 0 };
    this.reader = undefined;
    notify(this.settings.options.onReject, code === undefined ? rejection : { ...rejection, code });
    this.client.terminate();
  }

  /** Cuts both sides at once (stop with closeActive). */
  destroy(): void {
    this.phase = Phase.Closed;
    this.client.terminate();
    this.upstream?.terminate();
  }
}

/** A throwing callback must not leave a connection half-handled. */
function notify<T>(callback: ((value: T) => void) | undefined, value: T): void {
  if (!callback) return;
  try {
    callback(value);
  } catch {
    // The caller's bug; the connection carries on.
  }
}

/** One handler set per relay; each connection's state is its socket's `data`. */
function clientHandlers(settings: RelaySettings) {
  return {
    binaryType: "uint8array" as const,
    open(socket: Socket<Connection>) {
      const connection = new Connection(settings, socket);
      socket.data = connection;
      settings.live.add(connection);
      connection.open();
    },
    data(socket: Socket<Connection>, chunk: Uint8Array) {
      socket.data.fromClient(chunk);
    },
    drain(socket: Socket<Connection>) {
      socket.data.clientDrained();
    },
    end(socket: Socket<Connection>) {
      socket.data.clientEnded();
    },
    close(socket: Socket<Connection>) {
      socket.data?.clientClose();
    },
    error() {
      // `close` follows.
    },
  };
}

const upstreamHandlers = {
  binaryType: "uint8array" as const,
  open(socket: Socket<Connection>) {
    socket.data.upstreamOpen(socket);
  },
  data(socket: Socket<Connection>, chunk: Uint8Array) {
    socket.data.fromUpstream(chunk);
  },
  drain(socket: Socket<Connection>) {
    socket.data.upstreamDrained();
  },
  end(socket: Socket<Connection>) {
    socket.data.upstreamEnded();
  },
  close(socket: Socket<Connection>) {
    socket.data.upstreamClose();
  },
  connectError(socket: Socket<Connection>, error: Error) {
    socket.data.upstreamFailed(error);
  },
  error() {
    // `close` follows.
  },
};

/** Starts listening at once; binding errors (port in use) throw from here. */
export function startProxyProtocolRelay(options: RelayOptions): ProxyProtocolRelay {
  const settings: RelaySettings = {
    options,
    registry: options.registry ?? new ClientRegistry(),
    headerTimeoutMs: options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS,
    highWater: options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES,
    readerOptions: options.maxV2HeaderBytes === undefined ? {} : { maxV2Bytes: options.maxV2HeaderBytes },
    live: new Set(),
  };
  const listener: TCPSocketListener<Connection> = Bun.listen<Connection>({
    hostname: options.hostname,
    port: options.port,
    // Bun.listen honours reusePort (checked on Bun 1.4.5) though its types leave it out.
    ...({ reusePort: options.reusePort ?? false } as object),
    allowHalfOpen: true,
    socket: clientHandlers(settings),
  });
  return {
    hostname: listener.hostname,
    port: listener.port,
    registry: settings.registry,
    get connections() {
      return settings.live.size;
    },
    get bufferedBytes() {
      let bytes = 0;
      for (const connection of settings.live) bytes += connection.toUpstream.bytes + connection.toClient.bytes;
      return bytes;
    },
    stop(closeActive = false) {
      listener.stop(false);
      if (closeActive) for (const connection of [...settings.live]) connection.destroy();
    },
  };
}
