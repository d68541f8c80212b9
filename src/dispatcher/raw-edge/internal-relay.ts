/**
 * The part of a raw-edge connection handed to the internal Bun.serve: bytes
 * both ways between the client and a connection to that listener, each side
 * paused while the other is behind. The internal connection's local port
 * names the client there (InternalClients), so dispatch sees the client's
 * address, not the raw edge's.
 */
import type { Socket } from "bun";
import { DEFAULT_HIGH_WATER_BYTES as HIGH_WATER } from "../../../native-tls/relay";
import { Outbox } from "../../../native-tls/relay/outbox";
import type { ClientConnection } from "./client-connection";

export class InternalRelay {
  private upstream: Socket<InternalRelay> | undefined;
  private readonly toUpstream = new Outbox();
  private localPort = 0;
  private endUpstream = false;
  private upstreamClosed = false;
  private clientPaused = false;

  constructor(
    private readonly client: ClientConnection,
    pending: Buffer,
  ) {
    this.toUpstream.write(undefined, pending);
    client.socket.pause();
    this.clientPaused = true;
    const { internalPort } = client.settings;
    Bun.connect<InternalRelay>({ hostname: "127.0.0.1", port: internalPort, data: this, allowHalfOpen: true, socket: internalHandlers }).catch(() => {});
  }

  opened(socket: Socket<InternalRelay>): void {
    if (this.client.gone) return socket.terminate();
    this.upstream = socket;
    this.localPort = socket.localPort;
    this.client.settings.internalClients.add(this.localPort, this.client);
    this.upstreamDrained();
  }

  fromClient(chunk: Uint8Array): void {
    this.toUpstream.write(this.upstream, chunk);
    if (this.toUpstream.bytes > HIGH_WATER && !this.clientPaused) {
      this.clientPaused = true;
      this.client.socket.pause();
    }
  }

  fromUpstream(chunk: Uint8Array): void {
    if (!this.client.write(chunk)) this.upstream?.pause();
  }

  upstreamDrained(): void {
    const upstream = this.upstream;
    if (!upstream || !this.toUpstream.flush(upstream)) return;
    if (this.endUpstream) upstream.shutdown();
    if (this.clientPaused) {
      this.clientPaused = false;
      this.client.socket.resume();
    }
  }

  clientDrained(): void {
    if (!this.upstreamClosed) this.upstream?.resume();
  }

  clientEnded(): void {
    if (this.upstream && this.toUpstream.empty) this.upstream.shutdown();
    else this.endUpstream = true;
  }

  upstreamEnded(): void {
    this.client.endRelayed();
  }

  upstreamClose(): void {
    if (this.upstreamClosed) return;
    this.upstreamClosed = true;
    this.client.settings.internalClients.remove(this.localPort, this.client);
    this.client.endRelayed();
  }

  clientClosed(): void {
    if (!this.upstreamClosed) this.upstream?.terminate();
  }

  close(): void {
    this.upstream?.terminate();
  }
}

const internalHandlers = {
  binaryType: "buffer" as const,
  open(socket: Socket<InternalRelay>) {
    socket.data.opened(socket);
  },
  data(socket: Socket<InternalRelay>, chunk: Uint8Array) {
    socket.data.fromUpstream(chunk);
  },
  drain(socket: Socket<InternalRelay>) {
    socket.data.upstreamDrained();
  },
  end(socket: Socket<InternalRelay>) {
    socket.data.upstreamEnded();
  },
  close(socket: Socket<InternalRelay>) {
    socket.data.upstreamClose();
  },
  connectError(socket: Socket<InternalRelay>) {
    socket.data.upstreamClose();
  },
  error() {
    // `close` follows.
  },
};
