/**
 * MODE=raw-engine of bench/ceiling-proxy.ts, the spike that showed a raw
 * edge worth building: Portcullis's per-request proxy work on raw sockets
 * with its own code (request-head parser, request id and traceparent,
 * forwarding headers, request record, metrics, the request log to a real
 * Redis), the engine's backend client (PoolSet, Deadlines, dispatchRequest,
 * Exchange, HeadCache, responseHeaderPairs), and what a client side must do:
 * one request at a time per connection with pipelined ones queued in order,
 * keep-alive and HTTP/1.0 close, an idle timeout, a Date header, refused bad
 * heads. Not a product (src/dispatcher/raw-edge is): one proxy, no routes or
 * auth, Content-Length request bodies and buffered response bodies only.
 * Beside portcullis (a) it shows what the product's own checks add.
 */
import type { Socket } from "bun";
import { Registry } from "prom-client";
import { RequestLogWriter } from "../src/consumers/request-log/writer";
import { FIELD_STRIDE, FieldKind, isRefusal, parseRequestHead, type RequestHead } from "../src/dispatcher/http1/request-head";
import { RecordDraft, type RecordSinks } from "../src/dispatcher/recording";
import { AuthMetrics } from "../src/metrics/auth-metrics";
import { EdgeMetrics } from "../src/metrics/edge-metrics";
import { recordMetrics } from "../src/metrics/record-metrics";
import { forwardTarget, type ForwardTarget } from "../src/proxies/forward-target";
import { responseHeaderPairs } from "../src/proxies/headers";
import { dispatchRequest, type UpstreamRequest } from "../src/proxies/http1/client";
import { Deadlines } from "../src/proxies/http1/deadlines";
import { PoolSet } from "../src/proxies/http1/pool";
import { findHeadEnd, type ResponseHead } from "../src/proxies/http1/response-head";
import { newRequestId } from "../src/proxies/request-id";
import { gatewayTraceparent, parseTraceparent } from "../src/proxies/trace-context";
import { connectNativeRedis } from "../src/storage/native-redis";
import type { UpstreamFailure } from "../src/proxies/errors";

const DROPPED = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded", "x-request-id", "traceparent", "tracestate"]);
const DROP_INITIALS = new Set([..."cfkptux"].map((c) => c.charCodeAt(0)));
const IDLE_SECONDS = 75;

/** The Date header, rewritten once a second rather than per response. */
let dateLine = `date: ${new Date().toUTCString()}\r\n`;
setInterval(() => (dateLine = `date: ${new Date().toUTCString()}\r\n`), 1000).unref();

/** Unused by the raw edge; UpstreamRequest.respond's contract wants a Response back. */
const WRITTEN = new Response(null);

interface Entry {
  readonly hostname: string;
  readonly route: string;
  readonly target: ForwardTarget;
  readonly backendHost: string;
}

class Client {
  pending: Buffer | undefined;
  busy = false;
  closing = false;
  constructor(
    readonly socket: Socket<Client>,
    readonly address: string,
  ) {}
}

class RawForward implements UpstreamRequest {
  readonly body = null;
  readonly bodyFraming = "chunked" as const;
  constructor(
    readonly method: string,
    readonly bytes: string | Uint8Array,
    private readonly client: Client,
    private readonly entry: Entry,
    private readonly draft: RecordDraft,
    private readonly keepAlive: boolean,
  ) {}

  respond(head: ResponseHead, body: ReadableStream<Uint8Array> | Uint8Array | null): Response {
    if (body instanceof ReadableStream) throw new Error("spike: streamed bodies are not modelled");
    this.draft.upstreamAnswered();
    let out = `HTTP/1.1 ${head.status} ${head.reason}\r\n`;
    for (const [name, value] of responseHeaderPairs(head.headers, head.connectionTokens, this.entry.target)) out += `${name}: ${value}\r\n`;
    const length = body === null ? 0 : body.length;
    out += `${dateLine}x-request-id: ${this.draft.requestId}\r\ncontent-length: ${length}\r\n${this.keepAlive ? "" : "connection: close\r\n"}\r\n`;
    const socket = this.client.socket;
    if (body === null || length === 0) socket.write(out);
    else {
      const bytes = Buffer.allocUnsafe(out.length + length);
      bytes.write(out, 0, "latin1");
      bytes.set(body, out.length);
      socket.write(bytes);
    }
    this.draft.finish(head.status, length);
    answered(this.client, this.keepAlive);
    return WRITTEN;
  }

  bodyEnded(): void {}

  fail(failure: UpstreamFailure): Response {
    this.client.socket.write(`HTTP/1.1 502 Bad Gateway\r\n${dateLine}content-length: 0\r\nconnection: close\r\n\r\n`);
    this.draft.finish(502, 0, failure);
    answered(this.client, false);
    return WRITTEN;
  }

  clientGone(): boolean {
    return this.client.closing;
  }
}

let sinks: RecordSinks;
let pools: PoolSet;
const proxies = new Map<string, Entry>();

function answered(client: Client, keepAlive: boolean): void {
  client.busy = false;
  if (!keepAlive) {
    client.closing = true;
    client.socket.end();
    return;
  }
  if (client.pending) next(client, client.pending);
}

