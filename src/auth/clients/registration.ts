/**
 * Client metadata as a client sends it to /register (RFC 7591 §2), checked
 * and completed with the RFC's defaults. Pure: JSON value in, metadata or the
 * OAuth error naming the offending field out.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-2
 */
import { OAuthError } from "../oauth-error";
import type { ClientMetadata, TokenEndpointAuthMethod } from "./client-record";
import { redirectUriProblem } from "./redirect-uri";

export { redirectUriMatches } from "./redirect-uri";

export const MAX_REDIRECT_URIS = 20;
const MAX_TEXT_LENGTH = 256;
const MAX_URI_LENGTH = 2000;
const MAX_CONTACTS = 10;
const MAX_SCOPE_LENGTH = 1000;

const GRANT_TYPES = new Set(["authorization_code", "refresh_token"]);
const RESPONSE_TYPES = new Set(["code"]);
const AUTH_METHODS = new Set<TokenEndpointAuthMethod>(["none", "client_secret_basic", "client_secret_post"]);

export type ParsedClientMetadata = { ok: true; metadata: ClientMetadata } | { ok: false; error: OAuthError };

export interface ClientMetadataOptions {
  /** Scopes this server grants; a client may register any subset. */
  readonly supportedScopes: readonly string[];
  /** What a client that names no scope registers (RFC 7591 §2: the server's default); all supported ones when absent. */
  readonly defaultScopes?: readonly string[];
}

/** Thrown inside the parser only, turned into the result at its edge. */
class Invalid extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly code: "invalid_client_metadata" | "invalid_redirect_uri" = "invalid_client_metadata",
  ) {
    super(`${field}: ${problem}`);
  }
}

/**
 * Checks a registration (or RFC 7592 update) body. Unknown fields are ignored
 * (RFC 7591 §2); a field sent as null counts as absent.
 */
export function parseClientMetadata(body: unknown, options: ClientMetadataOptions): ParsedClientMetadata {
  try {
    return { ok: true, metadata: parse(body, options) };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, error: new OAuthError(error.code, error.message) };
    throw error;
  }
}

function parse(body: unknown, options: ClientMetadataOptions): ClientMetadata {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new Invalid("body", "client metadata must be a JSON object");
  }
  const fields = body as Record<string, unknown>;

  const grantTypes = stringList(fields, "grant_types", 10) ?? ["authorization_code"];
  if (grantTypes.length === 0) throw new Invalid("grant_types", "name at least one grant type");
  for (const grant of grantTypes) {
    if (!GRANT_TYPES.has(grant)) throw new Invalid("grant_types", `unsupported grant type ${JSON.stringify(grant)} (supported: authorization_code, refresh_token)`);
  }

  const responseTypes = stringList(fields, "response_types", 10) ?? ["code"];
  for (const type of responseTypes) {
    if (!RESPONSE_TYPES.has(type)) throw new Invalid("response_types", `unsupported response type ${JSON.stringify(type)} (supported: code)`);
  }
  // RFC 7591 §2.1: the code response type and the authorization_code grant come together.
  if (grantTypes.includes("authorization_code") !== responseTypes.includes("code")) {
    throw new Invalid("response_types", 'the grant type "authorization_code" and the response type "code" must be registered together');
  }

  const redirectUris = stringList(fields, "redirect_uris", MAX_REDIRECT_URIS) ?? [];
  if (grantTypes.includes("authorization_code") && redirectUris.length === 0) {
    throw new Invalid("redirect_uris", "at least one redirect URI is required for the authorization_code grant", "invalid_redirect_uri");
  }
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new Invalid("redirect_uris", `${JSON.stringify(uri.slice(0, 100))} ${problem}`, "invalid_redirect_uri");
  }

  const method = optionalText(fields, "token_endpoint_auth_method", 64, false) ?? "client_secret_basic";
  if (!AUTH_METHODS.has(method as TokenEndpointAuthMethod)) {
    throw new Invalid("token_endpoint_auth_method", `unsupported method ${JSON.stringify(method)} (supported: none, client_secret_basic, client_secret_post)`);
  }

  return {
    client_name: optionalText(fields, "client_name", MAX_TEXT_LENGTH),
    redirect_uris: redirectUris,
    grant_types: grantTypes,
    response_types: responseTypes,
    token_endpoint_auth_method: method as TokenEndpointAuthMethod,
    scope: scope(fields, options.supportedScopes, options.defaultScopes ?? options.supportedScopes),
    client_uri: webUri(fields, "client_uri"),
    logo_uri: webUri(fields, "logo_uri"),
    contacts: (stringList(fields, "contacts", MAX_CONTACTS) ?? []).map((contact) => bounded("contacts", contact, MAX_TEXT_LENGTH)),
    software_id: optionalText(fields, "software_id", MAX_TEXT_LENGTH),
    software_version: optionalText(fields, "software_version", MAX_TEXT_LENGTH),
  };
}

/** A string field; absent, null and (for descriptive fields) "" all mean "not given". */
function optionalText(fields: Record<string, unknown>, name: string, maxLength: number, emptyIsAbsent = true): string | null {
  const value = fields[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw new Invalid(name, "must be a string");
  if (value === "" && emptyIsAbsent) return null;
  return bounded(name, value, maxLength);
}

function bounded(name: string, value: string, maxLength: number): string {
  if (value.length === 0) throw new Invalid(name, "must not be empty");
  if (value.length > maxLength) throw new Invalid(name, `must be at most ${maxLength} characters`);
  return value;
}

/** An array of strings, duplicates dropped, or null when absent. */
function stringList(fields: Record<string, unknown>, name: string, maxItems: number): string[] | null {
  const value = fields[name];
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw new Invalid(name, "must be an array of strings");
  if (value.length > maxItems) throw new Invalid(name, `at most ${maxItems} entries`);
  return [...new Set(value as string[])];
}

/** Pages a consent screen links to or shows: http(s) only, never a script or data URL. */
function webUri(fields: Record<string, unknown>, name: string): string | null {
  const value = optionalText(fields, name, MAX_URI_LENGTH);
  if (value === null) return null;
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (!url || !(url.protocol === "https:" || url.protocol === "http:") || /[\s"'<>]/.test(value)) {
    throw new Invalid(name, "must be an absolute http or https URL");
  }
  return value;
}

/** Space-separated scopes, each one this server grants; none named = the default (RFC 7591 §2: the server picks it). */
function scope(fields: Record<string, unknown>, supported: readonly string[], defaults: readonly string[]): string {
  const value = fields.scope;
  if (value === undefined || value === null) return defaults.join(" ");
  if (typeof value !== "string") throw new Invalid("scope", "must be a space-separated string");
  if (value.length > MAX_SCOPE_LENGTH) throw new Invalid("scope", `must be at most ${MAX_SCOPE_LENGTH} characters`);
  const scopes = [...new Set(value.split(" ").filter(Boolean))];
  if (scopes.length === 0) return defaults.join(" ");
  const unsupported = scopes.filter((s) => !supported.includes(s));
  if (unsupported.length > 0) {
    throw new Invalid("scope", `unsupported scope ${unsupported.map((s) => JSON.stringify(s.slice(0, 64))).join(", ")} (supported: ${abbreviated(supported)})`);
  }
  return scopes.join(" ");
}

/** A list for an error message: operators may configure hundreds of scopes. */
function abbreviated(list: readonly string[], shown = 20): string {
  return list.length <= shown ? list.join(" ") : `${list.slice(0, shown).join(" ")} and ${list.length - shown} more`;
}
