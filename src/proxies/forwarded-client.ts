/**
 * The real client behind trusted load balancers: X-Forwarded-For is read from
 * the right, past every TRUSTED_PROXY_CIDRS hop; the first address that is
 * not one of ours is the client. Entries left of it were written by whoever
 * the client is, so they are never believed. Pure.
 */
import { parseIp, type CidrList } from "./cidr";

/** `peer` is the TCP (or PROXY protocol) client; only a trusted peer's X-Forwarded-For is read at all. */
export function forwardedClientIp(peer: string, trustedProxies: CidrList, forwardedFor: string | null): string {
  if (forwardedFor === null || !trustedProxies.contains(peer)) return peer;
  const hops = forwardedFor.split(",");
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    // Not an address (a port, garbage, `unknown`): nothing further left can be trusted either.
    if (parseIp(hop) === undefined) return client;
    client = hop;
    if (!trustedProxies.contains(hop)) return hop;
  }
  return client;
}
