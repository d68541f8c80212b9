/**
 * Listeners that require a PROXY protocol header (PROXY_PROTOCOL_PORT, and
 * HTTP_PORT / HTTPS_PORT behind a load balancer): a relay from native-tls
 * strips the header and pipes the connection to an internal loopback
 * listener, which takes the client's address from the relay's registry, so it
 * is the client IP everywhere (X-Real-IP, X-Forwarded-For, trust checks).
 *
 * The spec's Redis side channel `proxy:client:{server_port}:{client_port}` is
 * written for each relayed connection without waiting for it; nothing reads it
 * on the request path.
 */
import type { Redis } from "ioredis";
import { ClientRegistry, startProxyProtocolRelay, type RelayedClient, type RelayedConnection } from "../../native-tls/relay";
import type { Logger } from "../core/logger";
import type { CidrList } from "../proxies/cidr";
import { keys } from "../storage/keys";
import { createDispatch, type DispatchOptions } from "./dispatch";
import { startInternalHttp, type EdgeOptions } from "./edge";
import { listenOrExplain } from "./listen";
import { rejectionLogger } from "./proxy-protocol-log";
import { drainableServer, type DrainableListener } from "./shutdown";

/** What every PROXY protocol listener needs besides its own addresses. */
export interface ProxyProtocolSettings {
  /** PROXY_PROTOCOL_TRUSTED_CIDRS: peers allowed to send a header; everyone else is closed. */
  readonly trusted: CidrList;
  /** Time allowed for the whole header (PROXY_PROTOCOL_TIMEOUT). */
  readonly headerTimeoutMs: number;
  readonly log: Logger;
  /** For the side channel; it is skipped while Redis is not connected. */
  readonly redis?: Redis;
  /** Share the public port with the other workers (SO_REUSEPORT). */
  readonly reusePort?: boolean;
}

export interface ProxyProtocolListener extends DrainableListener {
  /** The public port (the relay's). */
  readonly port: number;
  /** The loopback listener behind the relay. */
  readonly internalPort: number;
  readonly registry: ClientRegistry;
  /**
   * Draining is the HTTP listener's: it answers with Connection: close and the
   * relay passes its close on to the client. Stop stops accepting; with
   * `closeActive`, it also cuts open connections (as Bun's Server.stop).
   */
  stop(closeActive?: boolean): Promise<void>;
}

/** The seconds the side-channel entries live (spec: "60s TTL"). */
export const SIDE_CHANNEL_TTL_SECONDS = 60;

/**
 * `clientAddress` for a listener fed by a relay: the client from the header,
 * found by the peer port (the relay's end of that one connection). A
 * connection that did not come through the relay is its own client.
 */
export function relayedClientAddress(registry: ClientRegistry): NonNullable<DispatchOptions["clientAddress"]> {
  return (request, server) => {
    const peer = server.requestIP(request);
    if (!peer) return "";
    return registry.lookup(peer.port)?.address ?? peer.address;
  };
}

/**
 * `identifyClient` for a TLS front behind a relay (the HTTPS edge with
 * HTTPS_PROXY_PROTOCOL): the client from the header, by the peer port.
 */
export function relayedClientIdentity(registry: ClientRegistry): (peerAddress: string, peerPort: number) => string {
  return (peerAddress, peerPort) => registry.lookup(peerPort)?.address ?? peerAddress;
}

/**
 * PROXY_PROTOCOL_PORT, or HTTP_PORT with HTTP_PROXY_PROTOCOL: a relay on
 * hostname:port in front of a plain-HTTP listener on 127.0.0.1 that dispatches
 * exactly like the HTTP edge.
 */
export function startProxyProtocolHttp(options: EdgeOptions & ProxyProtocolSettings & { readonly setting: string }): ProxyProtocolListener {
  const registry = new ClientRegistry();
  const dispatch = createDispatch({ ...options, clientAddress: relayedClientAddress(registry) }, "http");
  const handlers = { fetch: dispatch, websocket: options.engine.websocket };
  const internal = startInternalHttp(handlers, options.idleTimeoutSeconds);
  try {
    const relay = startRelay(options, internal.port!, registry);
    const http = drainableServer(internal, handlers);
    return {
      ...relay,
      get pendingRequests() {
        return http.pendingRequests;
      },
      drain: http.drain,
      async stop(closeActive = false) {
        await relay.stop(closeActive);
        await internal.stop(closeActive);
      },
    };
  } catch (err) {
    internal.stop(true);
    throw err;
  }
}

/**
 * HTTPS_PORT with HTTPS_PROXY_PROTOCOL: a relay on hostname:port in front of
 * the TLS listener on 127.0.0.1:upstreamPort. The relay never touches TLS: the
 * bytes after the header reach the TLS listener as the client sent them. That
 * listener learns the client from the same registry: `relayedClientIdentity`
 * for the HTTPS edge's `identifyClient`, `relayedClientAddress` for a plain
 * Bun.serve({ tls }).
 */
export function startProxyProtocolPassthrough(
  options: ProxyProtocolSettings & {
    readonly hostname: string;
    readonly port: number;
    readonly upstreamPort: number;
    readonly setting: string;
    readonly registry: ClientRegistry;
  },
): ProxyProtocolListener {
  return startRelay(options, options.upstreamPort, options.registry);
}

function startRelay(
  options: ProxyProtocolSettings & { readonly hostname: string; readonly port: number; readonly setting: string },
  upstreamPort: number,
  registry: ClientRegistry,
): ProxyProtocolListener {
  const { redis, trusted } = options;
  const relay = listenOrExplain(options.setting, () =>
    startProxyProtocolRelay({
      hostname: options.hostname,
      port: options.port,
      reusePort: options.reusePort,
      upstream: { hostname: "127.0.0.1", port: upstreamPort },
      isTrusted: (address) => trusted.contains(address),
      headerTimeoutMs: options.headerTimeoutMs,
      registry,
      onReject: rejectionLogger(options.log, options.setting),
      onRelay: redis ? (connection) => writeSideChannel(redis, connection) : undefined,
    }),
  );
  return {
    port: relay.port,
    internalPort: upstreamPort,
    registry,
    // The relay sees bytes, not requests: the listener behind it drains and counts them.
    pendingRequests: 0,
    drain() {},
    async stop(closeActive = false) {
      relay.stop(closeActive);
    },
  };
}

/**
 * The raw edge's side channel (raw-edge/listener.ts): the key names the
 * public port and the load balancer's source port of that connection, as the
 * raw edge has no internal connection for the relayed one.
 */
export function sideChannelWriter(redis: Redis, listenerPort: () => number): (client: RelayedClient, connection: { readonly socket: { readonly remotePort: number } }) => void {
  return (client, connection) => writeSideChannelEntry(redis, client, listenerPort(), connection.socket.remotePort);
}

function writeSideChannel(redis: Redis, connection: RelayedConnection): void {
  writeSideChannelEntry(redis, connection.client, connection.upstreamPort, connection.upstreamLocalPort);
}

/** Fire and forget: a slow or absent Redis never holds a connection back. */
function writeSideChannelEntry(redis: Redis, client: RelayedClient, serverPort: number, clientPort: number): void {
  if (redis.status !== "ready") return;
  const value = JSON.stringify({
    client_ip: client.address,
    client_port: client.port,
    proxy_ip: client.proxy.address,
    proxy_port: client.proxy.port,
    timestamp: Date.now() / 1000,
  });
  const key = keys.proxyClient(serverPort, clientPort);
  redis.set(key, value, "EX", SIDE_CHANNEL_TTL_SECONDS).catch(() => {});
}
