/**
 * A keep-alive client sends the same header block request after request
 * (an MCP client's token, a browser's cookies). A connection keeps its last
 * head, and its header block's bytes, so the next head whose block is those
 * bytes again is neither decoded nor parsed past its request line: the
 * parser checks the line and shares the rest (withPreviousBlock in
 * request-head.ts), and its headers are the last head's, lookups done
 * (HeadHeaders). Any other head is decoded and parsed whole.
 */
import { MAX_KEPT_HEAD } from "./upstream-header-lines";
import { HeadHeaders } from "../http1/head-headers";
import { isRefusal, parseRequestHead, withPreviousBlock, type RequestHead, type RequestHeadRefusal } from "../http1/request-head";

export class RepeatedHeads {
  private previous: RequestHead | undefined;
  /** `previous`'s header block as bytes, compared with the next head's before any of it is decoded. */
  private block: Buffer | undefined;
  private headers: HeadHeaders | undefined;

  /** The head in `bytes` ending at `end` (its CRLFCRLF included), parsed. */
  parse(bytes: Buffer, end: number): RequestHead | RequestHeadRefusal {
    const head = this.withPreviousBlock(bytes, end) ?? parseRequestHead(bytes.toString("latin1", 0, end - 4));
    if (!isRefusal(head)) this.remember(head);
    return head;
  }

  /** The head's headers: the last head's when the parser shared its block with it. */
  headersOf(head: RequestHead): HeadHeaders {
    const last = this.headers;
    if (last !== undefined && last.reads(head)) return last;
    return (this.headers = new HeadHeaders(head));
  }

  private withPreviousBlock(bytes: Buffer, end: number): RequestHead | undefined {
    const previous = this.previous;
    const block = this.block;
    if (previous === undefined || block === undefined) return undefined;
    const blockEnd = end - 4;
    const blockStart = blockEnd - block.length;
    // A CRLF right before the block; withPreviousBlock makes sure what precedes it is one request line.
    if (blockStart < 2 || bytes[blockStart - 1] !== 10 || bytes[blockStart - 2] !== 13) return undefined;
    if (block.compare(bytes, blockStart, blockEnd) !== 0) return undefined;
    return withPreviousBlock(bytes.toString("latin1", 0, blockStart - 2), blockEnd, previous);
  }

  /** Heads up to MAX_KEPT_HEAD are kept; the block's bytes are copied only when the block changed. */
  private remember(head: RequestHead): void {
    if (head.size > MAX_KEPT_HEAD || head.text === "") {
      this.previous = this.block = undefined;
      return;
    }
    if (this.previous?.text !== head.text) this.block = Buffer.from(head.text, "latin1");
    this.previous = head;
  }
}
