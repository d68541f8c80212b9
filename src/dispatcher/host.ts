/** Pure helpers for the Host header: lowercase, no port, no trailing dot. */
import { escapeHtml } from "../core/html";

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


/** The short page for a hostname this gateway does not serve. */
export function unknownHostResponse(host: string): Response {
  const shown = escapeHtml(host || "(none)");
  return new Response(
    `<!doctype html><html><head><meta charset="utf-8"><title>404 Unknown host</title></head>` +
      `<body><h1>Unknown host</h1><p>No proxy is configured for <code>${shown}</code> on this gateway.</p></body></html>\n`,
    { status: 404, headers: { "content-type": "text/html; charset=utf-8" } },
  );
}
