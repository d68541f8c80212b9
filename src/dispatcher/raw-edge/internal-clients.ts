/**
 * Who is behind each connection the raw edge relays to its internal
 * Bun.serve: that listener sees the raw edge as its peer, and the peer's port
 * (the relayed connection's local port) names the client while the
 * connection lasts. A synchronous map read on the request path.
 */
export class InternalClients {
  private readonly byPort = new Map<number, RelayedClient>();

  /** The client address behind the internal connection from `port`. */
  lookup(port: number): string | undefined {
    return this.byPort.get(port)?.address;
  }

  add(port: number, client: RelayedClient): void {
    this.byPort.set(port, client);
  }

  /** Unless the port already belongs to a newer connection (the kernel may hand a freed port out again at once). */
  remove(port: number, client: RelayedClient): void {
    if (this.byPort.get(port) === client) this.byPort.delete(port);
  }
}

/** One relayed connection's client; compared by identity. */
export interface RelayedClient {
  readonly address: string;
}
