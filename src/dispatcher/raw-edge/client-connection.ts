/**
 * One client connection of the raw edge (Bun.listen): requests are parsed
 * from the bytes by the strict request-head parser and answered one at a time,
 * in order, by the fast lane; pipelined requests wait in the buffer for their
 * turn; a WebSocket handshake it takes becomes a tunnel to the backend. The
 * first request the fast lane does not take (an API call, an auth refusal, a
 * chunked upload…) and everything after it on this connection are relayed as
 * bytes to the internal Bun.serve, which dispatches them as every other
 * listener does; the client's address goes with them (InternalClients).
 */
import type { Socket } from "bun";
import { Outbox } from "../../../native-tls/relay/outbox";
import { findHeadEnd } from "../../proxies/http1/response-head";
import { isRefusal, MAX_REQUEST_HEAD_BYTES, type RequestHead, type RequestHeadRefusal } from "../http1/request-head";
import { refusalResponse } from "./refusal";
import { writeResponse } from "./response-writer";
import type { InternalClients } from "./internal-clients";
// HIGH_WATER: bytes queued toward a socket beyond which the other side stops being read (the PROXY protocol relay's mark).
import { DEFAULT_HIGH_WATER_BYTES as HIGH_WATER, ProxyHeaderReader, type RelayedClient, type RelayRejection, type RelayRejectReason } from "../../../native-tls/relay";
import type { ProxyErrorCode } from "../../../native-tls/proxy-protocol";
import type { CidrList } from "../../proxies/cidr";
import type { FastForward } from "./fast-lane";
import { InternalRelay } from "./internal-relay";
import { UpstreamHeaderLines } from "./upstream-header-lines";
import { RepeatedHeads } from "./repeated-heads";
import { LastAllowed } from "./last-allowed";
import { RememberedToken } from "../../auth/edge/edge-tokens";
import type { WebSocketTunnel } from "./websocket-tunnel";

/** Bodies up to this size (Content-Length) are read whole by the fast lane; larger ones are relayed. */
const FAST_LANE_MAX_BODY = 64 * 1024;

export interface FastLane {
  /**
   * How the fast lane would forward this request, or null (decided without
   * side effects, at once or after a first-seen token is verified): the
   * connection then relays this request and the rest to the internal listener.
   */
  decide(head: RequestHead, connection: ClientConnection): FastForward | null | Promise<FastForward | null>;
  /** Forwards and answers through `connection`, which hears `answered` when done. */
  forward(plan: FastForward, body: Buffer | undefined, connection: ClientConnection): void;
  /** A WebSocket handshake: sent to the backend with `early` (bytes the client sent after it), then joined to it. */
  tunnel(plan: FastForward, early: Uint8Array | undefined, connection: ClientConnection): WebSocketTunnel;
}

/** A listener that requires a PROXY protocol header (v1 or v2) before the first request. */
export interface ProxyHeaderSettings {
  /** Peers allowed to send one (PROXY_PROTOCOL_TRUSTED_CIDRS); others are closed at once. */
  readonly trusted: CidrList;
  /** Time allowed for the whole header (PROXY_PROTOCOL_TIMEOUT). */
  readonly headerTimeoutMs: number;
  /** Each refused connection, for the log. */
  readonly onReject: (rejection: RelayRejection) => void;
  /** Each accepted header (the spec's Redis side channel). */
  readonly onClient?: (client: RelayedClient, connection: ClientConnection) => void;
}

export interface ConnectionSettings {
  readonly lane: FastLane;
  /** TRUSTED_PROXY_CIDRS: clients whose X-Forwarded-* headers are extended, not replaced. */
  readonly trustedProxies: CidrList;
  readonly proxyHeader?: ProxyHeaderSettings;
  readonly idleTimeoutSeconds: number;
  readonly internalPort: number;
  readonly internalClients: InternalClients;
  /** Answer with Connection: close from now on (shutdown's drain); `onRequest` hears of each request. */
  draining: { readonly onRequest: () => void } | undefined;
  readonly live: Set<ClientConnection>;
}

const enum Mode {
  /** Reading the PROXY protocol header; nothing else is read yet. */
  ProxyHeader,
  Fast,
  Relay,
  /** Joined to a backend WebSocket connection. */
  Tunnel,
  Closed,
}

