/** Pure helpers for the Host header: lowercase, no port, no trailing dot. */
import { gatewayErrorResponse } from "../core/error-page";

export function normalizeHost(header: string | null): string {
  if (!header) return "";
  let host = header.trim().toLowerCase();
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end > 0 ? host.slice(0, end + 1) : host;
  }
  const colon = host.indexOf(":");
  if (colon >= 0) host = host.slice(0, colon);
  return host.endsWith(".") ? host.slice(0, -1) : host;
}


/**
 * A Host header the gateway can route on: a hostname or IP literal with an
 * optional port. Anything else — several Host lines (Bun.serve joins them with
 * ", "), spaces, userinfo, a path — is refused rather than guessed at.
 */
const VALID_HOST = /^(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

export function isValidHostHeader(header: string | null): boolean {
  return header !== null && VALID_HOST.test(header);
}

/** The answer to a request whose Host header is missing, repeated or malformed. */
export function badHostResponse(requestId: string | undefined, accept: string | null): Response {
  return gatewayErrorResponse({ status: 400, title: "Bad request", code: "bad_host", detail: "the request's Host header is missing, repeated or malformed", requestId }, accept);
}

/** The short page for a hostname this gateway does not serve. */
export function unknownHostResponse(host: string, requestId: string | undefined, accept: string | null): Response {
  return gatewayErrorResponse({ status: 404, title: "Unknown host", code: "unknown_host", detail: `no proxy is configured for ${host || "(no host)"} on this gateway`, requestId }, accept);
}

/** The page for a proxy that exists but is switched off (`enabled: false`). */
export function disabledProxyResponse(host: string, requestId: string | undefined, accept: string | null): Response {
  return gatewayErrorResponse({ status: 503, title: "Service disabled", code: "proxy_disabled", detail: `the proxy for ${host} is disabled`, requestId }, accept);
}
