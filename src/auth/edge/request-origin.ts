/**
 * The resource URL exactly as clients connect to it — what a token's `aud`
 * must name and what the protected resource metadata calls `resource` — in
 * the canonical form of resources.ts: lower-case scheme and host, no default
 * port, no trailing slash. Runs per request, so origins are remembered per
 * (scheme, Host header) in a bounded map. Pure apart from that memo.
 */

/** Distinct Host headers remembered per scheme; a wildcard proxy lets clients vary them, so the memo starts over when full. */
const MAX_REMEMBERED_HOSTS = 1024;

const origins = { http: new Map<string, string>(), https: new Map<string, string>() };

/** `proto://host[:port]` for a Host header: lower-case, no trailing dot, the port only when it is not the scheme's default. */
export function originFor(proto: "http" | "https", hostHeader: string): string {
  const memo = origins[proto];
  let origin = memo.get(hostHeader);
  if (origin === undefined) {
    origin = `${proto}://${canonicalHost(proto, hostHeader)}`;
    if (memo.size >= MAX_REMEMBERED_HOSTS) memo.clear();
    memo.set(hostHeader, origin);
  }
  return origin;
}

/** The resource URL: the origin plus the resource endpoint, without a trailing slash. */
export function resourceUrlFor(proto: "http" | "https", hostHeader: string, endpoint: string): string {
  const origin = originFor(proto, hostHeader);
  if (endpoint === "" || endpoint === "/") return origin;
  return origin + (endpoint.endsWith("/") ? endpoint.replace(/\/+$/, "") : endpoint);
}

/**
 * The protected resource metadata URL for a resource (RFC 9728 §3.1): the
 * well-known segment goes between the origin and the resource's path.
 */
export function metadataUrlFor(proto: "http" | "https", hostHeader: string, endpoint: string): string {
  const origin = originFor(proto, hostHeader);
  const path = endpoint === "" || endpoint === "/" ? "" : endpoint.replace(/\/+$/, "");
  return `${origin}/.well-known/oauth-protected-resource${path}`;
}

function canonicalHost(proto: "http" | "https", hostHeader: string): string {
  const raw = hostHeader.trim().toLowerCase();
  let host = raw;
  let port = "";
  const close = raw.lastIndexOf("]");
  const colon = raw.lastIndexOf(":");
  if (colon > close && (raw.startsWith("[") || raw.indexOf(":") === colon)) {
    host = raw.slice(0, colon);
    port = raw.slice(colon + 1);
  }
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (!/^\d{1,5}$/.test(port)) return host;
  const number = Number(port);
  const isDefault = (proto === "https" && number === 443) || (proto === "http" && number === 80);
  return isDefault || number > 65535 ? host : `${host}:${number}`;
}
