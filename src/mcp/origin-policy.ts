/**
 * Which browser origins may reach an MCP endpoint. The Streamable HTTP
 * transport requires servers to validate `Origin`: without it, a page on any
 * site could rebind its DNS name to the gateway's address and drive a user's
 * MCP server from their browser. Requests without Origin (every non-browser
 * client) are not affected. Pure.
 *
 * A proxy's own origins are always allowed: http and https on the host the
 * client reached, without a port or with the port it reached. `mcp_allowed_origins`
 * adds exact origins (`https://inspector.example.com`, `http://localhost:6274`),
 * "null" (sandboxed pages, file: URLs) or "*" (any origin: no check).
 */

export interface OriginPolicy {
  /** Whether a request with this Origin header may reach the endpoint, for a client that reached `hostHeader`. */
  allows(origin: string, hostHeader: string): boolean;
}

const ORIGIN = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-f:.]+\]|[^\s/?#@:[\]]+)(?::(\d{1,5}))?$/;
const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: "80", https: "443" };

export function compileOriginPolicy(configured: readonly string[] | null): OriginPolicy {
  const listed = new Set((configured ?? []).map((o) => normalizeOrigin(o) ?? o.toLowerCase()));
  if (listed.has("*")) return { allows: () => true };
  return {
    allows(origin, hostHeader) {
      const normalized = normalizeOrigin(origin);
      if (normalized === null) return listed.has(origin.toLowerCase());
      return listed.has(normalized) || isOwnOrigin(normalized, hostHeader);
    },
  };
}

/**
 * An origin as browsers serialize it: lower case, no default port, no
 * trailing dot on the host; null when the value is not a scheme://host[:port]
 * origin ("null" and the like).
 */
export function normalizeOrigin(value: string): string | null {
  const match = ORIGIN.exec(value.trim().toLowerCase());
  if (!match) return null;
  const [, scheme, rawHost, port] = match;
  const host = rawHost!.endsWith(".") ? rawHost!.slice(0, -1) : rawHost!;
  if (host === "") return null;
  return port === undefined || DEFAULT_PORTS[scheme!] === String(Number(port)) ? `${scheme}://${host}` : `${scheme}://${host}:${Number(port)}`;
}

/** http or https on the host the client reached; no port, or the port it reached. */
function isOwnOrigin(origin: string, hostHeader: string): boolean {
  const match = ORIGIN.exec(origin);
  if (!match || (match[1] !== "http" && match[1] !== "https")) return false;
  const { host, port } = splitHostHeader(hostHeader);
  return match[2] === host && (match[3] === undefined || match[3] === port);
}

function splitHostHeader(value: string): { host: string; port: string | undefined } {
  const raw = value.trim().toLowerCase();
  const close = raw.lastIndexOf("]");
  const colon = raw.lastIndexOf(":");
  const hasPort = colon > close && (raw.startsWith("[") || raw.indexOf(":") === colon);
  let host = hasPort ? raw.slice(0, colon) : raw;
  if (host.endsWith(".")) host = host.slice(0, -1);
  const port = hasPort ? raw.slice(colon + 1) : undefined;
  return { host, port: port !== undefined && /^\d{1,5}$/.test(port) ? String(Number(port)) : undefined };
}
