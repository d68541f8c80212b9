/**
 * The last response head parsed on a pool, by its exact bytes. A backend
 * answering one route under load sends the same head again and again (only
 * Date changes, once a second), so comparing bytes (memcmp) usually replaces
 * decoding and parsing them. Identical bytes give an identical parse, except
 * for HEAD requests, whose framing differs: those are never served from here.
 * Cached heads are shared: their header arrays must not be modified.
 */
import { parseResponseHead, type ResponseHead } from "./response-head";

export class HeadCache {
  private bytes: Buffer | undefined;
  private head: ResponseHead | undefined;

  /** Parses `source[start, end)` (the head without its final CRLFCRLF), from the cache when possible. */
  parse(source: Buffer, start: number, end: number, method: string): ResponseHead | string {
    const cached = this.bytes;
    const length = end - start;
    if (cached !== undefined && cached.length === length && method !== "HEAD" && source.compare(cached, 0, length, start, end) === 0) {
      return this.head!;
    }
    const parsed = parseResponseHead(source.toString("latin1", start, end), method);
    if (typeof parsed !== "string" && parsed.status >= 200 && method !== "HEAD") {
      this.bytes = Buffer.from(source.subarray(start, end));
      this.head = parsed;
    }
    return parsed;
  }
}