export class ClientConnection {
  private mode: Mode;
  private buffer: Buffer | undefined;
  /** A request is being answered by the fast lane; later bytes wait in `buffer`. */
  private busy = false;
  private readonly toClient = new Outbox();
  private endAfterFlush = false;
  /** Answers wait in the outbox: the next request is taken once the client has read them. */
  private nextAfterDrain = false;
  /**
   * An event stream turned the idle timeout off. Otherwise it stays armed
   * while a request is at the backend, as Bun.serve's does (any byte either
   * way restarts it), which spares two calls per request.
   */
  private quietAllowed = false;
  /** The client sent FIN: nothing more will arrive. */
  private clientEnded = false;
  private drained: (() => void) | undefined;
  private relay: InternalRelay | undefined;
  private tunnel: WebSocketTunnel | undefined;
  private headerReader: ProxyHeaderReader | undefined;
  private headerTimer: ReturnType<typeof setTimeout> | undefined;
  /** The client's address: the TCP peer's, or the PROXY protocol header's. */
  address: string;
  /** The client is in TRUSTED_PROXY_CIDRS (decided once per connection). */
  trustedPeer: boolean;
  /** The header lines its last request went upstream with, reused while its headers stay the same. */
  readonly upstreamHeaders = new UpstreamHeaderLines();
  /** The token its last request presented, found again without hashing it (edge-tokens.ts). */
  readonly rememberedToken = new RememberedToken();
  /** Its last head: the next one with the same header block shares its parse, and its headers' lookups. */
  readonly heads = new RepeatedHeads();
  /** What edge auth allowed it last: the same request again is allowed the same way while its token is admitted. */
  readonly lastAllowed = new LastAllowed();

  constructor(
    readonly socket: Socket<ClientConnection>,
    readonly settings: ConnectionSettings,
  ) {
    this.address = socket.remoteAddress;
    this.trustedPeer = settings.trustedProxies.contains(this.address);
    this.mode = settings.proxyHeader ? Mode.ProxyHeader : Mode.Fast;
  }

  /** Called once the connection is the socket's data: a PROXY protocol listener checks the peer and starts the header's clock. */
  start(): void {
    const proxyHeader = this.settings.proxyHeader;
    if (!proxyHeader) return;
    const socket = this.socket;
    const peer = { address: this.address, port: socket.remotePort };
    if (!proxyHeader.trusted.contains(peer.address)) {
      this.rejectHeader("untrusted_source", "the peer is not in the trusted ranges for PROXY protocol headers");
      return;
    }
    this.headerReader = new ProxyHeaderReader(peer);
    this.headerTimer = setTimeout(
      () => this.rejectHeader("header_timeout", `no complete PROXY protocol header within ${proxyHeader.headerTimeoutMs} ms`),
      proxyHeader.headerTimeoutMs,
    );
  }

  /** The PROXY protocol header names the client; what follows it is HTTP. */
  private readHeader(chunk: Buffer): void {
    const result = this.headerReader!.push(chunk);
    if (result.kind === "incomplete") return;
    if (result.kind === "error") return this.rejectHeader("malformed_header", result.message, result.code);
    this.headerReader = undefined;
    clearTimeout(this.headerTimer);
    this.headerTimer = undefined;
    this.address = result.client.address;
    this.trustedPeer = this.settings.trustedProxies.contains(this.address);
    this.mode = Mode.Fast;
    this.settings.proxyHeader!.onClient?.(result.client, this);
    if (result.rest.length > 0) this.onData(Buffer.from(result.rest.buffer, result.rest.byteOffset, result.rest.length));
  }

  private rejectHeader(reason: RelayRejectReason, detail: string, code?: ProxyErrorCode): void {
    if (this.mode !== Mode.ProxyHeader) return;
    clearTimeout(this.headerTimer);
    this.headerTimer = undefined;
    const rejection: RelayRejection = { reason, peer: { address: this.socket.remoteAddress, port: this.socket.remotePort }, detail, bytesReceived: this.headerReader?.received ?? 0 };
    this.headerReader = undefined;
    this.mode = Mode.Closed;
    try {
      this.settings.proxyHeader!.onReject(code === undefined ? rejection : { ...rejection, code });
    } catch {
      // The logger's fault; the connection is closed all the same.
    }
    this.socket.terminate();
  }

  get draining(): boolean {
    return this.settings.draining !== undefined;
  }

