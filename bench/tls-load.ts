/**
 * A strict keep-alive HTTPS (or, without `ca`, plain HTTP) load generator on raw sockets: each
 * connection sends its next GET the moment the previous response is complete,
 * never retries, and counts every way a request or connection can go wrong.
 * (fetch() would hide failures: it silently retries a request whose pooled
 * connection was closed under it.)
 */
import { ResponseParser } from "./http-response-parser";

export interface LoadCounts {
  /** Complete 200 responses. */
  ok: number;
  /** Responses with another status. */
  badStatus: number;
  /** Requests sent whose response never came complete (the connection closed or reset first). */
  failedRequests: number;
  /** Connections that ended with ECONNRESET/EPIPE or a TLS error. */
  resets: number;
  /** Connections the server closed while the client was still using them (no request outstanding). */
  serverCloses: number;
  /** Connections the server ended politely: a response with `Connection: close`, after which the client reconnects. */
  politeCloses: number;
  /** Connections that could not be opened or failed their handshake. */
  connectErrors: number;
  /** Connections opened in total (stays at `connections` when nothing is dropped). */
  opened: number;
  /** Distinct error texts, for the failure message. */
  errors: string[];
}

export interface LoadOptions {
  readonly port: number;
  /** SNI and Host. */
  readonly host: string;
  /** The CA to trust for HTTPS, or `insecure` to accept any certificate (a self-signed fallback); absent: plain HTTP. */
  readonly ca?: string;
  /** Bytes sent first on every connection (a PROXY protocol header). */
  readonly prefix?: Uint8Array;
  readonly connections: number;
  readonly path?: string;
}

export interface RunningLoad {
  readonly counts: LoadCounts;
  /** Stops sending, lets each connection finish its outstanding request, closes them; resolves with the counts. */
  stop(): Promise<LoadCounts>;
}

export function startTlsLoad(options: LoadOptions): RunningLoad {
  const counts: LoadCounts = { ok: 0, badStatus: 0, failedRequests: 0, resets: 0, serverCloses: 0, politeCloses: 0, connectErrors: 0, opened: 0, errors: [] };
  const note = (text: string) => counts.errors.includes(text) || counts.errors.push(text);
  const request = `GET ${options.path ?? "/"} HTTP/1.1\r\nHost: ${options.host}\r\n\r\n`;
  let running = true;

  const connection = () =>
    new Promise<void>((resolve) => {
      const parser = new ResponseParser();
      let outstanding = false;
      let clientClosing = false;
      let handshook = false;
      Bun.connect({
        hostname: "127.0.0.1",
        port: options.port,
        tls:
          options.ca === undefined
            ? undefined
            : options.ca === "insecure"
              ? { rejectUnauthorized: false, serverName: options.host }
              : { ca: options.ca, serverName: options.host },
        socket: {
          open(socket) {
            if (options.prefix) socket.write(options.prefix);
            if (options.ca !== undefined) return;
            handshook = true;
            counts.opened++;
            outstanding = true;
            socket.write(request);
          },
          handshake(socket, success, error) {
            // `success` also says whether the certificate was verified: false for any certificate when not verifying.
            if (!success && options.ca !== "insecure") {
              counts.connectErrors++;
              note(`handshake: ${error?.message}`);
              socket.terminate();
              return;
            }
            handshook = true;
            counts.opened++;
            outstanding = true;
            socket.write(request);
          },
          data(socket, chunk) {
            for (const { status, close } of parser.push(chunk)) {
              outstanding = false;
              if (status === 200) counts.ok++;
              else {
                counts.badStatus++;
                note(`status ${status}`);
              }
              if (close) counts.politeCloses++;
              if (!running || close) {
                clientClosing = true;
                socket.end();
                return;
              }
              outstanding = true;
              socket.write(request);
            }
          },
          close(_socket, error) {
            if (error) {
              counts.resets++;
              const when = handshook ? "" : " before the TLS handshake completed";
              note(`closed with ${(error as { code?: string }).code ?? error.message}${when}`);
            }
            if (outstanding) {
              counts.failedRequests++;
              note("connection closed with a request outstanding");
            } else if (!clientClosing && !error) {
              counts.serverCloses++;
              note("server closed a keep-alive connection");
            }
            resolve();
          },
          error(_socket, error) {
            note(`socket error ${(error as { code?: string }).code ?? error.message}`);
          },
          connectError(_socket, error) {
            counts.connectErrors++;
            note(`connect: ${(error as { code?: string }).code ?? error.message}`);
            resolve();
          },
        },
      }).catch((error) => {
        counts.connectErrors++;
        note(`connect: ${error?.code ?? error}`);
        resolve();
      });
    });

  // Each slot keeps one connection busy, and opens a new one if it is lost (which the counts record).
  const slots = Array.from({ length: options.connections }, async () => {
    while (running) await connection();
  });
  return {
    counts,
    async stop() {
      running = false;
      await Promise.race([Promise.all(slots), Bun.sleep(5_000)]);
      return counts;
    },
  };
}

