/**
 * `/docs`: Swagger UI over the OpenAPI document — each endpoint's request and
 * response schemas, and "Try it out" with a bearer token — from files embedded
 * in the binary (docs-assets.ts), so it works offline. The same endpoints are
 * listed in the page itself for browsers without JavaScript.
 */
import { escapeHtml } from "../core/html";

interface OpenApiOperation {
  summary?: string;
  tags?: string[];
}
export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
}

const METHODS = ["get", "post", "put", "patch", "delete"];


export function renderDocsPage(doc: OpenApiDocument, specUrl: string): string {
  const byTag = new Map<string, string[]>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = operations[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? "other";
      const rows = byTag.get(tag) ?? [];
      rows.push(
        `<tr><td class="m ${method}">${method.toUpperCase()}</td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(op.summary ?? "")}</td></tr>`,
      );
      byTag.set(tag, rows);
    }
  }
  const sections = [...byTag.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([tag, rows]) => `<h2>${escapeHtml(tag)}</h2><table>${rows.join("")}</table>`)
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)} API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<style>
body{margin:0}.index{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1d2330}
.index table{border-collapse:collapse;width:100%}.index td{padding:.35rem .6rem;border-bottom:1px solid #e3e6ec}
.m{font-weight:700;width:4.5rem}.get{color:#1a7f37}.post{color:#0a58ca}.put{color:#9a6700}.delete{color:#cf222e}
</style></head><body>
<div id="swagger-ui" data-spec-url="${escapeHtml(specUrl)}"></div>
<noscript><div class="index">
<h1>${escapeHtml(doc.info.title)} API</h1>
<p>Version ${escapeHtml(doc.info.version)} · <a href="${escapeHtml(specUrl)}">OpenAPI document (JSON)</a></p>
<p>${escapeHtml(doc.info.description ?? "")}</p>
${sections}
</div></noscript>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;
}

/**
 * Starts Swagger UI on the page. A file rather than an inline script, so a
 * Content-Security-Policy without 'unsafe-inline' allows it. validatorUrl null:
 * Swagger UI would otherwise send the document to validator.swagger.io.
 */
export const DOCS_INIT_SCRIPT = `"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true
  });
})();
`;
