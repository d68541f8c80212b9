/**
 * A point-in-time snapshot of a whole Redis dataset, taken the way a new
 * replica takes it (and `redis-cli --rdb`): `SYNC` makes the server fork and
 * stream an RDB of every database as it was at the fork. It works the same
 * for the embedded server's unix socket and a remote REDIS_URL, needs no
 * access to the Redis machine's files, and does not pause the gateway.
 */
import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { SyncReplyReader } from "./sync-reply";

export type SnapshotSource = { path: string; password?: string } | { url: string; password?: string };

export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/** Keep-alives arrive every second while the server writes its snapshot; this long without a byte means it is stuck. */
const IDLE_TIMEOUT_MS = 60_000;

export function fetchSnapshot(source: SnapshotSource, options: { idleTimeoutMs?: number } = {}): Promise<Uint8Array> {
  const { socket, auth, where } = open(source);
  const reader = new SyncReplyReader({ authSent: auth !== null });
  return new Promise<Uint8Array>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, rdb?: Uint8Array) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(rdb!);
    };
    socket.setTimeout(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS, () =>
      finish(new SnapshotError(`${where} sent nothing for ${(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS) / 1000} s while taking a snapshot`)),
    );
    socket.on("error", (err) => finish(new SnapshotError(`cannot take a snapshot of ${where}: ${err.message}`)));
    socket.on("close", () => finish(new SnapshotError(`${where} closed the connection before the snapshot was complete`)));
    socket.on("data", (chunk: Buffer) => {
      const result = reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      if (result.kind === "authenticated") socket.write(command(["SYNC"]));
      else if (result.kind === "snapshot") finish(null, result.rdb);
      else if (result.kind === "refused") finish(new SnapshotError(`${where} refused the snapshot (SYNC): ${result.message}`));
    });
    socket.write(command(auth ? ["AUTH", ...auth] : ["SYNC"]));
  });
}

function open(source: SnapshotSource): { socket: Socket; auth: string[] | null; where: string } {
  if ("path" in source) {
    return { socket: connectTcp({ path: source.path }), auth: source.password ? [source.password] : null, where: `the Redis at unix:${source.path}` };
  }
  const url = new URL(source.url);
  const password = source.password ?? (url.password ? decodeURIComponent(url.password) : "");
  const user = url.username ? decodeURIComponent(url.username) : "";
  const auth = password ? (user ? [user, password] : [password]) : null;
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || 6379);
  const socket = url.protocol === "rediss:" ? connectTls({ host, port, servername: host }) : connectTcp({ host, port });
  return { socket, auth, where: `the Redis at ${url.protocol}//${url.host}` };
}

function command(args: string[]): string {
  return `*${args.length}\r\n` + args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join("");
}
