/**
 * Redirect URIs: which ones a client may register, and when a requested one
 * matches a registered one. Pure.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8252 (native apps: loopback and private-use schemes)
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1 §2.3.1, §7.5.1
 */

export const MAX_REDIRECT_URI_LENGTH = 2000;

/** Loopback hosts a native app may listen on over plain http (RFC 8252 §7.3, §8.3). */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** Schemes that run or read content in the user agent instead of navigating to a client. */
const DANGEROUS_SCHEMES = new Set(["javascript:", "data:", "file:", "vbscript:", "blob:", "about:", "filesystem:"]);

/**
 * `http://<loopback>[:port]<rest>`, taken apart on the raw string: a requested
 * URI is compared as sent, never as a URL parser would normalise it.
 */
const LOOPBACK_HTTP = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::(\d{1,5}))?([/?][^#]*)?$/;

/** Why a redirect URI may not be registered, or null when it may. */
export function redirectUriProblem(raw: string): string | null {
  if (raw.length === 0) return "is empty";
  if (raw.length > MAX_REDIRECT_URI_LENGTH) return `is longer than ${MAX_REDIRECT_URI_LENGTH} characters`;
  // URL parsing drops whitespace and control characters silently; exact matching must see what was registered.
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return "contains whitespace or control characters";
  if (raw.includes("#")) return "must not contain a fragment";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not an absolute URI";
  }
  if (DANGEROUS_SCHEMES.has(url.protocol)) return `uses the forbidden scheme ${url.protocol}`;
  if (url.username || url.password) return "must not contain user credentials";
  if (url.protocol === "https:") return url.hostname ? null : "has no host";
  if (url.protocol === "http:") {
    return LOOPBACK_HOSTS.has(url.hostname) && LOOPBACK_HTTP.test(raw)
      ? null
      : "must use https (plain http only on 127.0.0.1, [::1] or localhost)";
  }
  // RFC 8252 §7.1: a private-use scheme is a reverse domain name the app owns, so it has a dot.
  return url.protocol.includes(".") ? null : `uses the scheme ${url.protocol} (use https, loopback http, or a reverse-domain private-use scheme)`;
}

/**
 * Does `requested` match one of the `registered` redirect URIs? Exact string
 * comparison, except that loopback http URIs match with any port, because a
 * native app gets its port from the OS at run time (RFC 8252 §7.3).
 */
export function redirectUriMatches(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const asked = LOOPBACK_HTTP.exec(requested);
  if (!asked || !validPort(asked[2])) return false;
  return registered.some((uri) => {
    const known = LOOPBACK_HTTP.exec(uri);
    return known !== null && known[1] === asked[1] && (known[3] ?? "") === (asked[3] ?? "");
  });
}

function validPort(port: string | undefined): boolean {
  return port === undefined || Number(port) <= 65_535;
}
