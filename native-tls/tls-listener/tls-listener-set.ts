/**
 * A TLS listener whose certificates change without dropping a connection or a
 * request.
 *
 * Bun.serve cannot change the certificates of a running server, and stopping
 * one closes its idle keep-alive connections, so a client that sends its next
 * request at that moment sees it fail. Here the public port belongs to a raw
 * TCP front (Bun.listen) that never changes: it peeks at each connection's
 * ClientHello and relays the bytes to the current internal TLS server (a
 * Bun.serve on a loopback port, holding every certificate, SNI-selected). A
 * certificate change starts a new internal server for new connections; open
 * connections stay on the server that accepted them, which is stopped once the
 * last of them closes. The cost is one user-space copy per byte.
 *
 * The internal servers see the front as their peer; `clientAddress` maps a
 * request back to the real client by the relay connection's local port.
 */
import type { Server, Socket, TCPSocketListener } from "bun";
import { answerWithConnectionClose } from "../drain";
import { parseClientHello } from "../tls/client-hello";
import { bunTlsOptions, type TlsCertificates, type TlsListener, type TlsListenerBaseOptions } from "./tls-config";
import { RelayDirection } from "./relay-direction";

export interface TlsListenerOptions<WS> extends TlsListenerBaseOptions<WS> {
  /** A client that has not sent its whole ClientHello by then is disconnected. */
  readonly helloTimeoutSeconds?: number;
}

const INTERNAL_HOST = "127.0.0.1";
const DEFAULT_HELLO_TIMEOUT_SECONDS = 10;
const EMPTY = new Uint8Array(0);
const PLAIN_HTTP_REPLY =
  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 36\r\n\r\n" +
  "This port expects HTTPS, not HTTP.\r\n";

/** One internal TLS server and the relayed connections it holds. */
interface Generation<WS> {
  readonly server: Server<WS>;
  /** Relay connections opened or opening to this server. */
  connections: number;
  /** The relay connection's local port → that connection (and so the client's address). */
  readonly clients: Map<number, UpstreamState<WS>>;
  retired: boolean;
}

interface ClientState<WS> {
  phase: "hello" | "connecting" | "relaying" | "closed";
  /** Bytes read before the relay connection was open. */
  buffered: Uint8Array;
  upstream?: Socket<UpstreamState<WS>>;
  toUpstream?: RelayDirection;
  toClient?: RelayDirection;
}

interface UpstreamState<WS> {
  readonly client: Socket<ClientState<WS>>;
  readonly clientAddress: string;
  localPort?: number;
  released: boolean;
}

export class TlsListenerSet<WS> implements TlsListener<WS> {
  private readonly generations = new Map<number, Generation<WS>>();
  private current: Generation<WS>;
  private readonly front: TCPSocketListener<ClientState<WS>>;
  private stopping = false;

  /** Binds the public port; throws as Bun.serve/Bun.listen do when it cannot (port in use, bad certificate). */
  constructor(
    private readonly options: TlsListenerOptions<WS>,
    certificates: TlsCertificates,
  ) {
    this.current = this.startGeneration(certificates);
    try {
      this.front = this.listen();
    } catch (err) {
      this.current.server.stop(true);
      throw err;
    }
  }

  get port(): number {
    return this.front.port;
  }

  /** Internal servers running: the current one plus retired ones still holding connections. */
  get generationCount(): number {
    return this.generations.size;
  }

  /** Never: the front sends every new connection to the current server. */
  readonly draining = false;

  /**
   * New connections get these certificates from now on; open ones keep theirs.
   * Throws (and keeps the previous certificates) if Bun refuses the set.
   */
  setCertificates(certificates: TlsCertificates): void {
    if (this.stopping) return;
    const next = this.startGeneration(certificates);
    const previous = this.current;
    this.current = next;
    previous.retired = true;
    this.stopIfIdle(previous);
  }

  /** The client's address for a request received by one of the internal servers. */
  clientAddress(request: Request, server: Server<WS>): string {
    const peer = server.requestIP(request);
    if (!peer) return "";
    return this.generations.get(server.port!)?.clients.get(peer.port)?.clientAddress ?? peer.address;
  }

  get pendingRequests(): number {
    let pending = 0;
    for (const generation of this.generations.values()) pending += generation.server.pendingRequests;
    return pending;
  }

  /** Every internal server answers with Connection: close from now on; the front keeps accepting until stop(). */
  drain(onRequest?: () => void): void {
    this.stopping = true;
    for (const generation of this.generations.values()) answerWithConnectionClose(generation.server, this.options.http, onRequest);
  }

  /**
   * Stops accepting. Gracefully (the default): requests in flight finish and
   * idle connections close, as Bun.serve's stop(false) does; `true` cuts all.
   */
  async stop(closeActiveConnections = false): Promise<void> {
    this.stopping = true;
    this.front.stop(closeActiveConnections);
    await Promise.all([...this.generations.values()].map((g) => g.server.stop(closeActiveConnections)));
    if (closeActiveConnections) this.generations.clear();
  }

