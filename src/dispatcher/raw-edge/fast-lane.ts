/**
 * What the raw edge answers itself: a request to a proxy that dispatch.ts
 * would forward as it is, with no step on the way that needs a Request
 * object: no MCP endpoint, no route to another host, no in-process app, no
 * ACME challenge, no redirect, no answer of the gateway's own (unknown or
 * disabled hosts, bad Host headers, auth refusals and sign-ins, metadata).
 * Edge auth is decided here when it allows the request (allowedAtOnce, the
 * same rules as dispatch's guardRequest). Every check is an allow-list
 * entry: whatever fails one goes to the internal Bun.serve and dispatch.ts,
 * which decides it as for any listener. Forwarding uses the engine's backend
 * client, header rules and request record, as dispatch.ts does; a WebSocket
 * handshake to a plain-HTTP backend is tunnelled (websocket-tunnel.ts).
 */
import type { ForwardingEngine } from "../../proxies";
import type { ForwardTarget, IdentityRewrite } from "../../proxies/forward-target";
import { visitTraceHeaders } from "../../proxies/headers";
import { forwardedClientIp } from "../../proxies/forwarded-client";
import { traceRequest } from "../../proxies/request-trace";
import type { EdgeAuthRequest } from "../../auth/edge/authenticate";
import type { RememberedToken } from "../../auth/edge/edge-tokens";
import type { AccessTokenClaims } from "../../auth/tokens/access-token";
import { redactedQuery } from "../../consumers/request-log/query-redaction";
import { isBuiltInOAuthRequest } from "../builtin-oauth";
import type { DispatchOptions } from "../dispatch";
import { allowedAtOnce, clientFacts, isGuarded } from "../edge-auth";
import { isValidHostHeader, normalizeHost } from "../host";
import type { HostEntry } from "../host-table";
import type { HeadHeaders } from "../http1/head-headers";
import type { RequestHead } from "../http1/request-head";
import { RecordDraft, type RecordSinks } from "../recording";
import { matchRoute, type CompiledRoute } from "../routes";
import type { ClientConnection, FastLane } from "./client-connection";
import { RawForward } from "./response-writer";
import { headWithBytes } from "./wire-bytes";
import { WebSocketTunnel } from "./websocket-tunnel";

const ACME_CHALLENGE = "/.well-known/acme-challenge/";

/**
 * The methods the fast lane forwards. Bun.serve's parser closes the
 * connection on others (lowercase ones too); relayed, they get that answer.
 */
const FAST_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/** Methods whose requests carry a body by definition: without one the backend is told so (Content-Length: 0). */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/**
 * Targets Bun.serve rewrites before dispatch sees them ("." and ".."
 * segments, also percent-encoded; backslashes) or that carry a fragment:
 * relayed, so that route matching and the path sent upstream are the same
 * whichever way a request goes.
 */
const NEEDS_NORMALIZING = /\/\.|%2e|\\|#/i;

/** A request the fast lane forwards, and how. */
export interface FastForward {
  readonly head: RequestHead;
  readonly headers: HeadHeaders;
  readonly host: string;
  readonly path: string;
  readonly entry: HostEntry;
  readonly route: CompiledRoute | undefined;
  readonly target: ForwardTarget;
  /** Set by edge auth's decision, once, before the plan is handed on. */
  identity: IdentityRewrite | undefined;
  claims: AccessTokenClaims | null | undefined;
}

/** The plan with what edge auth allowed it with: the identity to send upstream and the token's claims. */
function withAllowance(plan: FastForward, allowed: { readonly identity?: IdentityRewrite; readonly claims?: AccessTokenClaims | null }): FastForward {
  plan.identity = allowed.identity;
  plan.claims = allowed.claims;
  return plan;
}

/**
 * What edge auth reads of a request the fast lane decides. Its URL is read
 * only for a sign-in redirect, which the fast lane never sends: no string per
 * request for it (and a class, as an object literal with a getter is slow to make).
 */
class LaneAuthRequest implements EdgeAuthRequest {
  constructor(
    readonly method: string,
    readonly headers: HeadHeaders,
    private readonly hostHeader: string,
    private readonly target: string,
    readonly rememberedToken: RememberedToken,
  ) {}

  get url(): string {
    return `http://${this.hostHeader}${this.target}`;
  }
}

