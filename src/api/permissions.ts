/**
 * The one place that decides whether a caller may use an endpoint: a table
 * keyed by "METHOD path" (OpenAPI's path form, without the trailing slash),
 * one access per principal (docs/permissions.md shows the same table).
 *
 * - allow: the endpoint works on every record it names;
 * - own: the endpoint answers, and the route shows and changes only what the
 *   caller owns (another token's record is a 404, as if it did not exist);
 * - deny: 403 before the request body is read.
 *
 * An /api/v1 path with no entry answers 404 to everyone, so an endpoint
 * added without an entry is unreachable rather than open (and the role matrix
 * test, generated from the OpenAPI document, fails).
 *
 * A new endpoint takes one line with one of the rules below, e.g.
 * `"GET /api/v1/cluster/nodes": ADMIN,`, and the same row in
 * docs/permissions.md (tests/api/permissions-doc.test.ts compares them).
 */
import type { Principal } from "./caller";

export type Access = "allow" | "own" | "deny";
export type Rule = "public" | Readonly<Record<Principal, Access>>;

export const PRINCIPALS: readonly Principal[] = ["admin", "service-owner", "viewer", "cluster"];

const rule = (admin: Access, serviceOwner: Access, viewer: Access, cluster: Access): Rule => Object.freeze({ admin, "service-owner": serviceOwner, viewer, cluster });

/** No token needed. */
const PUBLIC: Rule = "public";
/** Any valid credential, same answer for all. */
const ANY = rule("allow", "allow", "allow", "allow");
/** Reading records a service-owner sees only if it owns them; viewers and cluster keys read all. */
const READ = rule("allow", "own", "allow", "allow");
/** Writing those records: viewers never write. */
const WRITE = rule("allow", "own", "deny", "allow");
/** A non-GET that changes nothing but is not for viewers (a check, a validation): viewers never send anything but GET. */
const CHECK = rule("allow", "allow", "deny", "allow");
/** A secret in clear: its owner or the admin; never viewers, never cluster keys. */
const SECRET = rule("allow", "own", "deny", "deny");
/** All users' records or gateway-wide actions. */
const ADMIN = rule("allow", "deny", "deny", "deny");
/** Gateway-wide logs that name every user: the admin, and viewers read them. */
const ADMIN_LOG = rule("allow", "deny", "allow", "deny");
/** Gateway-wide housekeeping automation may run. */
const HOUSEKEEPING = rule("allow", "deny", "deny", "allow");
/** The cluster registry: what nodes and automation look at; a service-owner has no business with other machines. */
const CLUSTER_READ = rule("allow", "deny", "allow", "allow");
/** Tokens: a service-owner or viewer sees itself; cluster keys never touch tokens. */
const TOKEN_READ = rule("allow", "own", "own", "deny");
const TOKEN_WRITE = rule("allow", "own", "deny", "deny");

