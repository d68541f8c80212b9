/**
 * The route schema of the API (spec "Route Management"): body shapes, defaults,
 * and the checks a shape cannot express (regex compiles, proxy scope names
 * proxies, target resolves to an http(s) URL or a service name).
 */
import { t, type Static } from "elysia";
import { invalid } from "../../core/errors";
import { MAX_SCOPE_LENGTH, MAX_SCOPES_PER_LIST, SCOPE_TOKENS } from "../../auth/scopes/scope-syntax";
import type { RouteAuthConfig, RouteRecord } from "../../storage/route-repository";
import { checkHostnamePattern } from "./hostname";
import { checkScopes } from "./proxy-auth";
import { checkTargetUrl } from "./proxy-target";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"] as const;
export const ROUTE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const fields = {
  route_id: t.String({ description: "Optional id (letters, digits, _ . -); generated when absent" }),
  path_pattern: t.String({ minLength: 1, maxLength: 512, description: "Path prefix, or a regular expression with is_regex" }),
  target_type: t.Union([t.Literal("url"), t.Literal("service"), t.Literal("hostname")]),
  target_value: t.String({ minLength: 1, maxLength: 2048, description: "http(s) URL, a service name, or a hostname served here (a proxy, the API, auth.{BASE_DOMAIN})" }),
  priority: t.Integer({ minimum: 0, maximum: 1000, description: "Higher is checked first" }),
  methods: t.Array(t.String(), { maxItems: METHODS.length, description: "Empty: every method" }),
  is_regex: t.Boolean(),
  enabled: t.Boolean(),
  scope: t.Union([t.Literal("global"), t.Literal("proxy")]),
  proxy_hostnames: t.Array(t.String(), { maxItems: 1000 }),
  description: t.String({ maxLength: 1024 }),
  override_proxy_auth: t.Boolean({ description: "The route's auth_config replaces the proxy's auth settings for its paths" }),
  auth_config: t.Union(
    [
      t.Object(
        {
          auth_type: t.Union([t.Literal("none"), t.Literal("oauth")], { description: "none: public; oauth: a valid token is required" }),
          required_scopes: t.Optional(
            t.Array(t.String({ maxLength: MAX_SCOPE_LENGTH }), { maxItems: MAX_SCOPES_PER_LIST, description: `With oauth: scopes the token must carry; ${SCOPE_TOKENS}` }),
          ),
        },
        { additionalProperties: false },
      ),
      t.Null(),
    ],
    { description: "Read when override_proxy_auth is true" },
  ),
};

export const RouteCreateBody = t.Composite(
  [
    t.Partial(t.Object(fields)),
    t.Object({ path_pattern: fields.path_pattern, target_type: fields.target_type, target_value: fields.target_value }),
  ],
  { additionalProperties: false },
);
export const RouteUpdateBody = t.Partial(t.Object(fields), { additionalProperties: false });
export type RouteCreate = Static<typeof RouteCreateBody>;
export type RouteUpdate = Static<typeof RouteUpdateBody>;

export const ROUTE_DEFAULTS = {
  priority: 50,
  methods: [] as string[],
  is_regex: false,
  enabled: true,
  scope: "global" as const,
  proxy_hostnames: [] as string[],
  description: "",
  override_proxy_auth: false,
  auth_config: null as RouteAuthConfig | null,
};

type RouteSettings = Omit<RouteRecord, "route_id" | "owner_token_hash" | "created_by" | "created_at" | "updated_at">;

/** Validates a complete route (after defaults or a merge) and returns it normalised. */
export function checkRoute<T extends RouteSettings>(route: T): T {
  const checked = { ...route };
  if (route.is_regex) {
    try {
      new RegExp(route.path_pattern);
    } catch (err) {
      throw invalid(`path_pattern: not a valid regular expression (${(err as Error).message})`);
    }
  } else if (!route.path_pattern.startsWith("/")) {
    throw invalid("path_pattern: a path prefix starts with /");
  }
  checked.methods = [...new Set(route.methods.map((m) => m.toUpperCase()))];
  for (const method of checked.methods) {
    if (!(METHODS as readonly string[]).includes(method)) throw invalid(`methods: ${JSON.stringify(method)} is not an HTTP method`);
  }
  if (route.target_type === "url") checked.target_value = checkTargetUrl("target_value", route.target_value);
  else if (route.target_type === "hostname") {
    checked.target_value = checkHostnamePattern("target_value", route.target_value);
    if (checked.target_value.startsWith("*.")) throw invalid("target_value: a route's hostname target is one exact hostname, not a wildcard");
  } else if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(route.target_value)) {
    throw invalid("target_value: a service name is 1-64 letters, digits, '_', '.' or '-'");
  }
  checked.proxy_hostnames = route.proxy_hostnames.map((h, i) => checkHostnamePattern(`proxy_hostnames[${i}]`, h));
  if (route.scope === "proxy" && checked.proxy_hostnames.length === 0) {
    throw invalid("proxy_hostnames: a route with scope \"proxy\" names at least one proxy");
  }
  checked.auth_config = checkRouteAuthConfig(route.auth_config);
  if (route.override_proxy_auth && checked.auth_config === null) {
    throw invalid("auth_config: a route with override_proxy_auth names auth_config.auth_type (\"none\" or \"oauth\")");
  }
  return checked;
}

function checkRouteAuthConfig(config: RouteAuthConfig | null): RouteAuthConfig | null {
  if (config === null) return null;
  if (config.required_scopes === undefined) return { auth_type: config.auth_type };
  if (config.auth_type === "none" && config.required_scopes.length > 0) {
    throw invalid("auth_config.required_scopes: a public route (auth_type \"none\") requires no scopes");
  }
  const scopes = checkScopes("auth_config.required_scopes", config.required_scopes) ?? [];
  return scopes.length > 0 ? { auth_type: config.auth_type, required_scopes: scopes } : { auth_type: config.auth_type };
}
