/**
 * The header lines a connection's last request went upstream with, minus its
 * X-Request-Id and traceparent (visitUntracedUpstreamHeaders). A client
 * sends the same headers request after request (an MCP client, a browser,
 * a load balancer's keep-alive connection), and building them again is string
 * work of about a microsecond per request, more with a bearer token and
 * identity headers. They are reused only when everything they are made from
 * is the same: the client's header block byte for byte, the target (a config
 * change makes a new one), the edge auth's identity plan (one per token and
 * policy), the client's address and trust, and whether the client's trace
 * was continued.
 */
import type { ForwardContext, ForwardTarget, IdentityRewrite } from "../../proxies/forward-target";
import type { HeaderView } from "../../proxies/header-view";
import { visitUntracedUpstreamHeaders } from "../../proxies/headers";
import type { RequestTrace } from "../../proxies/request-trace";
import type { RequestHead } from "../http1/request-head";

export interface HeaderLines {
  /** `name: value\r\n` for each header, flat (not a rope of pieces). */
  readonly text: string;
  /** Only ASCII: the head can go to the socket as a string. Otherwise it holds latin1 bytes a client sent. */
  readonly ascii: boolean;
}

/**
 * Lines are kept for reuse only from heads up to this size, request line
 * included (the block kept to compare is a slice of the head's string), and
 * a connection keeps its last head for the parser (request-head.ts) only up
 * to this size too. Usual heads, a bearer token or a few cookies included,
 * are well under it; an idle connection then holds at most this much, and
 * its lines, until its next request.
 */
export const MAX_KEPT_HEAD = 8 * 1024;

export class UpstreamHeaderLines {
  private block: string | undefined;
  private target: ForwardTarget | undefined;
  private identity: IdentityRewrite | undefined;
  private clientIp = "";
  private trustedPeer = false;
  private continued = false;
  private lines: HeaderLines = { text: "", ascii: true };

  /** This request's lines: the last ones when nothing they depend on changed, else built now (and kept for the next). */
  get(head: RequestHead, headers: HeaderView, target: ForwardTarget, context: ForwardContext & { readonly trace: RequestTrace }): HeaderLines {
    // The header block after the request line: the parser derives every field from it alone. A block the
    // parser found repeated is the same string as the last one, so comparing it costs nothing.
    const block = head.text;
    const { identity, clientIp, trustedPeer } = context;
    const continued = context.trace.continued;
    if (
      block === this.block &&
      target === this.target &&
      identity === this.identity &&
      clientIp === this.clientIp &&
      trustedPeer === this.trustedPeer &&
      continued === this.continued
    ) {
      return this.lines;
    }
    let text = "";
    visitUntracedUpstreamHeaders(headers, target, context, (name, value) => {
      text += `${name}: ${value}\r\n`;
    });
    // byteLength also flattens the rope of pieces, once: each reuse then copies one string.
    const lines = { text, ascii: Buffer.byteLength(text) === text.length };
    if (head.size > MAX_KEPT_HEAD) {
      this.block = undefined;
      return lines;
    }
    this.block = block;
    this.target = target;
    this.identity = identity;
    this.clientIp = clientIp;
    this.trustedPeer = trustedPeer;
    this.continued = continued;
    this.lines = lines;
    return lines;
  }
}