export const PERMISSIONS: Readonly<Record<string, Rule>> = {
  "GET /health": PUBLIC,
  "GET /healthz": PUBLIC,
  "GET /metrics": PUBLIC,
  "GET /api/v1/openapi.json": PUBLIC,

  "GET /api/v1/tokens": TOKEN_READ,
  "POST /api/v1/tokens": ADMIN,
  "POST /api/v1/tokens/generate": ADMIN,
  "GET /api/v1/tokens/info": TOKEN_READ,
  "PUT /api/v1/tokens/email": TOKEN_WRITE,
  "GET /api/v1/tokens/{name}": TOKEN_READ,
  "DELETE /api/v1/tokens/{name}": TOKEN_WRITE,
  "GET /api/v1/tokens/{name}/reveal": SECRET,
  "GET /api/v1/tokens/{name}/owned": TOKEN_READ,

  "GET /api/v1/cluster/keys": ADMIN,
  "POST /api/v1/cluster/keys": ADMIN,
  "DELETE /api/v1/cluster/keys/{name}": ADMIN,
  "GET /api/v1/cluster/nodes": CLUSTER_READ,
  "GET /api/v1/cluster/nodes/{id}": CLUSTER_READ,

  "GET /api/v1/proxy/targets": READ,
  "POST /api/v1/proxy/targets": WRITE,
  "GET /api/v1/proxy/targets/github-oauth/configured": READ,
  "GET /api/v1/proxy/targets/{hostname}": READ,
  "PUT /api/v1/proxy/targets/{hostname}": WRITE,
  "DELETE /api/v1/proxy/targets/{hostname}": WRITE,
  "GET /api/v1/proxy/targets/{hostname}/routes": READ,
  "PUT /api/v1/proxy/targets/{hostname}/routes": WRITE,
  "GET /api/v1/proxy/targets/{hostname}/github-oauth": READ,
  "POST /api/v1/proxy/targets/{hostname}/github-oauth": WRITE,
  "DELETE /api/v1/proxy/targets/{hostname}/github-oauth": WRITE,
  "GET /api/v1/proxy/targets/{hostname}/github-oauth/secret": SECRET,
  "GET /api/v1/proxy/targets/{hostname}/oauth-server": READ,
  "POST /api/v1/proxy/targets/{hostname}/oauth-server": WRITE,
  "DELETE /api/v1/proxy/targets/{hostname}/oauth-server": WRITE,
  "GET /api/v1/proxy/targets/{hostname}/auth": READ,
  "POST /api/v1/proxy/targets/{hostname}/auth": WRITE,
  "DELETE /api/v1/proxy/targets/{hostname}/auth": WRITE,
  "GET /api/v1/proxy/targets/{hostname}/resource": READ,
  "POST /api/v1/proxy/targets/{hostname}/resource": WRITE,
  "DELETE /api/v1/proxy/targets/{hostname}/resource": WRITE,
  "GET /api/v1/proxy/targets/{hostname}/mcp": READ,
  "POST /api/v1/proxy/targets/{hostname}/mcp": WRITE,
  "DELETE /api/v1/proxy/targets/{hostname}/mcp": WRITE,
  "GET /api/v1/proxy/targets/{hostname}/mcp-policy": READ,
  "POST /api/v1/proxy/targets/{hostname}/mcp-policy": WRITE,
  "DELETE /api/v1/proxy/targets/{hostname}/mcp-policy": WRITE,

  "GET /api/v1/routes": READ,
  "POST /api/v1/routes": WRITE,
  "GET /api/v1/routes/formatted": READ,
  "GET /api/v1/routes/{id}": READ,
  "PUT /api/v1/routes/{id}": WRITE,
  "DELETE /api/v1/routes/{id}": WRITE,

  "GET /api/v1/certificates": READ,
  "POST /api/v1/certificates": WRITE,
  "GET /api/v1/certificates/root": ANY,
  "POST /api/v1/certificates/multi-domain": WRITE,
  // ?pem=true (the private key) is further limited by the route to the owner and the admin.
  "GET /api/v1/certificates/{name}": READ,
  "DELETE /api/v1/certificates/{name}": WRITE,
  "GET /api/v1/certificates/{name}/status": READ,
  "POST /api/v1/certificates/{name}/renew": WRITE,

  "GET /api/v1/oauth/status": ADMIN,
  "GET /api/v1/oauth/status/clients": ADMIN,
  "GET /api/v1/oauth/status/tokens": ADMIN,
  "GET /api/v1/oauth/status/sessions": ADMIN,
  "GET /api/v1/oauth/metrics": ADMIN,
  "GET /api/v1/oauth/health": ADMIN,
  "GET /api/v1/oauth/clients": ADMIN,
  "POST /api/v1/oauth/clients": ADMIN,
  "GET /api/v1/oauth/clients/{client_id}": ADMIN,
  "DELETE /api/v1/oauth/clients/{client_id}": ADMIN,
  "GET /api/v1/oauth/clients/{client_id}/tokens": ADMIN,
  "PUT /api/v1/oauth/clients/{client_id}": ADMIN,
  // Stored secret hashes (what export --include-secrets carries): never viewers or cluster keys.
  "GET /api/v1/oauth/clients/{client_id}/secret-hashes": ADMIN,
  "GET /api/v1/oauth/tokens": ADMIN,
  "GET /api/v1/oauth/tokens/{jti}": ADMIN,
  "DELETE /api/v1/oauth/tokens/{jti}": ADMIN,
  "GET /api/v1/oauth/sessions": ADMIN,
  "GET /api/v1/oauth/sessions/{session_id}": ADMIN,
  "DELETE /api/v1/oauth/sessions/{session_id}": ADMIN,
  "GET /api/v1/oauth/proxies": ADMIN,
  "GET /api/v1/oauth/proxies/{hostname}/sessions": ADMIN,
  "GET /api/v1/oauth/keys": ADMIN,
  "POST /api/v1/oauth/keys/rotate": ADMIN,
  "POST /api/v1/oauth/test-tokens": ADMIN,

  "GET /api/v1/resources": READ,
  "POST /api/v1/resources": WRITE,
  "POST /api/v1/resources/auto-register": WRITE,
  "GET /api/v1/resources/{uri}": READ,
  "PUT /api/v1/resources/{uri}": WRITE,
  "DELETE /api/v1/resources/{uri}": WRITE,
  "POST /api/v1/resources/{uri}/validate-token": CHECK,

  "GET /api/v1/services/unified": READ,
  "GET /api/v1/services/external": READ,
  "POST /api/v1/services/external": WRITE,
  "GET /api/v1/services/external/{name}": READ,
  "PUT /api/v1/services/external/{name}": WRITE,
  "DELETE /api/v1/services/external/{name}": WRITE,
  "GET /api/v1/services/ports": READ,
  "GET /api/v1/services/ports/available": ANY,
  "POST /api/v1/services/ports/check": CHECK,
  "GET /api/v1/services": READ,
  "POST /api/v1/services": WRITE,
  "POST /api/v1/services/cleanup": HOUSEKEEPING,
  "GET /api/v1/services/{name}": READ,
  "PUT /api/v1/services/{name}": WRITE,
  "DELETE /api/v1/services/{name}": WRITE,
  "GET /api/v1/services/{name}/logs": READ,
  "GET /api/v1/services/{name}/stats": READ,
  "GET /api/v1/services/{name}/ports": READ,
  "POST /api/v1/services/{name}/ports": WRITE,
  "PUT /api/v1/services/{name}/ports/{port_name}": WRITE,
  "DELETE /api/v1/services/{name}/ports/{port_name}": WRITE,
  "POST /api/v1/services/{name}/proxy": WRITE,
  "POST /api/v1/services/{name}/start": WRITE,
  "POST /api/v1/services/{name}/stop": WRITE,
  "POST /api/v1/services/{name}/restart": WRITE,

  "GET /api/v1/logs/search": READ,
  "GET /api/v1/logs/ip/{ip}": READ,
  "GET /api/v1/logs/host/{hostname}": READ,
  "GET /api/v1/logs/client/{client_id}": READ,
  "GET /api/v1/logs/user/{user}": READ,
  "GET /api/v1/logs/errors": READ,
  "GET /api/v1/logs/slow": READ,
  "GET /api/v1/logs/events": READ,
  "GET /api/v1/logs/follow": READ,
  "DELETE /api/v1/logs": ADMIN,
  "GET /api/v1/logs/oauth": ADMIN_LOG,
  "GET /api/v1/logs/oauth/flow/{flow_id}": ADMIN_LOG,
  "GET /api/v1/logs/audit": ADMIN_LOG,
};

