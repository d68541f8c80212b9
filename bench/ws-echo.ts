/**
 * WebSocket echo round trips: each connection sends one small binary message,
 * waits for its echo, and sends the next, so every sample is one full round trip
 * (client → proxy → backend → proxy → client) and nothing queues up.
 *
 * Standalone: bun bench/ws-echo.ts --url ws://127.0.0.1:PORT/ws [--host bench.local]
 *             [--connections 1] [--messages 20000] [--bytes 32]   → JSON on stdout
 */
import { parseArgs } from "node:util";

export interface WsEchoOptions {
  readonly url: string;
  /** Host header to send (Portcullis picks the proxy by it); default: the URL's host. */
  readonly host?: string;
  readonly connections: number;
  readonly messagesPerConnection: number;
  readonly payloadBytes: number;
  /** The whole run (connect + all round trips) is aborted after this. */
  readonly timeoutMs: number;
}

export interface WsEchoResult {
  readonly connections: number;
  readonly messages: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  readonly rttMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentileOf(sorted: Float64Array, pct: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((pct / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

function connect(url: string, host: string | undefined, sockets: WebSocket[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // Bun's WebSocket client accepts headers, including Host, as a second argument.
    const ws = new WebSocket(url, host ? { headers: { Host: host } } : undefined);
    sockets.push(ws);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`WebSocket ${url} (Host ${host ?? "default"}): connection failed`));
  });
}

/** Ping-pong `count` messages on one open socket, writing each RTT into rtts[offset..]. */
function pingPong(ws: WebSocket, payload: Uint8Array, count: number, rtts: Float64Array, offset: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let sentAt = 0;
    const sendNext = () => {
      sentAt = performance.now();
      sent++;
      ws.send(payload);
    };
    // Callbacks, not an awaited promise per message: the loop itself should cost
    // as little as possible next to the round trip it measures.
    ws.onmessage = (event: MessageEvent) => {
      rtts[offset + sent - 1] = performance.now() - sentAt;
      const size = (event.data as ArrayBuffer).byteLength;
      if (size !== payload.byteLength) {
        reject(new Error(`echo of ${payload.byteLength} bytes came back as ${size}`));
        return;
      }
      if (sent < count) sendNext();
      else resolve();
    };
    ws.onclose = (event: CloseEvent) => {
      if (sent < count) reject(new Error(`WebSocket closed after ${sent}/${count} messages (code ${event.code})`));
    };
    sendNext();
  });
}

export async function runWsEcho(options: WsEchoOptions): Promise<WsEchoResult> {
  const payload = new Uint8Array(options.payloadBytes).fill(0x61);
  const total = options.connections * options.messagesPerConnection;
  const rtts = new Float64Array(total);
  const sockets: WebSocket[] = [];
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`WebSocket echo run exceeded ${options.timeoutMs} ms`)), options.timeoutMs);
  });
  try {
    const run = async () => {
      // Connect everything first so the timed part is only round trips.
      const opened = await Promise.all(Array.from({ length: options.connections }, () => connect(options.url, options.host, sockets)));
      const started = performance.now();
      await Promise.all(opened.map((ws, i) => pingPong(ws, payload, options.messagesPerConnection, rtts, i * options.messagesPerConnection)));
      return (performance.now() - started) / 1000;
    };
    const seconds = await Promise.race([run(), timeout]);
    rtts.sort();
    return {
      connections: options.connections,
      messages: total,
      seconds,
      messagesPerSecond: total / seconds,
      rttMs: { p50: percentileOf(rtts, 50), p99: percentileOf(rtts, 99), max: rtts[rtts.length - 1] ?? Number.NaN },
    };
  } finally {
    clearTimeout(timer);
    for (const ws of sockets) {
      ws.onclose = null;
      ws.close();
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      host: { type: "string" },
      connections: { type: "string", default: "1" },
      messages: { type: "string", default: "20000" },
      bytes: { type: "string", default: "32" },
      timeout: { type: "string", default: "120" },
    },
  });
  if (!values.url) {
    console.error("usage: bun bench/ws-echo.ts --url ws://127.0.0.1:PORT/ws [--host H] [--connections N] [--messages N] [--bytes N]");
    process.exit(2);
  }
  const result = await runWsEcho({
    url: values.url,
    host: values.host,
    connections: Number(values.connections),
    messagesPerConnection: Number(values.messages),
    payloadBytes: Number(values.bytes),
    timeoutMs: Number(values.timeout) * 1000,
  });
  console.log(JSON.stringify(result, null, 2));
}
