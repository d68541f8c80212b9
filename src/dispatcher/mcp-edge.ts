/**
 * The edge at an MCP proxy's endpoint (src/mcp), in two steps around
 * authentication:
 * 1. before it, a request whose Origin the proxy does not allow is refused
 *    (DNS-rebinding protection; a CORS preflight is let through);
 * 2. after it, a POST's JSON-RPC body is read (up to MAX_READ bytes, sent with
 *    a Content-Length), its Mcp-Method / Mcp-Name headers are held to it for
 *    2026-07-28 clients, the scopes its calls need are checked against the
 *    token, the gates (rate limits) run, and the same bytes go to the
 *    backend; a tools/list answer is filtered when the proxy asks for it.
 * A body that is not read (streamed, or larger) counts as an unknown method,
 * which needs every scope the policy names. The body is read only when
 * something depends on it. Nothing here waits on Redis.
 */
import type { EdgeAuthPolicy } from "../auth/edge/policy";
import { metadataUrlFor } from "../auth/edge/request-origin";
import type { AccessTokenClaims } from "../auth/tokens/access-token";
import { insufficientScope, jsonRpcError, originRefused, scopesUncheckable, tokenNeeded, type ChallengeFacts } from "../mcp/answers";
import { readJsonRpcBody, type JsonRpcId, type McpMessage } from "../mcp/json-rpc-body";
import type { McpEndpoint } from "../mcp/mcp-endpoint";
import { allowsBatches, definesStandardHeaders } from "../mcp/protocol-version";
import { hasScopes, union } from "../mcp/scope-policy";
import { HEADER_MISMATCH, headerMismatch, standardHeadersOf } from "../mcp/standard-headers";
import { filterToolsList } from "../mcp/tools-list-filter";
import { reportedClientIp } from "../mcp/rate-limit/caller-key";
import { upstreamErrorResponse } from "../proxies/errors";
import { clientFacts, type EdgeFacts } from "./edge-auth";

/** Bodies up to this size (what the forwarder sends whole anyway) are read and checked; larger ones stream through unread. */
export const MAX_READ = 64 * 1024;

/** Sends the request on: with the body bytes already read, or with its own stream. */
export type SendUpstream = (body?: Uint8Array) => Promise<Response>;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Step 1, before auth: a refusal for a foreign Origin, the exchange that
 * checks a POST after auth, or null when the edge has nothing to do here.
 */
export function openMcpExchange(
  mcp: McpEndpoint,
  request: Request,
  path: string,
  proto: "http" | "https",
  trustedPeer: boolean,
  clientIp: string,
  /** The request is recorded (request log, access log): the body is read for its method and tool even with nothing to check. */
  recordCalls = false,
): Response | McpExchange | null {
  const headers = request.headers;
  const origin = headers.get("origin");
  const post = request.method === "POST";
  if ((origin === null && !post) || !mcp.isEndpointPath(path)) return null;
  const facts = clientFacts(request, proto, path, trustedPeer);
  // A preflight carries no credentials and causes nothing; the request it announces is checked.
  const preflight = request.method === "OPTIONS" && headers.has("access-control-request-method");
  if (origin !== null && !preflight && !mcp.origins.allows(origin, facts.host)) return originRefused(origin);
  if (!post) return null;
  const version = headers.get("mcp-protocol-version");
  const holdHeaders = definesStandardHeaders(version);
  const checks = holdHeaders || !mcp.scopes.empty || mcp.gates.length > 0;
  if (!checks && !recordCalls) return null;
  return new McpExchange(mcp, request, facts, version, holdHeaders, trustedPeer ? reportedClientIp(headers, clientIp) : clientIp, checks);
}

/** Step 2, after auth: one POST to the endpoint. */
export class McpExchange {
  constructor(
    private readonly mcp: McpEndpoint,
    private readonly request: Request,
    private readonly facts: EdgeFacts,
    private readonly version: string | null,
    private readonly holdHeaders: boolean,
    /** Whom a gate counts a call without a verified token against. */
    private readonly clientIp: string,
    /** False when the body is read only to record its call: then whatever it holds goes to the backend as it came. */
    private readonly checks = true,
  ) {}

  /** The JSON-RPC method of the body's first message and, for tools/call, the tool: known once the body was read. */
  call: { readonly method: string; readonly tool: string | undefined } | null = null;

