/**
 * What every edge listener does with a request, whatever carried it (plain
 * HTTP, TLS, PROXY protocol): API hostnames go to the API, the auth hostnames
 * to the OAuth server; anything else is looked up in the in-memory host
 * table, matched against the proxy's routes and forwarded. Nothing here
 * waits on Redis.
 */
import type { Server } from "bun";
import type { CidrList } from "../proxies/cidr";
import { upstreamErrorResponse, type ForwardingEngine, type WebSocketProxyData } from "../proxies";
import { displayIp } from "../proxies/headers";
import { badHostResponse, disabledProxyResponse, isValidHostHeader, normalizeHost, unknownHostResponse } from "./host";
import { markOwn, OWN_RESPONSE_HEADERS } from "../core/own-response";
import { pathOf } from "../core/request-path";
import type { HostEntry, HostTable } from "./host-table";
import { afterPipelinedRequestsSeen } from "./pipelining";
import { isBuiltInOAuthRequest } from "./builtin-oauth";
import { isCorsPreflight } from "../auth/public-cors";
import { openMcpExchange, type McpExchange } from "./mcp-edge";
import type { McpSessionAffinity } from "../mcp/session-affinity";
import { matchRoute } from "./routes";
import { clientFacts, guardRequest, isGuarded, type EdgeAuthOptions, type EdgeOutcome } from "./edge-auth";
import { stampRequestId, traceRequest, type RequestTrace } from "../proxies/request-trace";
import { RecordDraft, type RecordSinks } from "./recording";
import { redactedQuery } from "../consumers/request-log/query-redaction";
import { forwardedClientIp } from "../proxies/forwarded-client";

/** An application served in this process rather than by a backend. */
export interface InProcessApp {
  fetch(request: Request): Response | Promise<Response>;
}

export interface DispatchOptions {
  /** API_HOSTNAME: hostnames served by the API; none unless the operator opts one in. */
  readonly apiHostnames: readonly string[];
  /** API_ALLOWED_CIDRS: the clients that may reach the API through this listener. */
  readonly apiAllowedCidrs: CidrList;
  readonly api: InProcessApp;
  /** The OAuth authorization server and the hostnames it owns (auth.{BASE_DOMAIN}); absent in setups without one. */
  readonly oauth?: { readonly hostnames: readonly string[]; readonly app: InProcessApp };
  /** The current host table; read once per request so a swap never splits one. */
  readonly table: () => HostTable;
  readonly engine: ForwardingEngine;
  readonly trustedProxies: CidrList;
  /**
   * The client's address. Defaults to the TCP peer; a listener behind a PROXY
   * protocol relay supplies the address from the header instead.
   */
  readonly clientAddress?: (request: Request, server: Server<WebSocketProxyData>) => string;
  /**
   * HTTP-01 answers (from Redis, so any node can answer the CA). Asked only for
   * GET /.well-known/acme-challenge/{token} on plain HTTP, for every hostname,
   * before routing: the one edge path that waits on Redis.
   */
  readonly acmeChallenges?: { answer(token: string): Promise<string | null> };
  /** Token checks, protected resource metadata and sign-in at the edge; without it no proxy authenticates. */
  readonly edgeAuth?: EdgeAuthOptions;
  /** Keeps an MCP session on the backend that holds it, on every node; without it sessions follow the current target. */
  readonly mcpSessions?: McpSessionAffinity;
  /** Where the record of every answered request goes (request log, metrics, access log); nowhere without it. */
  readonly records?: RecordSinks;
  /** Whether a publicly trusted certificate serves this host now (in memory); plain HTTP to it is then redirected. */
  readonly servesTrustedCertificate?: (host: string) => boolean;
}

export type Dispatch = (
  request: Request,
  server: Server<WebSocketProxyData>,
) => Response | undefined | Promise<Response | undefined>;

const peerAddress = (request: Request, server: Server<WebSocketProxyData>) => server.requestIP(request)?.address ?? "";

const ACME_CHALLENGE = "/.well-known/acme-challenge/";

