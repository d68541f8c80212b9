/**
 * The path and query to send upstream. Taken from `request.url` by string
 * slicing: no URL parsing and no re-encoding, so percent-encoded bytes and
 * repeated slashes reach the backend as the client sent them. (Bun.serve has
 * already resolved "." and ".." segments, including %2e forms, before the
 * request reaches us, so a client cannot climb out of the base path.)
 */
export function requestTarget(url: string): string {
  const scheme = url.indexOf("//");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 2);
  if (start < 0) return "/";
  // A fragment never belongs on the wire; Bun passes one through if a client sends it.
  const hash = url.indexOf("#", start);
  return hash < 0 ? url.slice(start) : url.slice(start, hash);
}

/** target_url's base path + the client's path and query. */
export function upstreamPath(basePath: string, url: string): string {
  return basePath === "" ? requestTarget(url) : basePath + requestTarget(url);
}
