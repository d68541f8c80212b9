/**
 * Swagger UI's files, embedded in the compiled binary (Bun's `type: "file"`
 * imports), so `/docs` works offline: no CDN, nothing fetched at run time.
 */
// @ts-ignore -- a file import gives its path (in the binary: /$bunfs/…), not the module's exports.
import bundlePath from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
// @ts-ignore -- as above.
import stylesPath from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

export interface DocsAsset {
  readonly path: string;
  readonly contentType: string;
}

/** Served under /docs/ by these names. */
export const DOCS_ASSETS: Readonly<Record<string, DocsAsset>> = {
  "swagger-ui-bundle.js": { path: bundlePath as unknown as string, contentType: "text/javascript; charset=utf-8" },
  "swagger-ui.css": { path: stylesPath as unknown as string, contentType: "text/css; charset=utf-8" },
};