/** A dispatcher for one listener; `proto` is how clients reach that listener. */
export function createDispatch(options: DispatchOptions, proto: "http" | "https"): Dispatch {
  const { engine, trustedProxies, apiAllowedCidrs } = options;
  const clientAddress = options.clientAddress ?? peerAddress;
  // Apps served in this process, by hostname; each gets the request with the forwarding facts set.
  const inProcess = new Map<string, (request: Request, clientIp: string, trace: RequestTrace) => Response | Promise<Response>>();
  const oauth = options.oauth;
  const serveOAuth =
    oauth &&
    ((request: Request, clientIp: string, trace: RequestTrace) =>
      then(oauth.app.fetch(withForwardedFacts(request, clientIp, proto, trustedProxies, trace)), (response) => stampRequestId(markOwn(response), trace)));
  if (oauth && serveOAuth) for (const host of oauth.hostnames) inProcess.set(host, serveOAuth);
  // The admin API on a public listener answers only the clients API_ALLOWED_CIDRS names.
  const serveApi = (request: Request, clientIp: string, trace: RequestTrace) =>
    apiAllowedCidrs.contains(clientIp)
      ? then(options.api.fetch(withForwardedFacts(request, clientIp, proto, trustedProxies, trace)), (response) => stampRequestId(response, trace))
      : stampRequestId(apiRefused(clientIp), trace);
  for (const host of options.apiHostnames) inProcess.set(host, serveApi);
  const served = proto === "http" ? "enableHttp" : "enableHttps";
  const challenges = proto === "http" ? options.acmeChallenges : undefined;
  const edgeAuth = options.edgeAuth;
  const sessions = options.mcpSessions;

  const sinks = options.records ?? NO_SINKS;
  // An MCP POST's method and tool are worth reading the body for only where a record keeps them.
  const recordsCalls = sinks.log !== undefined || sinks.accessLog !== undefined;

  const dispatch: Dispatch = (request, server) => {
    const path = pathOf(request.url);
    const clientIp = clientAddress(request, server);
    const trustedPeer = trustedProxies.contains(clientIp);
    // Every answer from here on carries the request id (X-Request-Id), the backend's and the gateway's own.
    const trace = traceRequest(request.headers, trustedPeer);
    const hostHeader = request.headers.get("host");
    const validHost = isValidHostHeader(hostHeader);
    const host = validHost ? normalizeHost(hostHeader) : "";
    // Behind trusted load balancers the record names the client they forwarded for.
    const recordedIp = trustedPeer ? forwardedClientIp(clientIp, trustedProxies, request.headers.get("x-forwarded-for")) : clientIp;
    const draft = new RecordDraft(sinks, recordedIp, request.method, host, path, trace.requestId, trace.traceId);
    const result = answer(request, server, path, clientIp, trustedPeer, trace, validHost, host, draft);
    // Past routing, whoever answers finishes the record (a streamed body only when it ends); before, it is finished here.
    if (draft.finishedDownstream) return result;
    if (result instanceof Promise) {
      return result.then((response) => {
        draft.answered(response);
        return response;
      });
    }
    draft.answered(result);
    return result;
  };

  const answer = (
    request: Request,
    server: Server<WebSocketProxyData>,
    path: string,
    clientIp: string,
    trustedPeer: boolean,
    trace: RequestTrace,
    validHost: boolean,
    host: string,
    draft: RecordDraft,
  ): Response | undefined | Promise<Response | undefined> => {
    const requestId = trace.requestId;
    const isChallenge = request.method === "GET" && path.startsWith(ACME_CHALLENGE);
    if (challenges && isChallenge) return answerChallenge(challenges, path.slice(ACME_CHALLENGE.length));
    if (!validHost) {
      draft.error = "bad_host";
      return badHostResponse(requestId, request.headers.get("accept"));
    }
    const app = inProcess.get(host);
    if (app) {
      draft.kind = app === serveApi ? "api" : "oauth";
      return app(request, clientIp, trace);
    }
    const table = options.table();
    const entry = table.lookup(host);
    if (!entry) {
      draft.error = "unknown_host";
      return unknownHostResponse(host, requestId, request.headers.get("accept"));
    }
    draft.proxy = entry.hostname;
    if (entry.logQuery) draft.query = redactedQuery(request.url);
    if (!entry[served]) {
      // HTTPS-only proxies send plain-HTTP clients to https, except ACME's HTTP-01 challenges.
      if (proto === "http" && entry.enableHttps && !isChallenge) return stampRequestId(redirectToHttps(request.url, host), trace);
      draft.error = "unknown_host";
      return unknownHostResponse(host, requestId, request.headers.get("accept"));
    }
    // Caddy's default: once clients can trust the host's certificate, plain HTTP is only a way to https.
    if (proto === "http" && entry.redirectsToHttps && !isChallenge && options.servesTrustedCertificate?.(host)) return stampRequestId(redirectToHttps(request.url, host), trace);
    if (!entry.enabled) {
      draft.error = "disabled";
      return disabledProxyResponse(host, requestId, request.headers.get("accept"));
    }

    const route = entry.routes.length > 0 ? matchRoute(entry.routes, request.method, path) : undefined;
    draft.route = route?.id;
    // A protected resource's host serves the authorization server's endpoints too (builtin-oauth.ts); a matching route wins.
    if (!route && serveOAuth && entry.protectedResource && isBuiltInOAuthRequest(request.method, path, isCorsPreflight(request))) {
      draft.kind = "oauth";
      return serveOAuth(request, clientIp, trace);
    }
    let target = route ? route.target : entry.target;
    // A route to another proxy's hostname passes that proxy's auth as well: a route never opens a way around it.
    let routedTo: HostEntry | undefined;
    if (route?.hostTarget) {
      // A route to a hostname: the OAuth server or API in this process, or that proxy's backend.
      const local = inProcess.get(route.hostTarget);
      if (local) {
        draft.kind = local === serveApi ? "api" : "oauth";
        return local(request, clientIp, trace);
      }
      routedTo = table.lookup(route.hostTarget);
      if (routedTo && !routedTo.enabled) return disabledProxyResponse(route.hostTarget, requestId, request.headers.get("accept"));
      target = routedTo?.target ?? null;
    }
    if (!target) return upstreamErrorResponse("unreachable", request.headers.get("accept"), requestId);

    const unverified = { clientIp, proto, trustedPeer, server, trace, record: draft };
    // An MCP endpoint (src/mcp): a foreign Origin is refused before auth, a POST's JSON-RPC body is checked after it.
    const mcp = entry.mcp ? openMcpExchange(entry.mcp, request, path, proto, trustedPeer, clientIp, recordsCalls) : null;
    if (mcp instanceof Response) return stampRequestId(mcp, trace);
    draft.finishedDownstream = true;
    const forward = (outcome: EdgeOutcome): Response | undefined | Promise<Response | undefined> => {
      if (outcome instanceof Response) {
        draft.answered(outcome);
        return stampRequestId(outcome, trace);
      }
      if (outcome.identity) draft.authenticated(outcome.claims);
      const context = outcome.identity ? { ...unverified, identity: outcome.identity } : unverified;
      if (engine.isWebSocketUpgrade(request)) {
        draft.kind = "websocket";
        return engine.upgradeWebSocket(request, server, target, context).then((response) => {
          draft.answered(response);
          return response;
        });
      }
      draft.kind = "proxy";
      // A legacy MCP session (Mcp-Session-Id) goes to the backend that holds it (src/mcp/session-affinity.ts).
      const session = sessions && entry.mcp ? sessions.route(entry.hostname, entry.mcp, request, path, target, outcome.claims?.sub) : null;
      const to = session ? session.target : target;
      draft.backend = to.origin;
      const sent = mcp ? forwardMcp(mcp, outcome, entry, draft, trace, (body) => engine.forward(request, to, body ? { ...context, body } : context)) : engine.forward(request, to, context);
      const forwarded = session ? sent.then((response) => session.answer(response)) : sent;
      const hsts = proto === "https" ? entry.hsts : null;
      const ifBackendLacks = outcome.ifBackendLacks;
      // The usual request needs nothing after the backend's answer: no second promise for it.
      if (!hsts && !ifBackendLacks) return forwarded;
      return forwarded.then((response) => {
        // 404, or 405 from a server that takes every path but answers only POST (an MCP handler at the root).
        if (ifBackendLacks && (response.status === 404 || response.status === 405)) return stampRequestId(ifBackendLacks(), trace);
        if (hsts) response.headers.set("strict-transport-security", hsts);
        return response;
      });
    };
    const guardTarget = routedTo?.auth && routedTo !== entry ? routedTo : undefined;
    if (!edgeAuth || (!guardTarget && !isGuarded(entry, route))) return forward(FORWARD_UNCHECKED);
    const facts = clientFacts(request, proto, path, trustedPeer);
    // The routed-to proxy's policy decides last, so its backend gets the identity headers it expects.
    const next = guardTarget
      ? (outcome: EdgeOutcome) => (outcome instanceof Response ? forward(outcome) : then(guardRequest(edgeAuth, guardTarget, undefined, request, facts), forward))
      : forward;
    return then(isGuarded(entry, route) ? guardRequest(edgeAuth, entry, route, request, facts) : FORWARD_UNCHECKED, next);
  };
  return afterPipelinedRequestsSeen(dispatch);
}

