/**
 * Client ID Metadata Documents, the pure part: which client_ids are document
 * URLs, what a fetched document must say, and how long to trust it.
 *
 * @see https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/
 * @see https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization
 */
import { OAuthError } from "../oauth-error";
import type { ClientMetadata } from "./client-record";
import { parseClientMetadata } from "./registration";
import { parseBoundedJson } from "../../core/bounded-json";

export const MAX_DOCUMENT_URL_LENGTH = 2048;
export const MIN_CACHE_SECONDS = 300;
export const MAX_CACHE_SECONDS = 86_400;

const invalidClient = (why: string) => new OAuthError("invalid_client", why);

/** Is this client_id meant as a metadata document URL (so not a registered client)? */
export function looksLikeDocumentClientId(clientId: string): boolean {
  return clientId.startsWith("https://");
}

/**
 * The URL to fetch for a document client_id. Throws invalid_client when the
 * id breaks the draft's rules (§3): https, a path, no fragment, no
 * credentials, no dot segments. The id must already be in the form a URL
 * parser would print, since the document's client_id is compared with it as
 * a plain string.
 */
export function documentUrl(clientId: string): URL {
  if (clientId.length > MAX_DOCUMENT_URL_LENGTH) throw invalidClient(`client_id URL is longer than ${MAX_DOCUMENT_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw invalidClient("client_id is not a valid URL");
  }
  if (url.protocol !== "https:") throw invalidClient("a client_id URL must use https");
  if (url.pathname === "/" || url.pathname === "") throw invalidClient("a client_id URL must have a path");
  if (url.hash || clientId.includes("#")) throw invalidClient("a client_id URL must not have a fragment");
  if (url.username || url.password) throw invalidClient("a client_id URL must not contain credentials");
  if (url.href !== clientId) throw invalidClient("a client_id URL must be in normalized form (lower-case host, no default port, no dot segments)");
  return url;
}

/**
 * The metadata of a fetched document. Throws invalid_client naming what is
 * wrong. Scopes this server does not grant are dropped rather than refused:
 * one document serves every authorization server the client talks to.
 */
export function parseClientMetadataDocument(clientId: string, text: string, supportedScopes: readonly string[], defaultScopes: readonly string[] = supportedScopes): ClientMetadata {
  const json = parseBoundedJson(text);
  if (!json.ok) throw invalidClient(`the client metadata document is ${json.reason}`);
  const document = json.value;
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw invalidClient("the client metadata document is not a JSON object");
  }
  const fields = document as Record<string, unknown>;
  if (fields.client_id !== clientId) {
    throw invalidClient(`the client metadata document's client_id ${JSON.stringify(String(fields.client_id).slice(0, 200))} differs from its URL`);
  }
  // §4.1: a document is public, so it cannot carry a shared secret.
  if ("client_secret" in fields || "client_secret_expires_at" in fields) {
    throw invalidClient("a client metadata document must not contain client_secret or client_secret_expires_at");
  }
  const method = fields.token_endpoint_auth_method ?? "none";
  if (method !== "none") {
    throw invalidClient(`a client metadata document client must use token_endpoint_auth_method "none", not ${JSON.stringify(method)}`);
  }
  const scope = typeof fields.scope === "string" ? fields.scope.split(" ").filter((s) => supportedScopes.includes(s)).join(" ") : fields.scope;

  const parsed = parseClientMetadata({ ...fields, token_endpoint_auth_method: "none", scope }, { supportedScopes, defaultScopes });
  if (!parsed.ok) throw invalidClient(`client metadata document: ${parsed.error.description}`);
  return parsed.metadata;
}

/**
 * Seconds to keep a document, from its HTTP cache headers, clamped so that a
 * client cannot make us refetch on every request nor keep a stale document
 * for days.
 */
export function cacheLifetimeSeconds(headers: Headers, nowMs = Date.now()): number {
  const clamp = (seconds: number) => Math.min(MAX_CACHE_SECONDS, Math.max(MIN_CACHE_SECONDS, Math.floor(seconds)));
  const directives = (headers.get("cache-control") ?? "")
    .toLowerCase()
    .split(",")
    .map((d) => d.trim());
  if (directives.includes("no-store") || directives.includes("no-cache")) return MIN_CACHE_SECONDS;
  for (const name of ["s-maxage", "max-age"]) {
    const directive = directives.find((d) => d.startsWith(`${name}=`));
    const seconds = directive ? Number(directive.slice(name.length + 1).replace(/"/g, "")) : NaN;
    if (Number.isFinite(seconds)) return clamp(seconds);
  }
  const expires = Date.parse(headers.get("expires") ?? "");
  if (Number.isFinite(expires)) {
    const date = Date.parse(headers.get("date") ?? "");
    return clamp((expires - (Number.isFinite(date) ? date : nowMs)) / 1000);
  }
  return MIN_CACHE_SECONDS;
}
