/**
 * A load generator that never retries: `connections` raw keep-alive HTTP/1.1
 * connections, each sending its next request the moment a response is
 * complete. A connection that breaks with a request outstanding counts one
 * failed request (with its time); it is then replaced by a new connection,
 * whose requests are new ones, not resends. Every completed response is
 * timed too, so a test can say what happened before and after an event.
 */
import { ResponseParser } from "../../bench/http-response-parser";

export interface LoadLoopResult {
  /** Completion times (ms since the epoch) of 2xx responses. */
  readonly successes: readonly number[];
  /** Times a request was lost with its connection. */
  readonly failures: readonly number[];
  /** Responses that were not 2xx, with their time. */
  readonly badStatuses: readonly { at: number; status: number }[];
  /** Connections that could not be opened (not a request: nothing was sent). */
  readonly connectFailures: number;
}

export interface LoadLoop {
  /** Stops opening connections and sending requests; closes what is open. */
  stop(): Promise<LoadLoopResult>;
  readonly successes: number;
}

export function startLoadLoop(target: { port: number; host: string; path?: string; connections: number }): LoadLoop {
  const request = `GET ${target.path ?? "/"} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`;
  const successes: number[] = [];
  const failures: number[] = [];
  const badStatuses: { at: number; status: number }[] = [];
  let connectFailures = 0;
  let running = true;
  const open = new Set<{ end(): void }>();
  const lanes: Promise<void>[] = [];

  /** One connection's life; resolves when it has ended. */
  const connection = () =>
    new Promise<void>((resolve) => {
      const parser = new ResponseParser();
      let outstanding = false;
      let ended = false;
      const end = (lost: boolean) => {
        if (ended) return;
        ended = true;
        if (lost) failures.push(Date.now());
        resolve();
      };
      const send = (socket: { write(data: string): number }) => {
        outstanding = true;
        socket.write(request);
      };
      Bun.connect({
        hostname: "127.0.0.1",
        port: target.port,
        socket: {
          open(socket) {
            open.add(socket);
            if (!running) return void socket.end();
            send(socket);
          },
          data(socket, chunk) {
            for (const response of parser.push(chunk)) {
              outstanding = false;
              const at = Date.now();
              if (response.status >= 200 && response.status < 300) successes.push(at);
              else badStatuses.push({ at, status: response.status });
              if (response.close || !running) return void socket.end();
              send(socket);
            }
          },
          close(socket) {
            open.delete(socket);
            end(outstanding && running);
          },
          error() {},
          connectError() {
            connectFailures++;
            end(false);
          },
        },
      }).catch(() => {
        connectFailures++;
        end(false);
      });
    });

  for (let i = 0; i < target.connections; i++) {
    lanes.push(
      (async () => {
        while (running) {
          await connection();
          // A refused connect would otherwise spin.
          if (running) await Bun.sleep(5);
        }
      })(),
    );
  }

  return {
    get successes() {
      return successes.length;
    },
    async stop() {
      running = false;
      for (const socket of open) socket.end();
      await Promise.all(lanes);
      return { successes, failures, badStatuses, connectFailures };
    },
  };
}
