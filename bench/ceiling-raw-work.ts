/**
 * MODE=raw-work of bench/ceiling-proxy.ts: the raw Bun.listen proxy doing,
 * per request, the work Portcullis's proxy path does, with Portcullis's own
 * code wherever that code does not need Request/Response objects: the strict
 * request-head parser, request id and traceparent, the forwarding headers
 * (X-Forwarded-*, X-Real-IP; hop-by-hop and X-Auth-* dropped), the backend's
 * response head parsed by the engine's parser, a RecordDraft finished into
 * the request log (a real Redis when REDIS_URL is set) and the metrics. It
 * answers "how close to nginx could a raw-socket edge get", not a product:
 * one backend, Content-Length bodies, no pipelining of the backend exchange.
 */
import type { Socket } from "bun";
import { Registry } from "prom-client";
import { RequestLogWriter } from "../src/consumers/request-log/writer";
import { FIELD_STRIDE, FieldKind, isRefusal, parseRequestHead } from "../src/dispatcher/http1/request-head";
import { RecordDraft, type RecordSinks } from "../src/dispatcher/recording";
import { AuthMetrics } from "../src/metrics/auth-metrics";
import { EdgeMetrics } from "../src/metrics/edge-metrics";
import { recordMetrics } from "../src/metrics/record-metrics";
import { findHeadEnd, parseResponseHead } from "../src/proxies/http1/response-head";
import { newRequestId } from "../src/proxies/request-id";
import { gatewayTraceparent, parseTraceparent } from "../src/proxies/trace-context";
import { connectNativeRedis } from "../src/storage/native-redis";

const DROPPED = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded", "x-request-id", "traceparent", "tracestate"]);

const DROP_INITIALS = new Set([..."cfkptux"].map((c) => c.charCodeAt(0)));

interface Client {
  address: string;
  pending: Buffer | undefined;
}

interface Exchange {
  socket: Socket<Client>;
  draft: RecordDraft;
  requestId: string;
}

class Backend {
  socket: Socket<Backend> | undefined;
  private pending: Buffer | undefined;
  exchange: Exchange | undefined;

  data(chunk: Buffer): void {
    const bytes = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const end = findHeadEnd(bytes, 0);
    if (end < 0) {
      this.pending = bytes;
      return;
    }
    const head = parseResponseHead(bytes.toString("latin1", 0, end - 4), "GET");
    if (typeof head === "string" || head.framing.kind !== "length") throw new Error(`spike: ${String(head)}`);
    const length = head.framing.length;
    if (bytes.length < end + length) {
      this.pending = bytes;
      return;
    }
    this.pending = undefined;
    const exchange = this.exchange!;
    this.exchange = undefined;
    idle.push(this);
    exchange.draft.upstreamAnswered();
    let out = `HTTP/1.1 ${head.status} ${head.reason}\r\n`;
    for (const [name, value] of head.headers) out += `${name}: ${value}\r\n`;
    out += `x-request-id: ${exchange.requestId}\r\ncontent-length: ${length}\r\n\r\n`;
    exchange.socket.write(out + bytes.toString("latin1", end, end + length));
    exchange.draft.finish(head.status, length);
  }
}

const idle: Backend[] = [];

function takeBackend(port: number): Backend | Promise<Backend> {
  const ready = idle.pop();
  if (ready) return ready;
  const backend = new Backend();
  return Bun.connect<Backend>({
    hostname: "127.0.0.1",
    port,
    data: backend,
    socket: {
      binaryType: "buffer",
      open(socket) {
        socket.data.socket = socket;
      },
      data(socket, chunk) {
        socket.data.data(chunk);
      },
      close() {},
      error() {},
    },
  }).then(() => backend);
}

export function rawWork(backendPort: number): number {
  const backendHost = `127.0.0.1:${backendPort}`;
  const registry = new Registry();
  const redisUrl = process.env.REDIS_URL;
  const log = redisUrl ? new RequestLogWriter(connectNativeRedis({ url: redisUrl }), { retentionHours: 24, queueMax: 100_000, flushAt: Number(process.env.FLUSH_AT ?? 1024) }) : undefined;
  log?.start();
  const sinks: RecordSinks = { node: "spike", log, metrics: recordMetrics(new EdgeMetrics(registry), new AuthMetrics(registry)) };
  const proxies = new Map([["bench.local", { hostname: "bench.local", route: "default", backend: `http://${backendHost}` }]]);

  const listener = Bun.listen<Client>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      binaryType: "buffer",
      open(socket) {
        socket.data = { address: socket.remoteAddress, pending: undefined };
      },
      async data(socket, chunk) {
        const client = socket.data;
        const bytes = client.pending ? Buffer.concat([client.pending, chunk]) : chunk;
        const end = findHeadEnd(bytes, 0);
        if (end < 0) {
          client.pending = bytes;
          return;
        }
        client.pending = end < bytes.length ? bytes.subarray(end) : undefined;
        const head = parseRequestHead(bytes.toString("latin1", 0, end - 4));
        if (isRefusal(head)) {
          socket.end(`HTTP/1.1 ${head.status} Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
          return;
        }
        const hostHeader = head.host ?? "";
        const colon = hostHeader.indexOf(":");
        const host = (colon < 0 ? hostHeader : hostHeader.slice(0, colon)).toLowerCase();
        const query = head.target.indexOf("?");
        const path = query < 0 ? head.target : head.target.slice(0, query);
        const requestId = newRequestId();
        const traceparent = gatewayTraceparent(parseTraceparent(null));
        const draft = new RecordDraft(sinks, client.address, head.method, host, path, requestId, traceparent.slice(3, 35));
        const proxy = proxies.get(host);
        if (!proxy) {
          socket.write("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
          draft.finish(404, 0, "unknown_host");
          return;
        }
        draft.kind = "proxy";
        draft.proxy = proxy.hostname;
        draft.route = proxy.route;
        draft.backend = proxy.backend;
        let out = `${head.method} ${head.target} HTTP/1.1\r\nhost: ${backendHost}\r\n`;
        // Kept lines are copied as the client sent them; a name is made a string only when its first letter is one
        // a dropped name starts with.
        const { text, fields } = head;
        for (let i = 0; i < head.fieldCount * FIELD_STRIDE; i += FIELD_STRIDE) {
          if (fields[i + 4] !== FieldKind.Other) continue;
          if (DROP_INITIALS.has(text.charCodeAt(fields[i]!) | 0x20)) {
            const name = text.slice(fields[i], fields[i + 1]).toLowerCase();
            if (DROPPED.has(name) || name.startsWith("x-auth-")) continue;
          }
          out += `${text.slice(fields[i], fields[i + 3])}\r\n`;
        }
        out += `x-request-id: ${requestId}\r\ntraceparent: ${traceparent}\r\nx-forwarded-for: ${client.address}\r\nx-forwarded-proto: http\r\nx-forwarded-host: ${hostHeader}\r\nx-real-ip: ${client.address}\r\n\r\n`;
        const backend = await takeBackend(backendPort);
        backend.exchange = { socket, draft, requestId };
        draft.upstreamStartNs = Bun.nanoseconds();
        backend.socket!.write(Buffer.byteLength(out) === out.length ? out : Buffer.from(out, "latin1"));
      },
      close() {},
      error() {},
    },
  });
  return listener.port;
}
