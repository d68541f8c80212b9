/**
 * The rate-limit gate of an MCP endpoint (an McpCallGate, run after the
 * scope check): the body's calls are charged to the caller's counters of
 * each matching limit, all or none, and a call past a limit is answered 429
 * with Retry-After and a JSON-RPC error the client can show. Answers from
 * this node's memory (cluster-counters.ts); never waits on Redis.
 */
import { OWN_RESPONSE_HEADERS } from "../../core/own-response";
import type { ProxyRecord } from "../../storage/proxy-repository";
import type { JsonRpcId, McpMessage } from "../json-rpc-body";
import type { McpCall, McpCallGate, McpGateFactory } from "../mcp-endpoint";
import { callerKey } from "./caller-key";
import type { ClusterRateCounters } from "./cluster-counters";
import { compileRateLimits, type Charge, type RateLimitPolicy } from "./rate-rules";

/**
 * JSON-RPC error code of a rate-limited call: in the range JSON-RPC leaves to
 * implementations (-32000 to -32099) and below MCP's own codes (-32020 and
 * up), the "limit exceeded" code of EIP-1474 that JSON-RPC clients know.
 */
export const RATE_LIMITED = -32005;

/** A browser-based client on another origin must be able to read Retry-After (as the edge's other refusals allow). */
const HEADERS = { ...OWN_RESPONSE_HEADERS, "cache-control": "no-store", "access-control-allow-origin": "*", "access-control-expose-headers": "Retry-After" };

/** The gates of every proxy with `mcp_rate_limits`, counting on `counters`. */
export function rateLimitGates(counters: ClusterRateCounters): McpGateFactory {
  return (proxy: ProxyRecord) => {
    // Counters are named by the proxy, the limit and the caller: the same on every node and across reloads.
    const policy = compileRateLimits(proxy.mcp_rate_limits ?? null, proxy.hostname);
    return policy.limits.length === 0 ? [] : [rateLimitGate(policy, counters)];
  };
}

export function rateLimitGate(policy: RateLimitPolicy, counters: ClusterRateCounters): McpCallGate {
  return (call: McpCall) => {
    const charges = policy.charges(call.messages);
    if (charges.length === 0) return null;
    const outcome = counters.tryCharge(charges, callerKey(call.identity, call.clientIp));
    return outcome.ok ? null : rateLimited(charges[outcome.index]!, outcome.retryAfter, call.messages);
  };
}

/** 429 with Retry-After, and a JSON-RPC error answering the refused request (id null for a batch or an unread body). */
export function rateLimited(charge: Charge, retryAfter: number, messages: readonly McpMessage[] | null): Response {
  const { limit } = charge;
  const calls = limit.limit === 1 ? "1 call" : `${limit.limit} calls`;
  const who = "for each user and client (each address without a token)";
  const message = `Too many requests: ${limit.subject} allows ${calls} per ${limit.windowName} ${who}; retry in ${retryAfter} s`;
  const id: JsonRpcId = messages !== null && messages.length === 1 ? messages[0]!.id : null;
  const body = { jsonrpc: "2.0", id, error: { code: RATE_LIMITED, message, data: { retry_after: retryAfter, limit: limit.limit, per: limit.windowName } } };
  return Response.json(body, { status: 429, headers: { ...HEADERS, "retry-after": String(retryAfter) } });
}
