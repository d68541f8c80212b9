/**
 * The bytes a Redis server sends back to `AUTH …` and then `SYNC`: the AUTH
 * reply (a simple string or an error), then, while the server forks and writes its
 * snapshot, bare "\n" keep-alives, then `$<length>\r\n` and exactly that many
 * bytes of RDB. Everything the server sends after them (the replication
 * stream) is not part of the snapshot. Pure: bytes in, a result out, so the
 * framing is tested without a socket.
 */

export type SyncReplyResult =
  | { kind: "more" }
  /** AUTH succeeded: now send SYNC (Redis refuses SYNC while a reply to the client is still pending). */
  | { kind: "authenticated" }
  | { kind: "refused"; message: string } | { kind: "snapshot"; rdb: Uint8Array };

/** A snapshot larger than this is refused rather than held in memory. */
export const MAX_SNAPSHOT_BYTES = 2 * 1024 ** 3;
const MAX_LINE_BYTES = 64 * 1024;

export class SyncReplyReader {
  #buffer: Uint8Array = new Uint8Array(0);
  #awaitingAuth: boolean;
  #length: number | undefined;
  /** Snapshot bytes, kept as chunks: copying them together once avoids a quadratic cost on large snapshots. */
  #body: Uint8Array[] = [];
  #bodyBytes = 0;

  constructor(options: { authSent: boolean }) {
    this.#awaitingAuth = options.authSent;
  }

  push(chunk: Uint8Array): SyncReplyResult {
    if (this.#length !== undefined) return this.#collect(chunk);
    this.#buffer = concat(this.#buffer, chunk);
    for (;;) {
      if (this.#length !== undefined) {
        const rest = this.#buffer;
        this.#buffer = new Uint8Array(0);
        return this.#collect(rest);
      }
      // Keep-alives while the server prepares the snapshot.
      if (!this.#awaitingAuth && this.#buffer[0] === 0x0a) {
        this.#buffer = this.#buffer.subarray(1);
        continue;
      }
      const end = indexOfCrLf(this.#buffer);
      if (end < 0) {
        if (this.#buffer.length > MAX_LINE_BYTES) return { kind: "refused", message: "the server's reply is not the Redis protocol" };
        return { kind: "more" };
      }
      const line = new TextDecoder().decode(this.#buffer.subarray(0, end));
      this.#buffer = this.#buffer.subarray(end + 2);
      if (line.startsWith("-")) return { kind: "refused", message: line.slice(1) };
      if (this.#awaitingAuth) {
        if (!line.startsWith("+")) return { kind: "refused", message: `unexpected reply to AUTH: ${printable(line)}` };
        this.#awaitingAuth = false;
        return { kind: "authenticated" };
      }
      const length = /^\$(\d{1,12})$/.exec(line);
      if (!length) {
        // `$EOF:<mark>` is the diskless format, sent only to replicas that announce `capa eof` (this reader does not).
        return { kind: "refused", message: `unexpected reply to SYNC: ${printable(line)}` };
      }
      const bytes = Number(length[1]);
      if (bytes > MAX_SNAPSHOT_BYTES) return { kind: "refused", message: `the snapshot is ${bytes} bytes, more than the ${MAX_SNAPSHOT_BYTES} a backup holds` };
      this.#length = bytes;
    }
  }

  #collect(chunk: Uint8Array): SyncReplyResult {
    const length = this.#length!;
    if (chunk.length > 0 && this.#bodyBytes < length) {
      this.#body.push(chunk);
      this.#bodyBytes += chunk.length;
    }
    if (this.#bodyBytes < length) return { kind: "more" };
    return { kind: "snapshot", rdb: joinChunks(this.#body, length) };
  }
}

function joinChunks(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    const take = Math.min(chunk.length, length - at);
    out.set(chunk.subarray(0, take), at);
    at += take;
    if (at === length) break;
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function indexOfCrLf(bytes: Uint8Array): number {
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) return i;
  return -1;
}

function printable(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
}
