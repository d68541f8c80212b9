/**
 * The plain-HTTP edge on raw sockets (Bun.listen): the fast lane answers the
 * usual proxied request without Request or Response objects, reading the
 * client's address once per connection; the rest of a connection from the
 * first request it does not take is relayed to an internal Bun.serve on
 * 127.0.0.1 running the same dispatch as every listener.
 */
import type { Socket } from "bun";
import { createDispatch } from "../dispatch";
import { startInternalHttp, type EdgeOptions } from "../edge";
import { listenOrExplain } from "../listen";
import { drainableServer, type DrainableListener } from "../shutdown";
import { ClientConnection, type ConnectionSettings } from "./client-connection";
import { createFastLane } from "./fast-lane";
import { InternalClients } from "./internal-clients";
import { rejectionLogger } from "../proxy-protocol-log";
import { sideChannelWriter, type ProxyProtocolSettings } from "../proxy-protocol";

export interface RawEdgeOptions extends EdgeOptions {
  /** The setting that names the port, for binding errors and the PROXY protocol log (HTTP_PORT, PROXY_PROTOCOL_PORT). */
  readonly setting: string;
  /** Require a PROXY protocol header on every connection (PROXY_PROTOCOL_PORT, HTTP_PROXY_PROTOCOL). */
  readonly proxyProtocol?: ProxyProtocolSettings;
}

export function startRawHttpEdge(options: RawEdgeOptions): DrainableListener {
  const internalClients = new InternalClients();
  const dispatch = createDispatch(
    {
      ...options,
      clientAddress: (request, server) => {
        const peer = server.requestIP(request);
        if (!peer) return "";
        return internalClients.lookup(peer.port) ?? peer.address;
      },
    },
    "http",
  );
  const handlers = { fetch: dispatch, websocket: options.engine.websocket };
  const internal = startInternalHttp(handlers, options.idleTimeoutSeconds);
  const proxyProtocol = options.proxyProtocol;
  let listenerPort = 0;
  const settings: ConnectionSettings = {
    lane: createFastLane(options),
    trustedProxies: options.trustedProxies,
    proxyHeader: proxyProtocol && {
      trusted: proxyProtocol.trusted,
      headerTimeoutMs: proxyProtocol.headerTimeoutMs,
      onReject: rejectionLogger(proxyProtocol.log, options.setting),
      onClient: proxyProtocol.redis ? sideChannelWriter(proxyProtocol.redis, () => listenerPort) : undefined,
    },
    idleTimeoutSeconds: options.idleTimeoutSeconds,
    internalPort: internal.port!,
    internalClients,
    draining: undefined,
    live: new Set(),
  };
  let listener;
  try {
    listener = listenOrExplain(options.setting, () =>
      Bun.listen<ClientConnection>({
        hostname: options.hostname,
        port: options.port,
        // Bun.listen honours reusePort (checked on Bun 1.4.5) though its types leave it out.
        ...({ reusePort: options.reusePort ?? false } as object),
        allowHalfOpen: true,
        socket: {
          binaryType: "buffer",
          open(socket: Socket<ClientConnection>) {
            const connection = new ClientConnection(socket, settings);
            socket.data = connection;
            settings.live.add(connection);
            socket.setNoDelay(true);
            socket.timeout(options.idleTimeoutSeconds);
            connection.start();
          },
          data(socket, chunk: Buffer) {
            socket.data.onData(chunk);
          },
          drain(socket) {
            socket.data.onDrain();
          },
          end(socket) {
            socket.data.onEnd();
          },
          timeout(socket) {
            socket.data.close();
          },
          close(socket) {
            socket.data?.onClose();
          },
          error() {
            // `close` follows.
          },
        },
      }),
    );
  } catch (err) {
    internal.stop(true);
    throw err;
  }
  listenerPort = listener.port;
  const relayed = drainableServer(internal, handlers);
  return {
    port: listener.port,
    get pendingRequests() {
      let busy = 0;
      for (const connection of settings.live) if (connection.active) busy++;
      return busy + relayed.pendingRequests;
    },
    drain(onRequest) {
      settings.draining = { onRequest };
      relayed.drain(onRequest);
    },
    async stop(closeActive = false) {
      listener.stop(false);
      for (const connection of [...settings.live]) {
        if (closeActive) connection.close();
        else connection.closeIfIdle();
      }
      await internal.stop(closeActive);
    },
  };
}
