/**
 * What the API does with a request before Elysia reads its body: the bearer
 * token is checked (and for the OAuth admin API the admin role), so a caller
 * without a valid token gets a 401 whatever it sends, and the body is never
 * parsed for it; then JSON bodies are parsed with a nesting limit, so a small
 * body cannot make validation or error rendering recurse until the stack
 * overflows.
 */
import { Elysia } from "elysia";
import { parseBoundedJson } from "../core/bounded-json";
import { pathOf } from "../core/request-path";
import { ApiError, forbidden } from "../core/errors";
import type { TokenRepository } from "../storage/token-repository";
import { authenticate } from "./caller";

const API_PREFIX = "/api/v1/";
/** Public under the API prefix: the OpenAPI document. */
const PUBLIC = new Set(["/api/v1/openapi.json"]);
/** Every endpoint here acts on all users' OAuth clients and sessions. */
const ADMIN_ONLY_PREFIX = "/api/v1/oauth/";

export function requestGuard(tokens: TokenRepository) {
  return new Elysia({ name: "request-guard" })
    // onRequest runs for every request of the app that uses this, before routing and parsing.
    .onRequest(async ({ request }) => {
      const path = pathOf(request.url);
      if (!path.startsWith(API_PREFIX) || PUBLIC.has(path.replace(/\/+$/, ""))) return;
      // authenticate() remembers the caller for this request: the routes' own checks cost nothing more.
      const caller = await authenticate(request, tokens);
      if (path.startsWith(ADMIN_ONLY_PREFIX) && !caller.isAdmin) throw forbidden("the OAuth admin API needs the admin token");
    })
    .onParse({ as: "global" }, async ({ request, contentType }) => {
      if (!/^application\/json\s*(;|$)/i.test(contentType ?? "")) return;
      const text = await request.text();
      if (text === "") return null;
      const parsed = parseBoundedJson(text);
      if (!parsed.ok) throw new ApiError("invalid_json", `the request body is ${parsed.reason}`);
      return parsed.value;
    });
}
