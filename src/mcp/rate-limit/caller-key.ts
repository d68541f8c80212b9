/**
 * Who a rate limit counts calls of. With a verified token: its user (`sub`)
 * and client (`client_id`) — never the MCP session or the token itself, so
 * neither a new session nor a new token starts a fresh budget, and two
 * clients of one user have a budget each. Without one (auth off, a
 * passthrough request without a good token): the client's address, an IPv6
 * client by its /64, as one host usually holds the whole prefix. Pure.
 */
import type { AccessTokenClaims } from "../../auth/tokens/access-token";

/** A verified token's claims are one object for as long as the edge remembers the token: its key is made once. */
const keyOfClaims = new WeakMap<AccessTokenClaims, string>();

/** The caller's part of a counter key. */
export function callerKey(identity: AccessTokenClaims | null, clientIp: string): string {
  if (!identity) return `address\n${addressBlock(clientIp)}`;
  let key = keyOfClaims.get(identity);
  if (key === undefined) {
    key = `user\n${identity.sub}\n${identity.client_id}`;
    keyOfClaims.set(identity, key);
  }
  return key;
}

/**
 * The client's address behind a trusted proxy (TRUSTED_PROXY_CIDRS): its
 * X-Real-IP, else the first X-Forwarded-For hop, else the proxy's own — as
 * the forwarded X-Real-IP says (src/proxies/headers.ts).
 */
export function reportedClientIp(headers: Headers, peer: string): string {
  const real = headers.get("x-real-ip")?.trim();
  if (real) return real;
  const first = headers.get("x-forwarded-for")?.split(",")[0]!.trim();
  return first || peer;
}

/** An IPv4 address as it is (also when written IPv4-mapped), an IPv6 one as its /64; anything else as given. */
export function addressBlock(ip: string): string {
  const bare = ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip;
  if (!bare.includes(":")) return bare;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped) return mapped[1]!;
  const groups = expandIpv6(bare.split("%")[0]!);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : bare;
}

/** The eight 16-bit groups of an IPv6 address (lower-case, no leading zeros), or null when it is not one. */
function expandIpv6(address: string): string[] | null {
  const halves = address.toLowerCase().split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  // An embedded IPv4 tail (::1.2.3.4) takes two groups; the /64 never reaches it.
  const tailGroups = tail.length > 0 && tail[tail.length - 1]!.includes(".") ? tail.length + 1 : tail.length;
  const missing = 8 - head.length - tailGroups;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.slice(0, 4).every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? g.replace(/^0+(?=.)/, "") : g));
}