export function createFastLane(options: DispatchOptions & { readonly engine: ForwardingEngine }): FastLane {
  const { engine, trustedProxies, edgeAuth } = options;
  const inProcess = new Set<string>([...options.apiHostnames, ...(options.oauth?.hostnames ?? [])]);
  const sinks: RecordSinks = options.records ?? { node: "" };
  const servesTrusted = options.servesTrustedCertificate;

  const decide = (head: RequestHead, client: ClientConnection): FastForward | null | Promise<FastForward | null> => {
    const target = head.target;
    if (target.charCodeAt(0) !== 47 /* "/" */ || NEEDS_NORMALIZING.test(target)) return null;
    const method = head.method;
    if (!FAST_METHODS.has(method)) return null;
    const query = target.indexOf("?");
    const path = query < 0 ? target : target.slice(0, query);
    if (options.acmeChallenges && path.startsWith(ACME_CHALLENGE)) return null;
    const hostHeader = head.host ?? null;
    if (!isValidHostHeader(hostHeader)) return null;
    const host = normalizeHost(hostHeader);
    if (inProcess.has(host)) return null;
    const entry = options.table().lookup(host);
    if (!entry || !entry.enableHttp || !entry.enabled || entry.mcp) return null;
    if (entry.redirectsToHttps && servesTrusted?.(host)) return null;
    const route = entry.routes.length > 0 ? matchRoute(entry.routes, method, path) : undefined;
    if (route?.hostTarget) return null;
    // The authorization server's endpoints on a protected resource's host (builtin-oauth.ts).
    if (!route && options.oauth && entry.protectedResource && isBuiltInOAuthRequest(method, path, method === "OPTIONS")) return null;
    const forwardTo = route ? route.target : entry.target;
    if (!forwardTo) return null;
    // A WebSocket handshake to a plain-HTTP backend is tunnelled; anything else that asks to upgrade goes to Bun.serve.
    if (head.upgrade !== undefined && (method !== "GET" || head.upgrade.toLowerCase() !== "websocket" || forwardTo.url.protocol !== "http:")) return null;
    const headers = client.heads.headersOf(head);
    const plan: FastForward = { head, headers, host, path, entry, route, target: forwardTo, identity: undefined, claims: undefined };
    if (!edgeAuth || !isGuarded(entry, route)) return plan;
    const remembered = client.rememberedToken;
    const again = client.lastAllowed.again(headers, entry, route, method, path, edgeAuth.verifier, remembered);
    if (again !== undefined) return withAllowance(plan, again);
    const request = new LaneAuthRequest(method, headers, hostHeader!, target, remembered);
    const outcome = allowedAtOnce(edgeAuth, entry, route, request, clientFacts(request, "http", path, client.trustedPeer));
    if (outcome instanceof Promise) return outcome.then((allowed) => (allowed ? withAllowance(plan, allowed) : null));
    if (!outcome) return null;
    // Only a decision made at once: its token is then the one the verifier saw last (`remembered`).
    if (outcome.claims) client.lastAllowed.remember(headers, entry, route, method, path, { identity: outcome.identity, claims: outcome.claims });
    return withAllowance(plan, outcome);
  };

  /**
   * The request's record and the head sent upstream up to its framing (the
   * forwarding headers included); `ascii` false when a header carries latin1
   * bytes the client sent.
   */
  const prepare = (plan: FastForward, client: ClientConnection): { draft: RecordDraft; lines: string; ascii: boolean } => {
    const { head, headers, target: forwardTo } = plan;
    const method = head.method;
    const clientIp = client.address;
    const trustedPeer = client.trustedPeer;
    const trace = traceRequest(headers, trustedPeer);
    const recordedIp = trustedPeer ? forwardedClientIp(clientIp, trustedProxies, headers.get("x-forwarded-for")) : clientIp;
    const draft = new RecordDraft(sinks, recordedIp, method, plan.host, plan.path, trace.requestId, trace.traceId);
    draft.kind = "proxy";
    draft.proxy = plan.entry.hostname;
    draft.route = plan.route?.id;
    draft.backend = forwardTo.origin;
    if (plan.entry.logQuery) draft.query = redactedQuery(head.target);
    if (plan.identity) draft.authenticated(plan.claims);
    const context = { clientIp, proto: "http" as const, trustedPeer, trace, record: draft, identity: plan.identity };
    const untraced = client.upstreamHeaders.get(head, headers, forwardTo, context);
    // The method is a token and the target visible ASCII (request-head.ts), the base path a URL's: all ASCII.
    let lines = `${method} ${forwardTo.basePath}${head.target} HTTP/1.1\r\n${untraced.text}`;
    visitTraceHeaders(forwardTo, trace, (name, value) => {
      lines += `${name}: ${value}\r\n`;
    });
    return { draft, lines, ascii: untraced.ascii };
  };

  const forward = (plan: FastForward, body: Buffer | undefined, client: ClientConnection): void => {
    const { head, headers, target: forwardTo } = plan;
    const method = head.method;
    const prepared = prepare(plan, client);
    const draft = prepared.draft;
    let lines = prepared.lines;
    let bytes: string | Uint8Array;
    // Read and dropped, as Bun.serve drops them: a request goes upstream the same whichever way it came.
    if (method === "GET" || method === "HEAD") body = undefined;
    if (body === undefined) {
      lines += BODY_METHODS.has(method) ? "content-length: 0\r\n\r\n" : "\r\n";
      // Header values may hold bytes above 0x7f (latin1 characters); such heads go out as latin1 bytes.
      bytes = prepared.ascii ? lines : Buffer.from(lines, "latin1");
    } else {
      lines += `content-length: ${body.length}\r\n\r\n`;
      bytes = headWithBytes(lines, body);
      draft.bytesIn = body.length;
    }
    draft.upstreamStartNs = Bun.nanoseconds();
    engine.send(forwardTo, new RawForward(method, bytes, client, headers, forwardTo, draft, head.keepAlive, head.minor === 1, engine.options.streams));
  };

  const { connectTimeoutMs, requestTimeoutMs } = engine.options;
  // The whole backend handshake must fit in the connect timeout (or the request timeout, if shorter), as on Bun.serve.
  const handshakeMs = Math.min(connectTimeoutMs, requestTimeoutMs);
  const handshakeFailure = connectTimeoutMs <= requestTimeoutMs ? "connect_timeout" : "request_timeout";

  const tunnel = (plan: FastForward, early: Uint8Array | undefined, client: ClientConnection): WebSocketTunnel => {
    const { draft, lines } = prepare(plan, client);
    draft.kind = "websocket";
    const head = `${lines}connection: upgrade\r\nupgrade: websocket\r\n\r\n`;
    const request = headWithBytes(head, early);
    draft.upstreamStartNs = Bun.nanoseconds();
    return new WebSocketTunnel(client, plan.target, draft, plan.headers.get("accept"), engine.options.streams, request, handshakeMs, handshakeFailure);
  };

  return { decide, forward, tunnel };
}