  /** Checks the body against what auth decided (`identity`, `auth`), then sends it on, or answers instead. */
  forward(identity: AccessTokenClaims | null, auth: EdgeAuthPolicy | null, send: SendUpstream): Promise<Response> {
    const declared = declaredLength(this.request.headers.get("content-length"));
    if (declared === null || declared > MAX_READ) {
      const refusal = this.admit(null, identity, auth);
      return refusal ? Promise.resolve(refusal) : send();
    }
    return this.request.bytes().then(
      (bytes) => this.forwardRead(bytes, identity, auth, send),
      // The client went away while sending its body: nobody is left to answer.
      () => upstreamErrorResponse("closed", null),
    );
  }

  private forwardRead(bytes: Uint8Array, identity: AccessTokenClaims | null, auth: EdgeAuthPolicy | null, send: SendUpstream): Response | Promise<Response> {
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return this.checks ? jsonRpcError(400, -32700, "Parse error: the body is not UTF-8") : send(bytes);
    }
    const reading = readJsonRpcBody(text, allowsBatches(this.version));
    if (!reading.ok) return this.checks ? jsonRpcError(400, reading.code, `Invalid request: ${reading.reason}`, reading.id) : send(bytes);
    const first = reading.messages[0];
    if (first) this.call = { method: first.method, tool: first.method === "tools/call" ? first.name : undefined };
    if (this.holdHeaders) {
      const headers = standardHeadersOf(this.request.headers);
      for (const message of reading.messages) {
        const mismatch = headerMismatch(headers, message);
        if (mismatch !== null) return jsonRpcError(400, HEADER_MISMATCH, `Bad Request: the request headers and body disagree: ${mismatch}`, message.id);
      }
    }
    const refusal = this.admit(reading.messages, identity, auth);
    if (refusal) return refusal;
    const sent = send(bytes);
    const listIds = this.mcp.filterTools && !this.mcp.scopes.empty ? toolsListIds(reading.messages) : null;
    if (listIds === null) return sent;
    const scope = identity?.scope ?? "";
    return sent.then((response) => filterToolsList(response, { ids: listIds, mayCall: (tool) => this.mcp.scopes.mayCallTool(tool, scope) }));
  }

  /** The scope policy, then the gates: a refusal, or null to forward. `messages` null: the body was not read. */
  private admit(messages: readonly McpMessage[] | null, identity: AccessTokenClaims | null, auth: EdgeAuthPolicy | null): Response | null {
    const scopes = this.mcp.scopes;
    const needs = messages === null ? scopes.allScopes : messages.length === 1 ? scopes.needs(messages[0]!) : union(messages.map((m) => scopes.needs(m)));
    if (needs.length > 0 && !(identity && hasScopes(identity.scope, needs))) {
      const what = describe(messages);
      const all = union([auth?.requiredScopes ?? [], needs]);
      if (identity) return insufficientScope(this.challengeFacts(auth), all, what);
      return auth ? tokenNeeded(this.challengeFacts(auth), all, what) : scopesUncheckable(needs, what);
    }
    for (const gate of this.mcp.gates) {
      const refusal = gate({ identity, messages, request: this.request, clientIp: this.clientIp });
      if (refusal) return refusal;
    }
    return null;
  }

  private challengeFacts(auth: EdgeAuthPolicy | null): ChallengeFacts {
    const { proto, host } = this.facts;
    return { realm: host, metadataUrl: metadataUrlFor(proto, host, this.mcp.endpoint), asIssuer: auth?.issuer ?? "" };
  }
}

/** The operation, as a refusal names it. */
function describe(messages: readonly McpMessage[] | null): string {
  if (messages === null) return "a request body the gateway does not read (streamed, or over 64 KiB)";
  if (messages.length > 1) return "this batch";
  const message = messages[0]!;
  return message.method === "tools/call" && message.name !== undefined ? `the tool ${JSON.stringify(message.name)}` : `the method ${JSON.stringify(message.method)}`;
}

function toolsListIds(messages: readonly McpMessage[]): Set<JsonRpcId> | null {
  let ids: Set<JsonRpcId> | null = null;
  for (const m of messages) if (m.kind === "request" && m.method === "tools/list") (ids ??= new Set()).add(m.id);
  return ids;
}

/** The client's Content-Length as Bun.serve framed the body with it; null when absent (a chunked upload). */
function declaredLength(header: string | null): number | null {
  if (header === null) return null;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : null;
}
