/**
 * The plain-HTTP edge on HTTP_PORT. Per request: API hostnames go to the API;
 * anything else is looked up in the in-memory host table, matched against the
 * proxy's routes and forwarded. Nothing here waits on Redis.
 */
import type { Server } from "bun";
import type { CidrList } from "../proxies/cidr";
import { upstreamErrorResponse, type ForwardingEngine, type WebSocketProxyData } from "../proxies";
import { disabledProxyResponse, normalizeHost, unknownHostResponse } from "./host";
import type { HostTable } from "./host-table";
import { listenOrExplain } from "./listen";
import { matchRoute } from "./routes";

export interface EdgeOptions {
  readonly hostname: string;
  readonly port: number;
  readonly apiHostnames: readonly string[];
  readonly api: { fetch(request: Request): Response | Promise<Response> };
  /** The current host table; read once per request so a swap never splits one. */
  readonly table: () => HostTable;
  readonly engine: ForwardingEngine;
  readonly trustedProxies: CidrList;
  /** Seconds an idle client connection stays open (CLIENT_IDLE_TIMEOUT). */
  readonly idleTimeoutSeconds: number;
}

/** The path of an absolute request URL, without parsing it into a URL object. */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

export function startHttpEdge(options: EdgeOptions): Server<WebSocketProxyData> {
  const apiHosts = new Set(options.apiHostnames);
  const { engine, trustedProxies } = options;
  return listenOrExplain("HTTP_PORT", () =>
    Bun.serve<WebSocketProxyData>({
      hostname: options.hostname,
      port: options.port,
      idleTimeout: options.idleTimeoutSeconds,
      // Bodies stream through to backends, which set their own limits; Bun's default caps them at 128 MiB.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      websocket: engine.websocket,
      fetch(request, server) {
        const host = normalizeHost(request.headers.get("host"));
        if (apiHosts.has(host)) return options.api.fetch(request);
        const entry = options.table().lookup(host);
        if (!entry || !entry.enableHttp) return unknownHostResponse(host);
        if (!entry.enabled) return disabledProxyResponse(host);

        const route = entry.routes.length > 0 ? matchRoute(entry.routes, request.method, pathOf(request.url)) : undefined;
        const target = route ? route.target : entry.target;
        if (!target) return upstreamErrorResponse("unreachable", request.headers.get("accept"));

        const clientIp = server.requestIP(request)?.address ?? "";
        const context = { clientIp, proto: "http" as const, trustedPeer: trustedProxies.contains(clientIp) };
        if (engine.isWebSocketUpgrade(request)) return engine.upgradeWebSocket(request, server, target, context);
        return engine.forward(request, target, context).then((response) => {
          // An event stream may be quiet for longer than the idle timeout and must stay open.
          if (response.headers.get("content-type")?.startsWith("text/event-stream")) server.timeout(request, 0);
          return response;
        });
      },
    }),
  );
}