  private startGeneration(certificates: TlsCertificates): Generation<WS> {
    const { http } = this.options;
    const server = Bun.serve<WS>({
      hostname: INTERNAL_HOST,
      port: 0,
      tls: bunTlsOptions(certificates),
      idleTimeout: http.idleTimeout,
      maxRequestBodySize: http.maxRequestBodySize,
      websocket: http.websocket,
      fetch: http.fetch,
      development: false,
      error: http.error,
    });
    const generation: Generation<WS> = { server, connections: 0, clients: new Map(), retired: false };
    this.generations.set(server.port!, generation);
    return generation;
  }

  private stopIfIdle(generation: Generation<WS>): void {
    if (!generation.retired || generation.connections > 0) return;
    this.generations.delete(generation.server.port!);
    void generation.server.stop(true);
  }

  private listen(): TCPSocketListener<ClientState<WS>> {
    const helloTimeout = this.options.helloTimeoutSeconds ?? DEFAULT_HELLO_TIMEOUT_SECONDS;
    return Bun.listen<ClientState<WS>>({
      hostname: this.options.hostname,
      port: this.options.port,
      // Bun.listen honours reusePort (checked on Bun 1.4.5) though its types leave it out.
      ...({ reusePort: this.options.reusePort ?? false } as object),
      socket: {
        open: (client) => {
          client.data = { phase: "hello", buffered: EMPTY };
          client.timeout(helloTimeout);
        },
        data: (client, chunk) => {
          const state = client.data;
          if (state.phase === "relaying") state.toUpstream!.push(chunk);
          else if (state.phase === "connecting") state.buffered = concat(state.buffered, chunk);
          else if (state.phase === "hello") this.readHello(client, chunk);
        },
        drain: (client) => client.data.toClient?.drain(),
        timeout: (client) => {
          if (client.data.phase !== "relaying") client.terminate();
        },
        close: (client) => {
          const state = client.data;
          state.phase = "closed";
          state.toUpstream?.end();
        },
        error: () => {},
      },
    });
  }

  private readHello(client: Socket<ClientState<WS>>, chunk: Uint8Array): void {
    const state = client.data;
    state.buffered = concat(state.buffered, chunk);
    const hello = parseClientHello(state.buffered);
    if (hello.kind === "incomplete") return;
    if (hello.kind === "error") {
      if (hello.code === "not_tls" && looksLikeHttp(state.buffered)) client.end(PLAIN_HTTP_REPLY);
      else client.terminate();
      return;
    }
    state.phase = "connecting";
    this.connectUpstream(client);
  }

  private connectUpstream(client: Socket<ClientState<WS>>): void {
    const generation = this.current;
    generation.connections++;
    const release = (upstream: UpstreamState<WS>) => {
      if (upstream.released) return;
      upstream.released = true;
      // The kernel may already have handed the port to a newer connection.
      if (upstream.localPort !== undefined && generation.clients.get(upstream.localPort) === upstream) generation.clients.delete(upstream.localPort);
      generation.connections--;
      this.stopIfIdle(generation);
    };
    const clientAddress = this.options.identifyClient?.(client.remoteAddress, client.remotePort) ?? client.remoteAddress;
    const data: UpstreamState<WS> = { client, clientAddress, released: false };
    Bun.connect<UpstreamState<WS>>({
      hostname: INTERNAL_HOST,
      port: generation.server.port!,
      data,
      socket: {
        open: (upstream) => {
          const state = client.data;
          if (state.phase === "closed") {
            upstream.end();
            return;
          }
          // Recorded before the ClientHello goes out, so it is there before any request can arrive.
          upstream.data.localPort = upstream.localPort;
          generation.clients.set(upstream.localPort, upstream.data);
          state.upstream = upstream;
          state.toUpstream = new RelayDirection(client, upstream);
          state.toClient = new RelayDirection(upstream, client);
          state.phase = "relaying";
          client.timeout(0);
          const buffered = state.buffered;
          state.buffered = EMPTY;
          state.toUpstream.push(buffered);
        },
        data: (_upstream, chunk) => client.data.toClient?.push(chunk),
        drain: () => client.data.toUpstream?.drain(),
        close: (upstream) => {
          release(upstream.data);
          if (client.data.toClient) client.data.toClient.end();
          else client.end();
        },
        connectError: (upstream) => {
          release(upstream.data);
          client.terminate();
        },
        error: () => {},
      },
    }).catch(() => {
      release(data);
      client.terminate();
    });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** An HTTP method's first letters: a plain-HTTP client on the HTTPS port gets a readable answer. */
function looksLikeHttp(bytes: Uint8Array): boolean {
  const first = bytes[0];
  return first !== undefined && first >= 0x41 && first <= 0x5a;
}
