/**
 * Resource indicators (RFC 8707): which protected resources a token is for.
 * Each becomes an `aud` entry, and the edge compares them byte for byte with
 * the URL clients connect to, so they are kept in one canonical form: lower-case
 * scheme and host, no default port, no trailing slash, no query, no fragment.
 */
import { isLoopback } from "../core/oauth-config";
import { OAuthError } from "./oauth-error";

export interface ResourcePolicy {
  /** MCP_MAX_RESOURCES_PER_TOKEN. */
  readonly maxResources: number;
  /** MCP_RESOURCE_VALIDATION_STRICT: only resources this gateway serves may be named. */
  readonly strict: boolean;
  /** True when this gateway serves the resource (a proxy's host, or a registered resource). */
  isServed(resource: string, host: string): boolean | Promise<boolean>;
}

/** The canonical form of one resource indicator, or an `invalid_target` error saying what is wrong. */
export function canonicalResource(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OAuthError("invalid_target", `resource ${JSON.stringify(raw)} is not an absolute URI`);
  }
  if (raw.includes("#")) throw new OAuthError("invalid_target", `resource ${JSON.stringify(raw)} must not contain a fragment`);
  if (url.search) throw new OAuthError("invalid_target", `resource ${JSON.stringify(raw)} must not contain a query`);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) {
    throw new OAuthError("invalid_target", `resource ${JSON.stringify(raw)} must be an https URL`);
  }
  if (url.username || url.password) throw new OAuthError("invalid_target", `resource ${JSON.stringify(raw)} must not carry credentials`);
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/+$/, "");
  return `${url.protocol}//${url.host}${path}`;
}

/** Checks the resources of an authorization request: syntax, count, and (strict mode) that we serve them. */
export async function checkRequestedResources(raw: readonly string[], policy: ResourcePolicy): Promise<string[]> {
  const resources = [...new Set(raw.map(canonicalResource))];
  if (resources.length > policy.maxResources) {
    throw new OAuthError("invalid_target", `at most ${policy.maxResources} resources per token (MCP_MAX_RESOURCES_PER_TOKEN)`);
  }
  if (policy.strict) {
    for (const resource of resources) {
      if (!(await policy.isServed(resource, new URL(resource).hostname))) {
        throw new OAuthError("invalid_target", `resource ${JSON.stringify(resource)} is not served by this authorization server`);
      }
    }
  }
  return resources;
}

/**
 * What a token request may ask for (RFC 8707 §2.2): a subset of what was
 * authorized, never more. No resource asks for all of them.
 */
export function narrowResources(requested: readonly string[], authorized: readonly string[]): string[] {
  if (requested.length === 0) return [...authorized];
  const narrowed = [...new Set(requested.map(canonicalResource))];
  for (const resource of narrowed) {
    if (!authorized.includes(resource)) throw new OAuthError("invalid_target", `resource ${JSON.stringify(resource)} was not authorized for this grant`);
  }
  return narrowed;
}

/** Scopes as a set: a token request may narrow the granted scope but never widen it (RFC 6749 §6). */
export function narrowScope(requested: string | null, granted: string): string {
  if (!requested) return granted;
  const allowed = new Set(granted.split(" ").filter(Boolean));
  const asked = [...new Set(requested.split(" ").filter(Boolean))];
  for (const scope of asked) {
    if (!allowed.has(scope)) throw new OAuthError("invalid_scope", `scope ${JSON.stringify(scope)} exceeds what was granted`);
  }
  return asked.join(" ");
}
