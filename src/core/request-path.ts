/**
 * The path of an absolute request URL, without parsing it into a URL object:
 * cheaper on the hot path, and it works whatever the Host header held (a URL
 * object cannot be built from a malformed one).
 */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}
