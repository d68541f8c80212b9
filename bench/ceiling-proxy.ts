/**
 * The least a Bun proxy can do per request, to measure what the platform
 * allows before any Portcullis code runs. Not a product: it understands only
 * what wrk sends (a GET with no body, the head in one read) and what
 * bench/backend.ts answers (a Content-Length body), and it forwards to one
 * fixed backend over keep-alive connections.
 *
 *   MODE=serve       Bun.serve: read Host, write a two-line request head to a
 *                    pooled Bun.connect socket, answer with the body.
 *   MODE=serve-ip    the same, plus server.requestIP(request) for an
 *                    X-Forwarded-For header, as every proxy that tells its
 *                    backend who the client is must do.
 *   MODE=raw         Bun.listen: no Request or Response objects at all; the
 *                    client address is read once per connection.
 *   MODE=raw-engine  Bun.listen plus the per-request work of Portcullis's
 *                    proxy path, with its own code (bench/ceiling-raw-engine.ts):
 *                    the spike that showed a raw edge worth building.
 *
 * Usage: BACKEND_PORT=N MODE=... bun bench/ceiling-proxy.ts → prints
 * "listening <port>", then serves until SIGTERM/SIGINT.
 */
import type { Socket } from "bun";
import { rawEngine } from "./ceiling-raw-engine";

const BACKEND_PORT = Number(process.env.BACKEND_PORT);
const MODE = process.env.MODE ?? "serve";

/** One keep-alive connection to the backend and the exchange waiting on it. */
class Backend {
  socket: Socket<Backend> | undefined;
  private pending: Buffer | undefined;
  private onBody: ((body: Buffer) => void) | undefined;

  send(head: string, onBody: (body: Buffer) => void): void {
    this.onBody = onBody;
    this.socket!.write(head);
  }

  data(chunk: Buffer): void {
    const bytes = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const end = bytes.indexOf("\r\n\r\n");
    const length = end < 0 ? -1 : contentLength(bytes.toString("latin1", 0, end));
    if (end < 0 || bytes.length < end + 4 + length) {
      this.pending = bytes;
      return;
    }
    this.pending = undefined;
    const done = this.onBody!;
    this.onBody = undefined;
    idle.push(this);
    done(bytes.subarray(end + 4, end + 4 + length));
  }
}

function contentLength(head: string): number {
  const at = head.toLowerCase().indexOf("\r\ncontent-length:");
  if (at < 0) return 0;
  const end = head.indexOf("\r\n", at + 2);
  return Number.parseInt(head.slice(at + 17, end < 0 ? undefined : end), 10);
}

const idle: Backend[] = [];

function takeBackend(): Backend | Promise<Backend> {
  const ready = idle.pop();
  if (ready) return ready;
  const backend = new Backend();
  return Bun.connect<Backend>({
    hostname: "127.0.0.1",
    port: BACKEND_PORT,
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

const RESPONSE_HEADERS = new Headers({ "content-type": "text/plain" });

function serve(withClientIp: boolean): number {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 120,
    async fetch(request, srv) {
      const forwardedFor = withClientIp ? `x-forwarded-for: ${srv.requestIP(request)?.address ?? ""}\r\n` : "";
      const head = `GET / HTTP/1.1\r\nhost: ${request.headers.get("host")}\r\n${forwardedFor}\r\n`;
      const backend = await takeBackend();
      return new Promise<Response>((resolve) => {
        backend.send(head, (body) => resolve(new Response(body, { headers: RESPONSE_HEADERS })));
      });
    },
  });
  return server.port!;
}

/** Per client connection: its address, read once. */
interface Client {
  address: string;
}

const HOST_LINE = /\r\nhost:/i;

function raw(): number {
  const listener = Bun.listen<Client>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      binaryType: "buffer",
      open(socket) {
        socket.data = { address: socket.remoteAddress };
      },
      async data(socket, chunk) {
        const text = chunk.toString("latin1");
        // Found without lower-casing a copy of the head: a longer head (a bearer token) costs only its scan.
        const at = text.search(HOST_LINE);
        const host = at < 0 ? "" : text.slice(at + 7, text.indexOf("\r\n", at + 7)).trim();
        const backend = await takeBackend();
        backend.send(`GET / HTTP/1.1\r\nhost: ${host}\r\nx-forwarded-for: ${socket.data.address}\r\n\r\n`, (body) => {
          socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body.toString("latin1")}`);
        });
      },
      close() {},
      error() {},
    },
  });
  return listener.port;
}

const port = MODE === "raw" ? raw() : MODE === "raw-engine" ? rawEngine(BACKEND_PORT) : serve(MODE === "serve-ip");
console.log(`listening ${port}`);
const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
