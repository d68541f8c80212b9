/**
 * The gateway's own error answers (unknown host, disabled proxy, bad Host,
 * backend failures): one look for every status, with the request id and the
 * time so a user's report can be matched to the gateway's records, and JSON
 * `{error, detail, request_id}` for clients that prefer it. Bodies are fixed
 * text from the gateway: nothing from the backend or its error is echoed.
 */
import { prefersJson } from "./accept";
import { escapeHtml } from "./html";
import { OWN_RESPONSE_HEADERS } from "./own-response";

export interface GatewayError {
  readonly status: number;
  /** Short and human: "Unknown host", "Bad Gateway". */
  readonly title: string;
  /** Machine-readable: unknown_host, bad_gateway. */
  readonly code: string;
  /** One sentence, plain text. */
  readonly detail: string;
  /** The request's X-Request-Id, shown and sent back. */
  readonly requestId?: string;
}

export function gatewayErrorResponse(error: GatewayError, accept: string | null, now = new Date()): Response {
  const headers: Record<string, string> = { ...OWN_RESPONSE_HEADERS, "cache-control": "no-store" };
  if (error.requestId !== undefined) headers["x-request-id"] = error.requestId;
  if (prefersJson(accept)) {
    const body = error.requestId === undefined ? { error: error.code, detail: error.detail } : { error: error.code, detail: error.detail, request_id: error.requestId };
    return Response.json(body, { status: error.status, headers });
  }
  return new Response(renderErrorPage(error, now), { status: error.status, headers: { ...headers, "content-type": "text/html; charset=utf-8" } });
}

/** The HTML page; pure, so tests and the screenshot check see exactly what clients get. */
export function renderErrorPage(error: GatewayError, now: Date): string {
  const heading = `${error.status} ${escapeHtml(error.title)}`;
  const sentence = escapeHtml(error.detail[0]!.toUpperCase() + error.detail.slice(1)) + (/[.!?]$/.test(error.detail) ? "" : ".");
  const facts = [
    error.requestId === undefined ? "" : `<dt>Request id</dt><dd><code>${escapeHtml(error.requestId)}</code></dd>`,
    `<dt>Time</dt><dd><time datetime="${now.toISOString()}">${now.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC")}</time></dd>`,
  ].join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${heading}</title>
<style>
:root{color-scheme:light dark;--fg:#1d2330;--muted:#5b6478;--bg:#f6f7f9;--card:#fff;--line:#dde1e8;--accent:#b4233c}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8ee;--muted:#9aa3b5;--bg:#12151b;--card:#1a1e26;--line:#2c323d;--accent:#ff6b81}}
*{box-sizing:border-box}body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;padding:24px}
main{max-width:560px;width:100%;background:var(--card);border:1px solid var(--line);border-radius:12px;padding:32px 36px;box-shadow:0 1px 3px rgba(0,0,0,.06)}
.status{font-size:14px;font-weight:600;letter-spacing:.08em;text-transform:uppercase;color:var(--accent);margin:0}
h1{font-size:26px;margin:4px 0 12px}p{margin:0 0 20px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0;padding-top:16px;border-top:1px solid var(--line);font-size:14px;color:var(--muted)}
dd{margin:0}code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;color:var(--fg);word-break:break-all}
footer{margin-top:20px;font-size:12px;color:var(--muted)}
</style></head>
<body><main>
<p class="status">Error ${error.status}</p>
<h1>${escapeHtml(error.title)}</h1>
<p>${sentence}</p>
<dl>${facts}</dl>
<footer>Portcullis gateway</footer>
</main></body></html>
`;
}