  onData(chunk: Buffer): void {
    if (this.mode === Mode.Relay) return this.relay!.fromClient(chunk);
    if (this.mode === Mode.Tunnel) return this.tunnel!.fromClient(chunk);
    if (this.mode === Mode.ProxyHeader) return this.readHeader(chunk);
    if (this.mode === Mode.Closed) return;
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk;
    if (!this.busy && !this.nextAfterDrain) this.next();
    // A client pipelining far ahead waits until its earlier requests are answered (and read).
    else if (this.buffer.length > HIGH_WATER) this.socket.pause();
  }

  /** Takes the next complete request off the buffer, if there is one. */
  private next(): void {
    const bytes = this.buffer;
    if (!bytes || this.mode !== Mode.Fast) return;
    const end = findHeadEnd(bytes, 0);
    if (end < 0) {
      if (bytes.length > MAX_REQUEST_HEAD_BYTES + 4) this.refuse({ status: 431, reason: "request head too large" });
      return;
    }
    const head = this.heads.parse(bytes, end);
    if (isRefusal(head)) return this.refuse(head);
    const framing = head.framing;
    if (head.upgrade !== undefined) return framing.kind === "none" ? this.upgrade(head, bytes, end) : this.startRelay(bytes);
    // What the fast lane leaves to Bun.serve is known from the head alone: no point waiting for a body.
    if (framing.kind === "chunked" || (framing.kind === "length" && framing.length > FAST_LANE_MAX_BODY)) return this.startRelay(bytes);
    const length = framing.kind === "length" ? framing.length : 0;
    if (bytes.length < end + length) {
      // Expect: 100-continue is Bun.serve's to answer; the client would wait for it before sending the body.
      if (hasExpect(head)) this.startRelay(bytes);
      return;
    }
    const consumed = end + length;
    const body = length === 0 ? undefined : bytes.subarray(end, consumed);
    this.take(head, bytes, (plan) => {
      this.consume(consumed);
      this.settings.lane.forward(plan, body, this);
    });
  }

  /**
   * Asks the fast lane about the request at the start of the buffer: `go`
   * when it takes it (at once, or once a first-seen token is verified), else
   * the connection goes to Bun.serve from this request on.
   */
  private take(head: RequestHead, bytes: Buffer, go: (plan: FastForward) => void): void {
    const plan = this.settings.lane.decide(head, this);
    if (plan === null) return this.startRelay(bytes);
    this.busy = true;
    this.settings.draining?.onRequest();
    if (!(plan instanceof Promise)) return go(plan);
    // Bytes that arrive meanwhile are appended to the buffer, which still starts with this request.
    plan.then(
      (decided) => {
        if (this.mode !== Mode.Fast) return;
        if (decided !== null) return go(decided);
        this.busy = false;
        this.startRelay(this.buffer!);
      },
      () => this.close(),
    );
  }

  /** A WebSocket handshake the fast lane takes is tunnelled to the backend; one it does not goes to Bun.serve. */
  private upgrade(head: RequestHead, bytes: Buffer, end: number): void {
    this.take(head, bytes, (plan) => {
      // Whatever came after the handshake (a client that did not wait for the 101) follows it.
      const early = this.buffer!.length > end ? this.buffer!.subarray(end) : undefined;
      this.buffer = undefined;
      this.mode = Mode.Tunnel;
      this.tunnel = this.settings.lane.tunnel(plan, early, this);
    });
  }

  /** The backend accepted the WebSocket: from now on it is not a request in flight (drain does not wait for it), nor an idle HTTP connection. */
  tunnelOpened(): void {
    this.busy = false;
    // CLIENT_IDLE_TIMEOUT is for HTTP: a quiet WebSocket stays open, as on Bun.serve (whose WebSockets ping instead).
    this.socket.timeout(0);
  }

  /** The backend's side of the WebSocket closed: the client's closes once what is queued for it is out. */
  endTunnel(): void {
    this.busy = false;
    this.end();
  }

  /** Drops the first `count` bytes of the buffer (the request being answered). */
  private consume(count: number): void {
    const bytes = this.buffer!;
    this.buffer = bytes.length > count ? bytes.subarray(count) : undefined;
  }

  /** Writes bytes of the current answer; false once the client is behind (wait for `writable`). */
  write(bytes: Uint8Array): boolean {
    if (this.mode === Mode.Closed && !this.endAfterFlush) return false;
    this.toClient.write(this.socket, bytes);
    return this.toClient.bytes <= HIGH_WATER;
  }

