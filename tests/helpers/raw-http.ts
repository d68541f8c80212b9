/**
 * Raw HTTP/1.1 over loopback sockets, for tests that attack framing: a client
 * connection that writes exact bytes and reads answers, and a backend that
 * records every byte it receives and frames it itself (by Content-Length, or
 * chunked), answering each request as soon as its head arrives — as Bun.serve
 * and most servers do — so a body announced but never sent swallows whatever
 * comes next on that connection.
 */
import type { Socket } from "bun";

/** One keep-alive client connection; `send` writes bytes and collects what arrives until `idleMs` of silence or close. */
export interface RawConnection {
  send(bytes: string | Uint8Array, idleMs?: number): Promise<string>;
  readonly closed: boolean;
  close(): void;
}

export async function rawConnection(port: number): Promise<RawConnection> {
  let text = "";
  let closed = false;
  let last = Date.now();
  const decoder = new TextDecoder("latin1");
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, chunk) {
        text += decoder.decode(chunk, { stream: true });
        last = Date.now();
      },
      close() {
        closed = true;
      },
      error() {
        closed = true;
      },
    },
  });
  return {
    async send(bytes, idleMs = 100) {
      text = "";
      last = Date.now();
      if (!closed) socket.write(bytes);
      const deadline = Date.now() + 5_000;
      while (!closed && Date.now() < deadline && Date.now() - last < idleMs) await Bun.sleep(5);
      return text;
    },
    get closed() {
      return closed;
    },
    close: () => socket.end(),
  };
}

/**
 * The status lines of the responses in what a server answered, read in
 * sequence by their framing (Content-Length; bodiless otherwise), so a
 * response that follows a body on the same line is found too and text
 * inside a body is never taken for a response.
 */
export const statusLines = (answer: string): string[] => {
  const found: string[] = [];
  let at = 0;
  while (at < answer.length) {
    const status = /^HTTP\/1\.1 \d{3}/.exec(answer.slice(at, at + 12));
    const end = answer.indexOf("\r\n\r\n", at);
    if (!status || end < 0) break;
    found.push(status[0]);
    const head = answer.slice(at, end + 2);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    const lastChunk = /\r\ntransfer-encoding: *chunked/i.test(head) ? answer.indexOf("0\r\n\r\n", end + 4) : -1;
    at = lastChunk >= 0 ? lastChunk + 5 : end + 4 + (length ? Number(length[1]) : 0);
  }
  return found;
};

export interface RecordedRequest {
  /** The head as received, request line first, without the blank line. */
  readonly head: string;
  readonly body: Buffer;
  readonly connection: number;
}

interface BackendState {
  id: number;
  buffer: Buffer;
  /** The request whose body is still being read. */
  pending?: { head: string; remaining: number; chunks: Buffer[] };
}

/** A backend that records every request it frames from the bytes received. */
export function startRecordingBackend() {
  const requests: RecordedRequest[] = [];
  let connections = 0;
  const listener = Bun.listen<BackendState>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { id: ++connections, buffer: Buffer.alloc(0) };
      },
      data(socket, chunk) {
        const state = socket.data;
        state.buffer = Buffer.concat([state.buffer, chunk]);
        frame(socket, state);
      },
    },
  });

  function frame(socket: Socket<BackendState>, state: BackendState): void {
    for (;;) {
      const pending = state.pending;
      if (pending) {
        const take = Math.min(pending.remaining, state.buffer.length);
        pending.chunks.push(state.buffer.subarray(0, take));
        state.buffer = state.buffer.subarray(take);
        pending.remaining -= take;
        if (pending.remaining > 0) return;
        requests.push({ head: pending.head, body: Buffer.concat(pending.chunks), connection: state.id });
        state.pending = undefined;
        continue;
      }
      const end = state.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = state.buffer.toString("latin1", 0, end);
      state.buffer = state.buffer.subarray(end + 4);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      // Answered at once, before the body: the connection is free for the next request as soon as the body is read.
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
        const last = state.buffer.indexOf("0\r\n\r\n");
        if (last < 0) return; // tests send small chunked bodies in one piece
        requests.push({ head, body: state.buffer.subarray(0, last + 5), connection: state.id });
        state.buffer = state.buffer.subarray(last + 5);
        continue;
      }
      state.pending = { head, remaining: length, chunks: [] };
    }
  }

  return {
    url: `http://127.0.0.1:${listener.port}`,
    requests,
    stop: () => listener.stop(true),
  };
}
