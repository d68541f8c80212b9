/**
 * The plain-HTTP edge on raw sockets (Bun.listen): the fast lane answers the
 * usual proxied request without Request or Response objects, reading the
 * client's address once per connection; the rest of a connection from the
 * first request it does not take is relayed to an internal Bun.serve on
 * 127.0.0.1 running the same dispatch as every listener.
 */
import type { Server, Socket } from "bun";
import type { WebSocketProxyData } from "../../proxies";
import { createDispatch } from "../dispatch";
import type { EdgeOptions } from "../edge";
import { listenOrExplain, SERVE_DEFAULTS } from "../listen";
import { drainableServer, type DrainableListener } from "../shutdown";
import { ClientConnection, type ConnectionSettings } from "./client-connection";
import { createFastLane } from "./fast-lane";
import { InternalClients } from "./internal-clients";

export function startRawHttpEdge(options: EdgeOptions & { readonly setting?: string }): DrainableListener {
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
  const internal: Server<WebSocketProxyData> = Bun.serve<WebSocketProxyData>({
    ...SERVE_DEFAULTS,
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: options.idleTimeoutSeconds,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    ...handlers,
  });
  const settings: ConnectionSettings = {
    lane: createFastLane(options),
    idleTimeoutSeconds: options.idleTimeoutSeconds,
    internalPort: internal.port!,
    internalClients,
    draining: undefined,
    live: new Set(),
  };
  const { trustedProxies } = options;
  let listener;
  try {
    listener = listenOrExplain(options.setting ?? "HTTP_PORT", () =>
      Bun.listen<ClientConnection>({
        hostname: options.hostname,
        port: options.port,
        // Bun.listen honours reusePort (checked on Bun 1.4.5) though its types leave it out.
        ...({ reusePort: options.reusePort ?? false } as object),
        allowHalfOpen: true,
        socket: {
          binaryType: "buffer",
          open(socket: Socket<ClientConnection>) {
            const address = socket.remoteAddress;
            const connection = new ClientConnection(socket, settings, address, trustedProxies.contains(address));
            socket.data = connection;
            settings.live.add(connection);
            socket.setNoDelay(true);
            socket.timeout(options.idleTimeoutSeconds);
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
