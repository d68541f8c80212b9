/**
 * What the OpenAPI plugin leaves out of the document, put back:
 *
 * - Request bodies. The API parses JSON bodies in its own onParse hook
 *   (request-guard.ts: after the token check, with a nesting limit), and the
 *   plugin lists media types only for Elysia's named parsers, so every body
 *   would be documented with no content at all. Each route's body schema goes
 *   back as application/json, the one type the API reads.
 * - Responses of routes that declare no response schema: a `default` response
 *   (API browsers such as Swagger UI show a call's answer only under one).
 */

export interface RouteWithBody {
  readonly method: string;
  readonly path: string;
  readonly hooks: { readonly body?: unknown };
}

interface OpenApiOperation {
  requestBody?: { content?: Record<string, unknown>; required?: boolean; description?: string };
  responses?: Record<string, unknown>;
}

export interface OpenApiPaths {
  paths?: Record<string, Record<string, OpenApiOperation>>;
}

/** Elysia's `/x/:name` as OpenAPI's `/x/{name}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
const DEFAULT_RESPONSE = {
  default: { description: "The result as JSON; an error is {error, detail} with a 4xx or 5xx status (docs/api.md)", content: { "application/json": {} } },
};

/** Completes the document in place (see above) from the app's routes; returns it. */
export function completeOpenApiDocument<T extends OpenApiPaths>(doc: T, routes: readonly RouteWithBody[]): T {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) if (HTTP_METHODS.has(method)) operation.responses ??= DEFAULT_RESPONSE;
  }
  for (const route of routes) {
    if (!route.hooks.body) continue;
    const operation = doc.paths?.[openApiPath(route.path)]?.[route.method.toLowerCase()];
    if (!operation?.requestBody || Object.keys(operation.requestBody.content ?? {}).length > 0) continue;
    // TypeBox schemas are JSON Schema; the round trip drops its symbol-keyed markers.
    operation.requestBody.content = { "application/json": { schema: JSON.parse(JSON.stringify(route.hooks.body)) } };
  }
  return doc;
}
