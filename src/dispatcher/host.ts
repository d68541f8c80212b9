/** Pure helpers for the Host header: lowercase, no port, no trailing dot. */
import { escapeHtml } from "../core/html";
import { OWN_RESPONSE_HEADERS } from "../core/own-response";

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


/** `requestId` is shown and sent back (X-Request-Id) so a user's report can be matched to the gateway's records. */
function page(status: number, title: string, message: string, requestId?: string): Response {
  const headers: Record<string, string> = { ...OWN_RESPONSE_HEADERS, "content-type": "text/html; charset=utf-8" };
  if (requestId !== undefined) headers["x-request-id"] = requestId;
  const reference = requestId === undefined ? "" : `<p>Request id: <code>${escapeHtml(requestId)}</code></p>`;
  return new Response(
    `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${title}</title></head>` +
      `<body><h1>${title}</h1><p>${message}</p>${reference}</body></html>\n`,
    { status, headers },
  );
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
export function badHostResponse(requestId?: string): Response {
  return page(400, "Bad request", "The request's Host header is missing, repeated or malformed.", requestId);
}

/** The short page for a hostname this gateway does not serve. */
export function unknownHostResponse(host: string, requestId?: string): Response {
  return page(404, "Unknown host", `No proxy is configured for <code>${escapeHtml(host || "(none)")}</code> on this gateway.`, requestId);
}

/** The page for a proxy that exists but is switched off (`enabled: false`). */
export function disabledProxyResponse(host: string, requestId?: string): Response {
  return page(503, "Service disabled", `The proxy for <code>${escapeHtml(host)}</code> is disabled.`, requestId);
}
