/**
 * Incremental decoder for `Transfer-Encoding: chunked` bodies. Data is handed
 * on as views into the received buffers (no copies). Chunk extensions and
 * trailers are read and dropped: Bun.serve cannot send trailers to the client.
 */

const enum State {
  Size,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerLineStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
  Done,
}

const MAX_SIZE_LINE = 4096;
const MAX_TRAILER_BYTES = 64 * 1024;

export type DecodeResult = "more" | "done" | "error";

export class ChunkedDecoder {
  private state = State.Size;
  private sizeLine = "";
  private remaining = 0;
  private trailerBytes = 0;
  /** Bytes after the terminating chunk: not part of this response. */
  leftover = 0;

  /** Decodes `input`, calling `emit` for each run of body bytes. */
  push(input: Uint8Array, emit: (data: Uint8Array) => void): DecodeResult {
    let i = 0;
    const n = input.length;
    while (i < n) {
      switch (this.state) {
        case State.Size: {
          const byte = input[i++]!;
          if (byte === 13) this.state = State.SizeLf;
          else if (byte === 10 || this.sizeLine.length >= MAX_SIZE_LINE) return "error";
          else this.sizeLine += String.fromCharCode(byte);
          break;
        }
        case State.SizeLf: {
          if (input[i++] !== 10) return "error";
          const semicolon = this.sizeLine.indexOf(";");
          const hex = (semicolon < 0 ? this.sizeLine : this.sizeLine.slice(0, semicolon)).trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) return "error";
          this.remaining = parseInt(hex, 16);
          this.sizeLine = "";
          this.state = this.remaining === 0 ? State.TrailerLineStart : State.Data;
          break;
        }
        case State.Data: {
          const take = Math.min(this.remaining, n - i);
          emit(input.subarray(i, i + take));
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (input[i++] !== 13) return "error";
          this.state = State.DataLf;
          break;
        case State.DataLf:
          if (input[i++] !== 10) return "error";
          this.state = State.Size;
          break;
        case State.TrailerLineStart:
          if (input[i] === 13) {
            i++;
            this.state = State.FinalLf;
          } else {
            this.state = State.TrailerLine;
          }
          break;
        case State.TrailerLine:
          if (++this.trailerBytes > MAX_TRAILER_BYTES) return "error";
          if (input[i++] === 13) this.state = State.TrailerLf;
          break;
        case State.TrailerLf:
          if (input[i++] !== 10) return "error";
          this.state = State.TrailerLineStart;
          break;
        case State.FinalLf:
          if (input[i++] !== 10) return "error";
          this.state = State.Done;
          break;
        case State.Done:
          this.leftover += n - i;
          return "done";
      }
    }
    return this.state === State.Done ? "done" : "more";
  }
}
