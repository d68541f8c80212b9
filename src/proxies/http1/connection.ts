/**
 * One TCP (or TLS) connection to a backend, owned either by its pool (idle) or
 * by the one exchange using it. Bun's client sockets do not buffer writes, so
 * unwritten bytes are queued here and flushed on `drain`.
 */
import type { Socket, SocketHandler } from "bun";
import type { Expirable } from "./deadlines";

/** The exchange currently using a connection. */
export interface ConnectionUser {
  onData(chunk: Buffer): void;
  onWritable(): void;
  onClose(): void;
  /** The response head did not arrive within the request timeout. */
  onTimeout(): void;
  /** A periodic look while the response head is awaited. */
  onPoll(): void;
}

export interface ConnectionOwner {
  /** Called once when the connection has closed, idle or not. */
  closed(connection: BackendConnection): void;
}

export class BackendConnection implements Expirable {
  /**
   * When the current request's response head is due, or (idle in the pool)
   * when the connection is closed as unused; 0 for neither. See Deadlines.
   */
  deadline = 0;
  socket: Socket<BackendConnection> | undefined;
  user: ConnectionUser | undefined;
  /** Requests started on this connection: above 1 it was reused from the pool. */
  uses = 0;
  closed = false;
  /** While connecting: told whether the connection became usable (TLS handshake verified, or closed first). */
  connecting: ((ok: boolean) => void) | undefined;
  private queue: Uint8Array[] = [];

  constructor(readonly owner: ConnectionOwner) {}

  /**
   * Writes or queues `data`; true when everything has reached the socket. A
   * string must be ASCII (its length is its byte count): writing it directly
   * spares a Buffer per request.
   */
  write(data: Uint8Array | string): boolean {
    if (this.closed || !this.socket) return false;
    if (this.queue.length > 0) {
      this.queue.push(typeof data === "string" ? Buffer.from(data, "latin1") : data);
      return false;
    }
    const written = this.socket.write(data);
    if (written === data.length) return true;
    if (written < 0) return false;
    this.queue.push(typeof data === "string" ? Buffer.from(data.slice(written), "latin1") : data.subarray(written));
    return false;
  }

  get flushed(): boolean {
    return this.queue.length === 0;
  }

  flush(): void {
    const socket = this.socket;
    while (socket && this.queue.length > 0) {
      const head = this.queue[0]!;
      const written = socket.write(head);
      if (written < 0) return;
      if (written < head.length) {
        this.queue[0] = head.subarray(written);
        return;
      }
      this.queue.shift();
    }
    this.user?.onWritable();
  }

  private paused = false;

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket?.resume();
  }

  /** Drops the connection at once (RST): used for anything that leaves it in an unknown state. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.socket?.terminate();
  }

  expire(): void {
    if (this.user) this.user.onTimeout();
    else this.destroy();
  }

  poll(): void {
    this.user?.onPoll();
  }

  handleClose(): void {
    this.closed = true;
    this.queue = [];
    this.deadline = 0;
    this.connecting?.(false);
    this.owner.closed(this);
    const user = this.user;
    this.user = undefined;
    user?.onClose();
  }
}

export const socketHandlers: SocketHandler<BackendConnection> = {
  binaryType: "buffer",
  data(socket, chunk) {
    const user = socket.data.user;
    // Bytes on an idle connection belong to no request: the connection is unusable.
    if (user) user.onData(chunk);
    else socket.data.destroy();
  },
  drain(socket) {
    socket.data.flush();
  },
  handshake(socket, success) {
    // Bun closes a connection whose certificate does not verify; `close` then reports it.
    socket.data.socket = socket;
    if (success) socket.data.connecting?.(true);
    else socket.data.destroy();
  },
  end(socket) {
    // The backend half-closed: nothing more will arrive. Finish closing our side too.
    socket.end();
  },
  close(socket) {
    socket.data.handleClose();
  },
  error() {
    // `close` follows; the error text could name the backend, so it is not kept.
  },
};
