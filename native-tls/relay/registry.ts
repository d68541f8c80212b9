/**
 * Who is behind each relayed connection, for the internal listener the relay
 * feeds. That listener sees only the relay as its peer; the peer's port is the
 * relay's local port for that one upstream connection, so it identifies the
 * client while the connection lasts. Lookups are synchronous map reads: the
 * request path never waits for anything.
 */

export interface RelayEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface RelayedClient extends RelayEndpoint {
  /** The relay's real TCP peer: the load balancer that sent the PROXY header. */
  readonly proxy: RelayEndpoint;
  /** PROXY protocol version of the header. */
  readonly version: 1 | 2;
}

export class ClientRegistry {
  private readonly byPort = new Map<number, RelayedClient>();

  /** The client behind the upstream connection whose local (source) port is `port`. */
  lookup(port: number): RelayedClient | undefined {
    return this.byPort.get(port);
  }

  get size(): number {
    return this.byPort.size;
  }

  /** @internal The relay registers a connection before it forwards any byte on it. */
  add(port: number, client: RelayedClient): void {
    this.byPort.set(port, client);
  }

  /**
   * @internal Removes the entry, unless the port already belongs to a newer
   * connection (the kernel may hand a freed port out again at once).
   */
  remove(port: number, client: RelayedClient): void {
    if (this.byPort.get(port) === client) this.byPort.delete(port);
  }
}