/**
 * An MCP POST: the exchange checks the JSON-RPC body, then sends it on or
 * answers itself (a refused call); its own answers get the request id and are
 * recorded here, forwarded ones by the engine.
 */
function forwardMcp(
  mcp: McpExchange,
  outcome: Exclude<EdgeOutcome, Response>,
  entry: HostEntry,
  draft: RecordDraft,
  trace: RequestTrace,
  send: (body?: Uint8Array) => Promise<Response>,
): Promise<Response> {
  const noteCall = () => {
    draft.mcpMethod = mcp.call?.method;
    draft.mcpTool = mcp.call?.tool;
  };
  const sendNoted = (body?: Uint8Array) => {
    noteCall();
    return send(body);
  };
  return mcp.forward(outcome.claims ?? null, entry.auth, sendNoted).then((response) => {
    if (draft.upstreamStartNs === 0) {
      noteCall();
      draft.answered(response);
      return stampRequestId(response, trace);
    }
    return response;
  });
}

const NO_SINKS: RecordSinks = { node: "" };

function then<T, R>(value: T | Promise<T>, next: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** Without edge auth, client identity headers are still stripped (the engine drops X-Auth-*). */
const FORWARD_UNCHECKED: EdgeOutcome = { forward: true };

/**
 * In-process apps learn the client's address, the scheme and the host as
 * backends do, from X-Real-IP, X-Forwarded-For/-Proto/-Host; values the client
 * sent count only from TRUSTED_PROXY_CIDRS, otherwise they are replaced.
 */
function withForwardedFacts(request: Request, clientIp: string, proto: "http" | "https", trustedProxies: CidrList, trace: RequestTrace): Request {
  const headers = request.headers;
  // The app's own logs and answers use the edge's request id and span.
  headers.set("x-request-id", trace.requestId);
  headers.set("traceparent", trace.traceparent);
  if (!trace.continued) headers.delete("tracestate");
  const ip = displayIp(clientIp);
  const trusted = trustedProxies.contains(clientIp);
  const forwarded = trusted ? headers.get("x-forwarded-for") : null;
  const realIp = (trusted ? headers.get("x-real-ip") : null) ?? forwarded?.split(",")[0]!.trim() ?? ip;
  headers.set("x-forwarded-for", forwarded ? `${forwarded}, ${ip}` : ip);
  headers.set("x-real-ip", realIp || ip);
  const forwardedProto = trusted ? headers.get("x-forwarded-proto") : null;
  headers.set("x-forwarded-proto", forwardedProto === "http" || forwardedProto === "https" ? forwardedProto : proto);
  if (!trusted) headers.delete("x-forwarded-host");
  return request;
}

function apiRefused(clientIp: string): Response {
  const detail = `the API does not answer ${displayIp(clientIp) || "this client"} on this listener; see API_ALLOWED_CIDRS`;
  return Response.json({ error: "forbidden", detail }, { status: 403, headers: OWN_RESPONSE_HEADERS });
}

/** 308 keeps the method and body; the target keeps the path and query as the client sent them. */
function redirectToHttps(url: string, host: string): Response {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return new Response(null, { status: 308, headers: { ...OWN_RESPONSE_HEADERS, location: `https://${host}${start < 0 ? "/" : url.slice(start)}` } });
}

async function answerChallenge(challenges: NonNullable<DispatchOptions["acmeChallenges"]>, token: string): Promise<Response> {
  const text = { ...OWN_RESPONSE_HEADERS, "content-type": "text/plain" };
  try {
    const keyAuthorization = await challenges.answer(token);
    if (keyAuthorization === null) return new Response("no such ACME challenge\n", { status: 404, headers: text });
    return new Response(keyAuthorization, { headers: text });
  } catch {
    return new Response("ACME challenge store unavailable\n", { status: 503, headers: text });
  }
}
