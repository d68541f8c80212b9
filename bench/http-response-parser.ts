/** HTTP/1.1 response framing (Content-Length or chunked), enough for the load clients of bench/ and tests/ to tell where each response ends. */
export class ResponseParser {
  private buffer = "";
  private status = 0;
  /** Body bytes still to come, or -1 while reading chunk sizes, or -2 while reading the head. */
  private remaining = -2;
  private chunked = false;
  private close = false;

  /** Feeds bytes; returns the responses they completed: status, and whether the server will close. */
  push(chunk: Uint8Array): { status: number; close: boolean }[] {
    this.buffer += Buffer.from(chunk).toString("latin1");
    const done: { status: number; close: boolean }[] = [];
    for (;;) {
      if (this.remaining === -2) {
        const end = this.buffer.indexOf("\r\n\r\n");
        if (end < 0) return done;
        const head = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 4);
        this.status = Number(head.slice(9, 12));
        this.close = /\r\nconnection:\s*close/i.test(head);
        this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        this.remaining = this.chunked ? -1 : length ? Number(length[1]) : 0;
      }
      if (this.chunked && this.remaining === -1) {
        const end = this.buffer.indexOf("\r\n");
        if (end < 0) return done;
        const size = parseInt(this.buffer.slice(0, end), 16);
        if (size === 0) {
          // The last chunk, then an (empty) trailer section.
          const trailerEnd = this.buffer.indexOf("\r\n\r\n");
          if (trailerEnd < 0) return done;
          this.buffer = this.buffer.slice(trailerEnd + 4);
          this.remaining = -2;
          done.push({ status: this.status, close: this.close });
          continue;
        }
        this.buffer = this.buffer.slice(end + 2);
        this.remaining = size + 2; // the chunk and its CRLF
      }
      if (this.buffer.length < this.remaining) return done;
      this.buffer = this.buffer.slice(this.remaining);
      if (this.chunked) this.remaining = -1;
      else {
        this.remaining = -2;
        done.push({ status: this.status, close: this.close });
      }
    }
  }
}