function refuse(client: Client, status: number, reason: string): void {
  client.closing = true;
  client.socket.end(`HTTP/1.1 ${status} ${reason}\r\n${dateLine}content-length: 0\r\nconnection: close\r\n\r\n`);
}

/** Takes the next complete request off `bytes`, if any; the rest waits for its turn. */
function next(client: Client, bytes: Buffer): void {
  const end = findHeadEnd(bytes, 0);
  if (end < 0) {
    client.pending = bytes;
    if (bytes.length > 32 * 1024) refuse(client, 431, "Request Header Fields Too Large");
    return;
  }
  const head = parseRequestHead(bytes.toString("latin1", 0, end - 4));
  if (isRefusal(head)) return refuse(client, head.status, "Bad Request");
  const bodyLength = head.framing.kind === "length" ? head.framing.length : 0;
  if (head.framing.kind === "chunked") return refuse(client, 501, "Not Implemented");
  if (bytes.length < end + bodyLength) {
    client.pending = bytes;
    return;
  }
  client.pending = end + bodyLength < bytes.length ? bytes.subarray(end + bodyLength) : undefined;
  client.busy = true;
  dispatch(client, head, bodyLength === 0 ? undefined : bytes.subarray(end, end + bodyLength));
}

function dispatch(client: Client, head: RequestHead, body: Buffer | undefined): void {
  const hostHeader = head.host ?? "";
  const colon = hostHeader.indexOf(":");
  const host = (colon < 0 ? hostHeader : hostHeader.slice(0, colon)).toLowerCase();
  const query = head.target.indexOf("?");
  const path = query < 0 ? head.target : head.target.slice(0, query);
  const requestId = newRequestId();
  const traceparent = gatewayTraceparent(parseTraceparent(null));
  const draft = new RecordDraft(sinks, client.address, head.method, host, path, requestId, traceparent.slice(3, 35));
  const entry = proxies.get(host);
  if (!entry) {
    client.socket.write(`HTTP/1.1 404 Not Found\r\n${dateLine}content-length: 0\r\n\r\n`);
    draft.finish(404, 0, "unknown_host");
    return answered(client, head.keepAlive);
  }
  draft.kind = "proxy";
  draft.proxy = entry.hostname;
  draft.route = entry.route;
  draft.backend = entry.target.origin;
  let out = `${head.method} ${head.target} HTTP/1.1\r\nhost: ${entry.backendHost}\r\n`;
  const { text, fields } = head;
  for (let i = 0; i < head.fieldCount * FIELD_STRIDE; i += FIELD_STRIDE) {
    if (fields[i + 4] !== FieldKind.Other) continue;
    if (DROP_INITIALS.has(text.charCodeAt(fields[i]!) | 0x20)) {
      const name = text.slice(fields[i], fields[i + 1]).toLowerCase();
      if (DROPPED.has(name) || name.startsWith("x-auth-")) continue;
    }
    out += `${text.slice(fields[i], fields[i + 3])}\r\n`;
  }
  out += `x-request-id: ${requestId}\r\ntraceparent: ${traceparent}\r\nx-forwarded-for: ${client.address}\r\nx-forwarded-proto: http\r\nx-forwarded-host: ${hostHeader}\r\nx-real-ip: ${client.address}\r\n`;
  let bytes: string | Uint8Array;
  if (body === undefined) bytes = Buffer.byteLength(out) === out.length ? `${out}\r\n` : Buffer.from(`${out}\r\n`, "latin1");
  else {
    out += `content-length: ${body.length}\r\n\r\n`;
    const whole = Buffer.allocUnsafe(out.length + body.length);
    whole.write(out, 0, "latin1");
    whole.set(body, out.length);
    bytes = whole;
    draft.bytesIn = body.length;
  }
  draft.upstreamStartNs = Bun.nanoseconds();
  dispatchRequest(pools.forUrl(entry.target.url), new RawForward(head.method, bytes, client, entry, draft, head.keepAlive));
}

export function rawEngine(backendPort: number): number {
  const registry = new Registry();
  const redisUrl = process.env.REDIS_URL;
  const log = redisUrl ? new RequestLogWriter(connectNativeRedis({ url: redisUrl }), { retentionHours: 24, queueMax: 100_000, flushAt: 1024 }) : undefined;
  log?.start();
  sinks = { node: "spike", log, metrics: recordMetrics(new EdgeMetrics(registry), new AuthMetrics(registry)) };
  pools = new PoolSet(5_000, new Deadlines(60_000));
  const backendHost = `127.0.0.1:${backendPort}`;
  proxies.set("bench.local", { hostname: "bench.local", route: "default", target: forwardTarget(`http://${backendHost}`), backendHost });

  const listener = Bun.listen<Client>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      binaryType: "buffer",
      open(socket) {
        socket.data = new Client(socket, socket.remoteAddress);
        socket.timeout(IDLE_SECONDS);
      },
      data(socket, chunk) {
        const client = socket.data;
        if (client.closing) return;
        if (client.busy) {
          client.pending = client.pending ? Buffer.concat([client.pending, chunk]) : chunk;
          return;
        }
        next(client, client.pending ? Buffer.concat([client.pending, chunk]) : chunk);
      },
      timeout(socket) {
        socket.end();
      },
      close(socket) {
        socket.data.closing = true;
      },
      error() {},
    },
  });
  return listener.port;
}
