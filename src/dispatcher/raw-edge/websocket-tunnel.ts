/**
 * A WebSocket handshake the fast lane takes: the request goes to the backend
 * on a connection of its own, and once the backend answers 101 the two
 * connections are joined byte for byte (frames, extensions and subprotocol
 * are the client's and the backend's business, as behind nginx). Until then
 * it is an HTTP exchange: an unreachable backend is a 502 or 504 from the
 * gateway, a refusal (4xx/5xx) goes back bodiless, as the Bun.serve engine
 * answers them (proxies/websocket.ts); either way the connection then closes.
 */
import type { Socket } from "bun";
import { STATUS_CODES } from "node:http";
import { Outbox } from "../../../native-tls/relay/outbox";
import { upstreamErrorResponse, type UpstreamFailure } from "../../proxies/errors";
import type { ForwardTarget } from "../../proxies/forward-target";
import { findHeadEnd, MAX_HEAD_BYTES, parseResponseHead } from "../../proxies/http1/response-head";
import type { StreamCounts } from "../../metrics/stream-metrics";
import type { RecordDraft } from "../recording";
import type { ClientConnection } from "./client-connection";
import { DEFAULT_HIGH_WATER_BYTES as HIGH_WATER } from "../../../native-tls/relay";
import { currentDateLine } from "./date-line";
import { writeResponse } from "./response-writer";

const enum Phase {
  Connecting,
  Handshake,
  Open,
  Closed,
}

export class WebSocketTunnel {
  private phase = Phase.Connecting;
  private backend: Socket<WebSocketTunnel> | undefined;
  private readonly toBackend = new Outbox();
  private head: Buffer | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private backendPaused = false;
  private clientPaused = false;

  constructor(
    private readonly client: ClientConnection,
    target: ForwardTarget,
    private readonly draft: RecordDraft,
    private readonly accept: string | null,
    private readonly streams: StreamCounts | undefined,
    /** The handshake request, then whatever the client sent after it (its first frames, if it did not wait). */
    request: Uint8Array,
    handshakeMs: number,
    handshakeFailure: UpstreamFailure,
  ) {
    this.toBackend.write(undefined, request);
    this.timer = setTimeout(() => this.fail(handshakeFailure), handshakeMs);
    const url = target.url;
    const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === "" ? 80 : Number(url.port);
    Bun.connect<WebSocketTunnel>({ hostname, port, data: this, socket: backendHandlers }).catch(() => {});
  }

  backendOpened(socket: Socket<WebSocketTunnel>): void {
    if (this.phase !== Phase.Connecting) return socket.terminate();
    this.backend = socket;
    socket.setNoDelay(true);
    this.phase = Phase.Handshake;
    this.backendDrained();
  }

  /** Client bytes: held until the backend has accepted the handshake, then passed on. */
  fromClient(chunk: Uint8Array): void {
    if (this.phase === Phase.Closed) return;
    this.toBackend.write(this.phase === Phase.Open ? this.backend : undefined, chunk);
    if (this.toBackend.bytes > HIGH_WATER && !this.clientPaused) {
      this.clientPaused = true;
      this.client.socket.pause();
    }
  }

  fromBackend(chunk: Buffer): void {
    if (this.phase === Phase.Open) {
      if (!this.client.write(chunk) && !this.backendPaused) {
        this.backendPaused = true;
        this.backend?.pause();
      }
      return;
    }
    if (this.phase !== Phase.Handshake) return;
    const bytes = this.head ? Buffer.concat([this.head, chunk]) : chunk;
    const end = findHeadEnd(bytes, 0);
    if (end < 0) {
      if (bytes.length > MAX_HEAD_BYTES) return this.fail("invalid_response");
      this.head = bytes;
      return;
    }
    this.head = undefined;
    const head = parseResponseHead(bytes.toString("latin1", 0, end - 4), "GET");
    if (typeof head === "string") return this.fail("invalid_response");
    if (head.status !== 101) return this.refused(head.status);
    clearTimeout(this.timer);
    this.timer = undefined;
    this.phase = Phase.Open;
    let lines = "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n";
    for (const [name, value] of head.headers) lines += `${name}: ${value}\r\n`;
    lines += `${currentDateLine()}x-request-id: ${this.draft.requestId}\r\n\r\n`;
    this.client.write(Buffer.from(lines, "latin1"));
    if (end < bytes.length) this.client.write(bytes.subarray(end));
    this.draft.upstreamAnswered();
    this.draft.finish(101, 0);
    this.streams?.opened("websocket");
    this.client.tunnelOpened();
    this.backendDrained();
  }

  /** The backend took more bytes (or just connected): send what waits; in the handshake only the request goes. */
  backendDrained(): void {
    const backend = this.backend;
    if (!backend || this.phase === Phase.Closed || !this.toBackend.flush(backend)) return;
    if (this.clientPaused && this.phase === Phase.Open) {
      this.clientPaused = false;
      this.client.socket.resume();
    }
  }

  /** The client took what was queued for it. */
  clientDrained(): void {
    if (this.backendPaused) {
      this.backendPaused = false;
      this.backend?.resume();
    }
  }

  /** Either side closed: the other follows (a WebSocket has no half-open state worth keeping). */
  backendClosed(): void {
    if (this.phase === Phase.Handshake || this.phase === Phase.Connecting) return this.fail(this.phase === Phase.Connecting ? "unreachable" : "closed");
    this.close();
    this.client.endTunnel();
  }

  clientClosed(): void {
    this.close();
  }

  private refused(status: number): void {
    this.finishFailed();
    const code = status >= 400 && status <= 599 ? status : 502;
    this.draft.finish(code, 0, code === 502 ? "invalid_response" : undefined);
    const lines = `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ""}\r\n${currentDateLine()}x-request-id: ${this.draft.requestId}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`;
    this.client.write(Buffer.from(lines, "latin1"));
    this.client.answered(false);
  }

  private fail(failure: UpstreamFailure): void {
    if (this.phase === Phase.Open || this.phase === Phase.Closed) return;
    this.finishFailed();
    const response = upstreamErrorResponse(failure, this.accept, this.draft.requestId);
    this.draft.finish(response.status, 0, failure);
    void writeResponse(this.client, response, false);
  }

  private finishFailed(): void {
    this.phase = Phase.Closed;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.toBackend.clear();
    this.backend?.terminate();
  }

  close(): void {
    const wasOpen = this.phase === Phase.Open;
    this.phase = Phase.Closed;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.toBackend.clear();
    this.backend?.terminate();
    if (wasOpen) this.streams?.closed("websocket");
  }
}

const backendHandlers = {
  binaryType: "buffer" as const,
  open(socket: Socket<WebSocketTunnel>) {
    socket.data.backendOpened(socket);
  },
  data(socket: Socket<WebSocketTunnel>, chunk: Buffer) {
    socket.data.fromBackend(chunk);
  },
  drain(socket: Socket<WebSocketTunnel>) {
    socket.data.backendDrained();
  },
  close(socket: Socket<WebSocketTunnel>) {
    socket.data.backendClosed();
  },
  connectError(socket: Socket<WebSocketTunnel>) {
    socket.data.backendClosed();
  },
  error() {
    // `close` follows.
  },
};

