/**
 * What the raw edge answers itself: a request to a proxy that dispatch.ts
 * would forward as it is, with no decision on the way that needs a Request
 * object: no edge auth or metadata, no MCP endpoint, no route to another
 * host, no in-process app, no ACME challenge, no redirect, nothing the
 * gateway answers itself (unknown or disabled hosts, bad Host headers).
 * Every check below is an allow-list entry; whatever fails one goes to the
 * internal Bun.serve and dispatch.ts, which decides it as for any listener.
 * The forwarding itself is the engine's (the same header rules, backend
 * client and request record as dispatch.ts).
 */
import type { CidrList } from "../../proxies/cidr";
import type { ForwardingEngine } from "../../proxies";
import { visitUpstreamRequestHeaders } from "../../proxies/headers";
import { forwardedClientIp } from "../../proxies/forwarded-client";
import { traceRequest } from "../../proxies/request-trace";
import { redactedQuery } from "../../consumers/request-log/query-redaction";
import type { DispatchOptions } from "../dispatch";
import { isValidHostHeader, normalizeHost } from "../host";
import { isGuarded } from "../edge-auth";
import { HeadHeaders } from "../http1/head-headers";
import type { RequestHead } from "../http1/request-head";
import { RecordDraft, type RecordSinks } from "../recording";
import { matchRoute } from "../routes";
import type { ClientConnection, FastLane } from "./client-connection";
import { RawForward } from "./response-writer";

const ACME_CHALLENGE = "/.well-known/acme-challenge/";

/**
 * The methods the fast lane forwards. Bun.serve's parser closes the
 * connection on others (lowercase ones too); relayed, they get that answer.
 */
const FAST_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/** Methods whose requests carry a body by definition: without one the backend is told so (Content-Length: 0). */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/**
 * Paths Bun.serve rewrites before dispatch sees them ("." and ".." segments,
 * also percent-encoded; backslashes) or that carry a fragment: relayed, so
 * that route matching and the path sent upstream are the same on every engine.
 */
const NEEDS_NORMALIZING = /\/\.|%2e|\\|#/i;

export function createFastLane(options: DispatchOptions & { readonly engine: ForwardingEngine }): FastLane {
  const { engine, trustedProxies } = options;
  const inProcess = new Set<string>([...options.apiHostnames, ...(options.oauth?.hostnames ?? [])]);
  const sinks: RecordSinks = options.records ?? { node: "" };
  const edgeAuth = options.edgeAuth;
  const servesTrusted = options.servesTrustedCertificate;
  return {
    take(head: RequestHead, body: Buffer | undefined, client: ClientConnection): boolean {
      const target = head.target;
      if (target.charCodeAt(0) !== 47 /* "/" */ || NEEDS_NORMALIZING.test(target)) return false;
      const query = target.indexOf("?");
      const path = query < 0 ? target : target.slice(0, query);
      const method = head.method;
      if (!FAST_METHODS.has(method)) return false;
      if (options.acmeChallenges && path.startsWith(ACME_CHALLENGE)) return false;
      const hostHeader = head.host ?? null;
      if (!isValidHostHeader(hostHeader)) return false;
      const host = normalizeHost(hostHeader);
      if (inProcess.has(host)) return false;
      const entry = options.table().lookup(host);
      if (!entry || !entry.enableHttp || !entry.enabled || entry.mcp || entry.protectedResource) return false;
      if (entry.redirectsToHttps && servesTrusted?.(host)) return false;
      const route = entry.routes.length > 0 ? matchRoute(entry.routes, method, path) : undefined;
      if (route?.hostTarget) return false;
      if (edgeAuth && isGuarded(entry, route)) return false;
      const forwardTo = route ? route.target : entry.target;
      if (!forwardTo) return false;

      const clientIp = client.address;
      const trustedPeer = client.trustedPeer;
      const headers = new HeadHeaders(head);
      const trace = traceRequest(headers, trustedPeer);
      const recordedIp = trustedPeer ? forwardedClientIp(clientIp, trustedProxies, headers.get("x-forwarded-for")) : clientIp;
      const draft = new RecordDraft(sinks, recordedIp, method, host, path, trace.requestId, trace.traceId);
      draft.kind = "proxy";
      draft.proxy = entry.hostname;
      draft.route = route?.id;
      draft.backend = forwardTo.origin;
      if (entry.logQuery) draft.query = redactedQuery(target);

      let lines = `${method} ${forwardTo.basePath}${target} HTTP/1.1\r\n`;
      visitUpstreamRequestHeaders(headers, forwardTo, { clientIp, proto: "http", trustedPeer, trace, record: draft }, (name, value) => {
        lines += `${name}: ${value}\r\n`;
      });
      let bytes: string | Uint8Array;
      if (body === undefined) {
        lines += BODY_METHODS.has(method) ? "content-length: 0\r\n\r\n" : "\r\n";
        bytes = Buffer.byteLength(lines) === lines.length ? lines : Buffer.from(lines, "latin1");
      } else {
        lines += `content-length: ${body.length}\r\n\r\n`;
        const whole = Buffer.allocUnsafe(lines.length + body.length);
        whole.write(lines, 0, "latin1");
        whole.set(body, lines.length);
        bytes = whole;
        draft.bytesIn = body.length;
      }
      draft.upstreamStartNs = Bun.nanoseconds();
      engine.send(forwardTo, new RawForward(method, bytes, client, headers, forwardTo, draft, head.keepAlive, head.minor === 1, engine.streams));
      return true;
    },
  };
}

export type { CidrList };
