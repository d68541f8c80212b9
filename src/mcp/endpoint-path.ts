/**
 * Which request paths reach an MCP proxy's endpoint: `resource_endpoint`
 * and the paths under it (where servers of the older HTTP+SSE transport put
 * their message endpoint). Backends are lenient about spelling — Express
 * matches routes case-insensitively and with a trailing slash, others decode
 * escapes, resolve dot segments, read `\` as `/` or drop `;params` — so the
 * comparison reads a path every way a backend might: no spelling makes a
 * path leave the endpoint, and with it the per-tool policy. A few odd
 * spellings of other paths count as the endpoint too; that only ever
 * checks more. Pure.
 */

/** `endpoint` is normalizeEndpoint's: "" for the host itself, else "/path" without a trailing slash. */
export function endpointPathMatcher(endpoint: string): (path: string) => boolean {
  const base = canonicalPath(endpoint);
  // A server at the root gets every path but the well-known documents, which the gateway serves to any origin.
  if (base === "") return (path) => !canonicalPath(path).startsWith("/.well-known/");
  return (path) => path === endpoint || isUnder(canonicalPath(path), base);
}

function isUnder(path: string, base: string): boolean {
  return path === base || (path.startsWith(base) && path.charCodeAt(base.length) === 0x2f /* / */);
}

/** Escapes of unreserved characters, "/" and "\": what a backend may decode before routing. */
const DECODED_ESCAPE = /%(2[dDeEfF]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[cCfF]|7[eE])/g;

/** Lower case, escapes decoded, `\` as `/`, `;params` dropped, dot segments resolved, no empty segments: "" for the root. */
export function canonicalPath(path: string): string {
  const decoded = path
    .replace(DECODED_ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .toLowerCase()
    .replaceAll("\\", "/");
  const segments: string[] = [];
  for (const raw of decoded.split("/")) {
    const semicolon = raw.indexOf(";");
    const segment = semicolon < 0 ? raw : raw.slice(0, semicolon);
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  return segments.length === 0 ? "" : `/${segments.join("/")}`;
}
