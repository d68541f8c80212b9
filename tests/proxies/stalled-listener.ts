/**
 * A loopback port whose TCP connects never complete, to test connect timeouts
 * without sending a packet beyond 127.0.0.1.
 *
 * Technique: a socket made with libc (bun:ffi) that listens with backlog 0 and
 * is never accept()ed. Linux queues one finished handshake; once that slot is
 * taken by a filler connection, further SYNs are dropped (the accept queue is
 * full), so the next connect hangs in SYN retransmission until the caller's
 * timeout. Bun.listen cannot do this: it always accepts.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

const libc = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
});

const AF_INET = 2;
const SOCK_STREAM = 1;

export interface StalledListener {
  readonly port: number;
  close(): void;
}

export async function startStalledListener(): Promise<StalledListener> {
  const fd = libc.symbols.socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw new Error("socket() failed");
  const address = new Uint8Array(16); // struct sockaddr_in: family, port 0, 127.0.0.1
  address[0] = AF_INET;
  address.set([127, 0, 0, 1], 4);
  if (libc.symbols.bind(fd, ptr(address), 16) !== 0 || libc.symbols.listen(fd, 0) !== 0) {
    libc.symbols.close(fd);
    throw new Error("bind/listen failed");
  }
  const length = new Uint32Array([16]);
  libc.symbols.getsockname(fd, ptr(address), ptr(length));
  const port = (address[2]! << 8) | address[3]!;

  // Fill the accept queue: connect until one attempt does not complete quickly.
  const fillers: { end(): void }[] = [];
  for (let i = 0; i < 8; i++) {
    const attempt = Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    const socket = await Promise.race([attempt, Bun.sleep(200).then(() => undefined)]);
    if (!socket) {
      attempt.then((s) => fillers.push(s), () => {});
      break;
    }
    fillers.push(socket);
  }
  return {
    port,
    close() {
      for (const socket of fillers) socket.end();
      libc.symbols.close(fd);
    },
  };
}
