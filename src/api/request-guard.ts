/**
 * What the API does with a request before Elysia reads its body: the bearer
 * token is checked, then the permission table (permissions.ts) for the
 * caller's role, so a caller without a valid token gets a 401 and one without
 * the right a 403 whatever it sends, and the body is never parsed for them;
 * then JSON bodies are parsed with a nesting limit, so a small
 * body cannot make validation or error rendering recurse until the stack
 * overflows.
 */
import { Elysia } from "elysia";
import { parseBoundedJson } from "../core/bounded-json";
import { pathOf } from "../core/request-path";
import { ApiError, forbidden, notFound } from "../core/errors";
import type { TokenRepository } from "../storage/token-repository";
import { authenticate, type Principal } from "./caller";
import { accessOf, permissionFor, PRINCIPALS, type Rule } from "./permissions";

const API_PREFIX = "/api/v1/";

export function requestGuard(tokens: TokenRepository) {
  return new Elysia({ name: "request-guard" })
    // onRequest runs for every request of the app that uses this, before routing and parsing.
    .onRequest(async ({ request }) => {
      const path = pathOf(request.url);
      if (!path.startsWith(API_PREFIX)) return;
      const permission = permissionFor(request.method, path);
      if (permission?.rule === "public") return;
      // authenticate() remembers the caller for this request: the routes' own checks cost nothing more.
      const caller = await authenticate(request, tokens);
      // Authenticated first: without a token, an unknown path is a 401 like any other.
      if (!permission) throw notFound(`endpoint ${request.method} ${path.slice(0, 200)}`);
      if (accessOf(permission.rule, caller.role) === "deny") throw forbidden(`${permission.key} needs ${whoMay(permission.rule)}; this is ${principalName(caller.role)} (docs/permissions.md)`);
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

const PRINCIPAL_NAMES: Record<Principal, string> = { admin: "the admin token", "service-owner": "a service-owner token", viewer: "a viewer token", cluster: "a cluster API key" };

function principalName(principal: Principal): string {
  return principal === "admin" ? "an admin token" : PRINCIPAL_NAMES[principal];
}

/** "the admin token or a viewer token": who the table lets in. */
function whoMay(rule: Rule): string {
  return PRINCIPALS.filter((p) => accessOf(rule, p) !== "deny").map((p) => PRINCIPAL_NAMES[p]).join(" or ");
}