interface CompiledEntry {
  readonly method: string;
  readonly template: string;
  readonly segments: readonly (string | null)[];
  readonly rule: Rule;
}

/** `/a/{x}/b` as segments, null for a parameter. */
const segmentsOf = (path: string) => path.split("/").slice(1).map((s) => (/^\{[^}]+\}$/.test(s) ? null : s));

/** A path's static segments win over a parameter in the same place, as in the router (/tokens/info before /tokens/{name}). */
function moreSpecificFirst(a: CompiledEntry, b: CompiledEntry): number {
  for (let i = 0; i < Math.min(a.segments.length, b.segments.length); i++) {
    const aStatic = a.segments[i] !== null;
    if (aStatic !== (b.segments[i] !== null)) return aStatic ? -1 : 1;
  }
  return 0;
}

const compiled: readonly CompiledEntry[] = Object.entries(PERMISSIONS)
  .map(([key, rule]) => {
    const [method, template] = key.split(" ") as [string, string];
    return { method, template, segments: segmentsOf(template), rule };
  })
  .sort(moreSpecificFirst);

/** `/x/` and `/x` name the same endpoint; HEAD is a GET. */
export function normalizeEndpoint(method: string, path: string): { method: string; path: string } {
  const trimmed = path.replace(/\/+$/, "");
  return { method: method === "HEAD" ? "GET" : method.toUpperCase(), path: trimmed === "" ? "/" : trimmed };
}

/** The table's entry for a request, or undefined when no endpoint matches. */
export function permissionFor(method: string, path: string): { readonly key: string; readonly rule: Rule } | undefined {
  const wanted = normalizeEndpoint(method, path);
  const segments = wanted.path.split("/").slice(1);
  for (const entry of compiled) {
    if (entry.method !== wanted.method || entry.segments.length !== segments.length) continue;
    if (entry.segments.every((s, i) => s === null ? segments[i] !== "" : s === segments[i])) return { key: `${entry.method} ${entry.template}`, rule: entry.rule };
  }
  return undefined;
}

export function accessOf(rule: Rule, principal: Principal): Access {
  return rule === "public" ? "allow" : rule[principal];
}

/** For a route's own check (defence in depth): what the table grants this caller on the endpoint `key`. */
export function allows(caller: { readonly role: Principal }, key: keyof typeof PERMISSIONS & string): boolean {
  const rule = PERMISSIONS[key];
  return rule !== undefined && accessOf(rule, caller.role) !== "deny";
}

/** Whether the caller may be handed a secret a read would otherwise include (a certificate's private key): the same principals as every SECRET endpoint. */
export function readsSecrets(caller: { readonly role: Principal }): boolean {
  return accessOf(SECRET, caller.role) !== "deny";
}
