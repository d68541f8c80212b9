/**
 * Which names no public CA will issue a certificate for, so that asking one
 * would only fail: reserved and special-use names (RFC 2606, RFC 6761,
 * RFC 6762, RFC 8375, ICANN's `.internal`), IP addresses, and single-label
 * names. These get a certificate from the gateway's own local CA instead (as
 * Caddy does). Pure: a name in, a verdict out.
 */
import { isIP } from "node:net";

/** Suffixes (and names) reserved for private or test use. */
const INTERNAL_SUFFIXES = ["localhost", "local", "internal", "test", "example", "invalid", "home.arpa"] as const;

/** The name as compared: lowercase, without a trailing dot, IPv6 brackets or one leading `*.`. */
function normalize(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "").replace(/^\[(.*)\]$/, "$1");
}

export const isIpAddress = (name: string): boolean => isIP(normalize(name)) !== 0;

/** True when no public CA issues for `name` (exact or `*.` wildcard). */
export function isInternalName(name: string): boolean {
  const host = normalize(name);
  if (isIP(host) !== 0) return true;
  const bare = host.startsWith("*.") ? host.slice(2) : host;
  if (!bare.includes(".")) return true;
  return INTERNAL_SUFFIXES.some((suffix) => bare === suffix || bare.endsWith(`.${suffix}`));
}

/** Which of `domains` are internal and which public, in their order. */
export function splitByIssuer(domains: readonly string[]): { internal: string[]; public: string[] } {
  const internal: string[] = [];
  const publicNames: string[] = [];
  for (const domain of domains) (isInternalName(domain) ? internal : publicNames).push(domain);
  return { internal, public: publicNames };
}