  /** Resolves once the client has taken what was written (or is gone). */
  writable(): Promise<void> {
    if (this.toClient.bytes <= HIGH_WATER || this.mode === Mode.Closed) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  /** The current answer is complete; `keepAlive` false closes the connection once it is out. */
  answered(keepAlive: boolean): void {
    this.busy = false;
    if (this.mode === Mode.Closed) return;
    if (!keepAlive || this.draining) return this.end();
    if (this.quietAllowed) {
      this.quietAllowed = false;
      this.socket.timeout(this.settings.idleTimeoutSeconds);
    }
    // A client that pipelines without reading its answers gets the next one only once it has taken these.
    if (this.toClient.bytes > HIGH_WATER) {
      this.nextAfterDrain = true;
      return;
    }
    this.resumeReading();
  }

  private resumeReading(): void {
    this.socket.resume();
    this.next();
    if (this.clientEnded && !this.busy && this.mode === Mode.Fast) this.end();
  }

  /** An answer broke off (the backend failed mid-body): the client must see the connection end, not a short body. */
  abort(): void {
    this.busy = false;
    this.close();
  }

  /** No idle timeout while an event stream is quiet. */
  keepOpenWhileQuiet(): void {
    this.quietAllowed = true;
    this.socket.timeout(0);
  }

  onDrain(): void {
    if (!this.toClient.flush(this.socket)) return;
    if (this.endAfterFlush) return void this.socket.end();
    this.relay?.clientDrained();
    this.tunnel?.clientDrained();
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
    if (this.nextAfterDrain) {
      this.nextAfterDrain = false;
      if (this.mode === Mode.Fast && !this.busy) this.resumeReading();
    }
  }

  /** The internal listener closed the relayed connection: the client's closes once what is queued for it is out. */
  endRelayed(): void {
    this.end();
  }

  /** The gateway is shutting down: an idle connection closes now, a busy one after its answer. */
  closeIfIdle(): void {
    if (this.mode === Mode.Fast && !this.busy) this.end();
  }

  private end(): void {
    this.mode = Mode.Closed;
    if (this.toClient.empty) this.socket.end();
    else this.endAfterFlush = true;
  }

  private refuse(refusal: RequestHeadRefusal): void {
    this.busy = true;
    this.socket.pause();
    void writeResponse(this, refusalResponse(refusal), false);
  }

  /** From here on the connection is a byte pipe to the internal listener, starting with `pending`. */
  private startRelay(pending: Buffer): void {
    this.mode = Mode.Relay;
    this.buffer = undefined;
    this.socket.timeout(0);
    this.relay = new InternalRelay(this, pending);
  }

  onEnd(): void {
    if (this.mode === Mode.Relay) return this.relay!.clientEnded();
    if (this.mode === Mode.Tunnel) {
      this.tunnel!.close();
      return this.endTunnel();
    }
    if (this.mode === Mode.ProxyHeader) return this.rejectHeader("closed_before_header", "the peer closed the connection before its PROXY protocol header was complete");
    // Half-closed after its last request: what is complete is answered, then the connection closes.
    this.clientEnded = true;
    if (!this.busy) this.end();
  }

  onClose(): void {
    if (this.mode === Mode.ProxyHeader) this.rejectHeader("closed_before_header", "the peer closed the connection before its PROXY protocol header was complete");
    const wasRelay = this.mode === Mode.Relay;
    this.mode = Mode.Closed;
    this.tunnel?.clientClosed();
    this.toClient.clear();
    this.settings.live.delete(this);
    if (wasRelay) this.relay!.clientClosed();
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }

  /** A request on this connection is being answered by the fast lane. */
  get active(): boolean {
    return this.busy;
  }

  /** True once the client has gone (the fast lane drops its backend request). */
  get gone(): boolean {
    return this.mode === Mode.Closed && !this.endAfterFlush;
  }

  /** Cuts the connection at once (shutdown's last step). */
  close(): void {
    this.mode = Mode.Closed;
    this.socket.terminate();
    this.relay?.close();
    this.tunnel?.close();
  }
}

function hasExpect(head: RequestHead): boolean {
  return /(?:^|\r\n)expect:/i.test(head.text);
}
