/**
 * Header rewriting between client and backend, as pure functions.
 *
 * The request side is a visitor (`visitUpstreamRequestHeaders`) so the raw
 * HTTP/1.1 client can write the request head straight into one string while
 * WebSocket and tests get a `Headers` from the same rules
 * (`upstreamRequestHeaders`). Everything that depends only on the target is
 * computed once per target and cached.
 */
import type { ForwardContext, ForwardTarget } from "./forward-target";
import type { HeaderView } from "./header-view";
import type { RequestTrace } from "./request-trace";

/** RFC 9110 §7.6.1 plus the de-facto ones (Keep-Alive, Proxy-Connection). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authorization",
  "proxy-authenticate",
]);

/** Replaced by the gateway (or, from a trusted peer, extended) — never copied as sent. */
const FORWARDING = new Set(["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded", "host"]);

/** Replaced by the gateway's own when it traces the request (context.trace): the request id and its span. */
const TRACE_HEADERS = new Set(["x-request-id", "traceparent"]);

/**
 * The body's framing is decided by the gateway from the bytes it sends
 * (http-forward.ts), never copied from the client: a Content-Length left over
 * from a body Bun.serve consumed (a GET with a body) would make the backend read
 * the next request on the pooled connection as this one's body.
 */
const FRAMING = "content-length";

/** One lookup per incoming header instead of one per rule (this runs for every header of every request). */
const enum Kind {
  HopByHop = 1,
  Forwarding = 2,
}
const SPECIAL = new Map<string, Kind>([
  ...[...HOP_BY_HOP, FRAMING].map((n) => [n, Kind.HopByHop] as const),
  ...[...FORWARDING].map((n) => [n, Kind.Forwarding] as const),
]);

export type HeaderSink = (name: string, value: string) => void;

interface CompiledTarget {
  readonly backendHost: string;
  readonly requestNames: ReadonlySet<string>;
  readonly requestHeaders: readonly (readonly [string, string])[];
  readonly responseHeaders: readonly (readonly [string, string])[];
}

const compiled = new WeakMap<ForwardTarget, CompiledTarget>();

function compile(target: ForwardTarget): CompiledTarget {
  let entry = compiled.get(target);
  if (!entry) {
    // Operator config, but a CR/LF in a value would let it inject headers.
    const safe = (pairs: readonly (readonly [string, string])[]) =>
      pairs.filter(([name, value]) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) && !/[\r\n\0]/.test(value));
    const requestHeaders = safe(target.requestHeaders);
    entry = {
      backendHost: target.url.host,
      requestNames: new Set(requestHeaders.map(([name]) => name.toLowerCase())),
      requestHeaders,
      responseHeaders: safe(target.responseHeaders),
    };
    compiled.set(target, entry);
  }
  return entry;
}

/** The header names a Connection header lists (lowercased); usually none. */
function connectionTokens(value: string | null): ReadonlySet<string> | undefined {
  if (!value) return undefined;
  const tokens = value.toLowerCase().split(",").map((t) => t.trim()).filter((t) => t !== "" && t !== "close" && t !== "keep-alive");
  return tokens.length === 0 ? undefined : new Set(tokens);
}

/** "::ffff:10.0.0.1" as the backend expects to see it: "10.0.0.1". */
export function displayIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

/**
 * Emits the headers to send upstream, Host first. Hop-by-hop and framing
 * headers (Content-Length: the caller adds its own) and the client's X-Auth-*
 * are dropped, and so are underscore spellings of anything dropped or replaced (with edge auth: its prefix too, the bearer
 * token and the session cookie as it decided, and its verified identity
 * headers emitted instead); X-Forwarded-* / X-Real-IP / Forwarded are replaced
 * unless the peer is trusted; X-Request-Id and traceparent are the gateway's
 * (context.trace), tracestate goes along only with a valid traceparent;
 * custom_headers win over all of these.
 */
export function visitUpstreamRequestHeaders(incoming: HeaderView, target: ForwardTarget, context: ForwardContext, emit: HeaderSink): void {
  visitUntracedUpstreamHeaders(incoming, target, context, emit);
  if (context.trace) visitTraceHeaders(target, context.trace, emit);
}

/**
 * The request's own X-Request-Id and traceparent (unless custom_headers set
 * them), emitted last: the lines before them depend only on the client's
 * headers, the target, the client and the identity, so a connection's next
 * request with the same headers can reuse them (dispatcher/raw-edge).
 */
export function visitTraceHeaders(target: ForwardTarget, trace: RequestTrace, emit: HeaderSink): void {
  const custom = compile(target).requestNames;
  if (!custom.has("x-request-id")) emit("x-request-id", trace.requestId);
  if (!custom.has("traceparent")) emit("traceparent", trace.traceparent);
}

/**
 * visitUpstreamRequestHeaders without the trace's own two headers
 * (visitTraceHeaders): what it emits does not change from one request to the
 * next while the incoming headers, the target and the context's client
 * address, trust, identity and `trace.continued` stay the same.
 */
