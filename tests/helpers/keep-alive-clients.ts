/**
 * Strict keep-alive HTTP/1.1 clients on raw sockets (plain TCP or TLS,
 * optionally behind a PROXY protocol header): each connection sends its next
 * request the moment the previous response is complete, never retries, and
 * ends when a response says `Connection: close`. fetch() would hide exactly
 * the failures these count: it silently resends a request whose pooled
 * connection was closed under it.
 */
import { ResponseParser } from "../../bench/http-response-parser";

export interface KeepAliveTarget {
  readonly port: number;
  /** The Host header (and the TLS server name). */
  readonly host: string;
  readonly tls?: boolean;
  /** Bytes sent before the first request (a PROXY protocol header). */
  readonly prefix?: Uint8Array;
  readonly path?: string;
}

export interface KeepAliveResult {
  readonly target: string;
  /** Complete responses received on this connection. */
  readonly responses: number;
  /** The last response said Connection: close and the connection ended after it. */
  readonly closedPolitely: boolean;
  /** A request was sent and its response never came complete (the connection closed or reset first). */
  readonly failedRequest: boolean;
  /** Why the connection ended, if not politely. */
  readonly problem?: string;
}

export interface KeepAliveClient {
  readonly responses: number;
  /** Resolves when the connection has ended, however it ended. */
  readonly done: Promise<KeepAliveResult>;
}

/** Opens one connection and keeps it busy until the server asks to close it (or the connection breaks). */
export function keepAliveClient(target: KeepAliveTarget): KeepAliveClient {
  const name = `${target.tls ? "https" : "http"}:${target.port}${target.prefix ? " (PROXY)" : ""}`;
  const request = `GET ${target.path ?? "/"} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`;
  const parser = new ResponseParser();
  const state = { responses: 0, outstanding: false, closedPolitely: false, problem: undefined as string | undefined };
  const { promise, resolve } = Promise.withResolvers<KeepAliveResult>();
  const finish = () =>
    resolve({ target: name, responses: state.responses, closedPolitely: state.closedPolitely, failedRequest: state.outstanding, problem: state.problem });
  const send = (socket: { write(data: string | Uint8Array): number }) => {
    state.outstanding = true;
    socket.write(request);
  };

  Bun.connect({
    hostname: "127.0.0.1",
    port: target.port,
    tls: target.tls ? { rejectUnauthorized: false, serverName: target.host } : undefined,
    socket: {
      open(socket) {
        if (target.prefix) socket.write(target.prefix);
        if (!target.tls) send(socket);
      },
      // `success` is false for the gateway's self-signed certificate, which is not verified here; a failed handshake closes.
      handshake(socket) {
        send(socket);
      },
      data(socket, chunk) {
        for (const response of parser.push(chunk)) {
          state.outstanding = false;
          state.responses++;
          if (response.status !== 200) state.problem ??= `status ${response.status}`;
          if (response.close) {
            state.closedPolitely = true;
            socket.end();
            return;
          }
          send(socket);
        }
      },
      close(_socket, error) {
        if (error) state.problem ??= `closed with ${(error as { code?: string }).code ?? error.message}`;
        else if (!state.closedPolitely) state.problem ??= state.outstanding ? "closed with a request outstanding" : "closed by the server without Connection: close";
        finish();
      },
      error(_socket, error) {
        state.problem ??= `socket error ${(error as { code?: string }).code ?? error.message}`;
      },
      connectError(_socket, error) {
        state.problem = `connect: ${(error as { code?: string }).code ?? error.message}`;
        finish();
      },
    },
  }).catch((error) => {
    state.problem = `connect: ${error?.code ?? error}`;
    finish();
  });

  return {
    get responses() {
      return state.responses;
    },
    done: promise,
  };
}

