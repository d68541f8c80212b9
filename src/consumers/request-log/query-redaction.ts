/**
 * The query string as a request record keeps it (proxies with log_query on):
 * parameters that carry credentials are replaced by [redacted], whatever the
 * proxy — an authorization code or a token in a log is a token anyone with
 * read access to the log can use. Pure.
 */

/** Parameter names (lower-case) whose values are never stored. */
const SECRET_PARAMETERS = new Set([
  "code",
  "access_token",
  "refresh_token",
  "id_token",
  "token",
  "client_secret",
  "client_assertion",
  "code_verifier",
  "password",
  "passwd",
  "secret",
  "api_key",
  "apikey",
  "key",
  "signature",
  "sig",
  "session",
  "auth",
  "authorization",
]);

export const REDACTED = "[redacted]";

/** Longer queries are cut here (after redaction), so one request cannot make its record arbitrarily large. */
export const MAX_LOGGED_QUERY = 2048;

/** The query of `url` (without `?`) with secrets redacted; undefined when there is none. */
export function redactedQuery(url: string): string | undefined {
  const start = url.indexOf("?");
  if (start < 0 || start === url.length - 1) return undefined;
  const hash = url.indexOf("#", start);
  const query = url.slice(start + 1, hash < 0 ? undefined : hash);
  const kept = query.split("&").map((pair) => {
    const equals = pair.indexOf("=");
    const rawName = equals < 0 ? pair : pair.slice(0, equals);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replaceAll("+", " ")).toLowerCase();
    } catch {
      name = rawName.toLowerCase();
    }
    return SECRET_PARAMETERS.has(name) ? `${rawName}=${REDACTED}` : pair;
  });
  const text = kept.join("&");
  return text.length > MAX_LOGGED_QUERY ? text.slice(0, MAX_LOGGED_QUERY) : text;
}