export function visitUntracedUpstreamHeaders(incoming: HeaderView, target: ForwardTarget, context: ForwardContext, emit: HeaderSink): void {
  const t = compile(target);
  const clientHost = incoming.get("host");
  const hopByHop = connectionTokens(incoming.get("connection"));
  const custom = t.requestNames;
  if (!custom.has("host")) emit("host", target.preserveHost && clientHost ? clientHost : t.backendHost);

  let xff: string | undefined;
  let xfp: string | undefined;
  let xfh: string | undefined;
  let realIp: string | undefined;
  const anyCustom = custom.size > 0;
  const trusted = context.trustedPeer;
  const identity = context.identity;
  const trace = context.trace;
  incoming.forEach((value, name) => {
    // CGI, WSGI and Rack read X_Auth_User as X-Auth-User: an underscore spelling of a header we replace is dropped too.
    if (name.includes("_") && isReplaced(name.replaceAll("_", "-"), custom, identity, trace)) return;
    if (trace && (TRACE_HEADERS.has(name) || (name === "tracestate" && !trace.continued))) return;
    const kind = SPECIAL.get(name);
    if (kind === Kind.Forwarding) {
      if (!trusted) return;
      if (name === "x-forwarded-for") xff = value;
      else if (name === "x-forwarded-proto") xfp = value;
      else if (name === "x-forwarded-host") xfh = value;
      else if (name === "x-real-ip") realIp = value;
      else if (name === "forwarded" && !custom.has(name)) emit(name, value);
      return;
    }
    if (kind === Kind.HopByHop || name.startsWith("x-auth-") || (anyCustom && custom.has(name)) || hopByHop?.has(name)) return;
    if (identity) {
      if (name.startsWith(identity.stripPrefix) || (identity.dropAuthorization && name === "authorization")) return;
      if (identity.rewriteCookie && name === "cookie") {
        const kept = identity.rewriteCookie(value);
        if (kept !== null) emit(name, kept);
        return;
      }
    }
    emit(name, value);
  });
  if (identity) for (const [name, value] of identity.headers) emit(name, value);

  const peer = displayIp(context.clientIp);
  if (!anyCustom) {
    emit("x-forwarded-for", xff ? `${xff}, ${peer}` : peer);
    emit("x-forwarded-proto", xfp ?? context.proto);
    if (xfh ?? clientHost) emit("x-forwarded-host", (xfh ?? clientHost)!);
    emit("x-real-ip", realIp ?? (xff ? firstHop(xff) : undefined) ?? peer);
    return;
  }
  const set = (name: string, value: string | undefined | null) => {
    if (value && !custom.has(name)) emit(name, value);
  };
  set("x-forwarded-for", xff ? `${xff}, ${peer}` : peer);
  set("x-forwarded-proto", xfp ?? context.proto);
  set("x-forwarded-host", xfh ?? clientHost);
  set("x-real-ip", realIp ?? (xff ? firstHop(xff) : undefined) ?? peer);
  for (const [name, value] of t.requestHeaders) emit(name, value);
}

/** True for a (hyphenated) header name the gateway drops or replaces: its underscore spelling must not pass either. */
function isReplaced(name: string, custom: ReadonlySet<string>, identity: ForwardContext["identity"], trace: ForwardContext["trace"]): boolean {
  if (SPECIAL.has(name) || name.startsWith("x-auth-") || custom.has(name)) return true;
  if (trace && TRACE_HEADERS.has(name)) return true;
  if (!identity) return false;
  return name.startsWith(identity.stripPrefix) || (identity.dropAuthorization && name === "authorization") || (identity.rewriteCookie !== null && name === "cookie");
}

function firstHop(xff: string): string | undefined {
  const comma = xff.indexOf(",");
  const hop = (comma < 0 ? xff : xff.slice(0, comma)).trim();
  return hop === "" ? undefined : hop;
}

/** The same rules as a `Headers` object (WebSocket handshakes, tests). */
export function upstreamRequestHeaders(incoming: Headers, target: ForwardTarget, context: ForwardContext): Headers {
  const out = new Headers();
  visitUpstreamRequestHeaders(incoming, target, context, (name, value) => out.append(name, value));
  return out;
}

/** True for a response header that must not be passed to the client. */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/**
 * Rewrites a backend response's headers in place for the client: hop-by-hop
 * (and those the Connection header names) removed, custom_response_headers set.
 */
export function rewriteResponseHeaders(headers: Headers, target: ForwardTarget): Headers {
  const named = connectionTokens(headers.get("connection"));
  for (const name of HOP_BY_HOP) headers.delete(name);
  if (named) for (const name of named) headers.delete(name);
  for (const [name, value] of compile(target).responseHeaders) headers.set(name, value);
  return headers;
}

/**
 * The same response rules over header pairs parsed by the raw HTTP/1.1 client,
 * which has already left out the fixed hop-by-hop set; `connectionTokens` are
 * the names the response's Connection header listed. Returns `pairs` itself
 * when there is nothing to change (the usual case).
 */
export function responseHeaderPairs(
  pairs: readonly (readonly [string, string])[],
  connectionTokens: readonly string[],
  target: ForwardTarget,
): readonly (readonly [string, string])[] {
  const custom = compile(target).responseHeaders;
  const named = connectionTokens.length > 0 && connectionTokens.some((t) => t !== "close" && t !== "keep-alive");
  if (custom.length === 0 && !named) return pairs;
  const out: (readonly [string, string])[] = [];
  for (const pair of pairs) {
    const name = pair[0];
    if (named && connectionTokens.includes(name)) continue;
    if (custom.length > 0 && custom.some(([c]) => c.toLowerCase() === name)) continue;
    out.push(pair);
  }
  for (const [name, value] of custom) out.push([name, value]);
  return out;
}
