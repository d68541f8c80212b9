/**
 * How `portcullis oauth …` shows the OAuth admin API's answers: columns for
 * clients and sessions, and nested objects (status, health, statistics)
 * flattened to one row per value for table and csv. json and yaml always get
 * the API's objects untouched.
 */
import { renderItem, type Column } from "../output";
import type { OutputFormat } from "../settings";

/** A client as GET /api/v1/oauth/clients lists it (never its secret). */
export interface OAuthClientView {
  client_id: string;
  client_name: string | null;
  redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: string;
  scope: string | null;
  confidential: boolean;
  created_at: string;
  expires_at: string | null;
  expired: boolean;
}

/** A session (one login's grant) as GET /api/v1/oauth/sessions lists it. */
export interface OAuthSessionView {
  session_id: string;
  client_id: string;
  username: string | null;
  email: string | null;
  scope: string;
  resources: string[];
  proxy_hostname: string | null;
  created_at: string;
  expires_at: string;
  has_refresh_token: boolean;
  access_tokens: number;
}

/** The answer of POST /api/v1/oauth/test-tokens. */
export interface TestTokenView {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  aud: string[] | string;
  [field: string]: unknown;
}

export const CLIENT_COLUMNS: Column<OAuthClientView>[] = [
  { header: "Client ID", value: (c) => c.client_id },
  { header: "Name", value: (c) => c.client_name },
  { header: "Auth Method", value: (c) => c.token_endpoint_auth_method },
  { header: "Scope", value: (c) => c.scope },
  { header: "Redirect URIs", value: (c) => c.redirect_uris.join(", ") },
  { header: "Created", value: (c) => c.created_at, kind: "date" },
  { header: "Expires", value: (c) => c.expires_at, kind: "expiry" },
];

export const SESSION_COLUMNS: Column<OAuthSessionView>[] = [
  { header: "Session ID", value: (s) => s.session_id },
  { header: "User", value: (s) => s.username },
  { header: "Client", value: (s) => s.client_id },
  { header: "Scope", value: (s) => s.scope },
  { header: "Resources", value: (s) => s.resources.join(", ") },
  { header: "Proxy", value: (s) => s.proxy_hostname },
  { header: "Created", value: (s) => s.created_at, kind: "date" },
  { header: "Expires", value: (s) => s.expires_at, kind: "expiry" },
  { header: "Refresh", value: (s) => s.has_refresh_token, kind: "bool" },
  { header: "Tokens", value: (s) => s.access_tokens },
];

export const EMPTY_CLIENTS_HINT = "No OAuth clients yet. Register one: portcullis oauth client-register <name> --redirect-uri <uri>";
export const EMPTY_ACTIVE_CLIENTS_HINT = "No active OAuth clients (leave out --active-only to see expired ones too).";
export const EMPTY_SESSIONS_HINT = "No active sessions: nobody is logged in through the authorization server.";

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Nested objects as dotted keys ("upstream.kind"), lists of plain values as
 * "a, b"; an empty object stays one "—" row so a section never vanishes.
 */
export function flattenItem(item: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) {
    const name = prefix + key;
    if (isPlainObject(value) && Object.keys(value).length > 0) Object.assign(flat, flattenItem(value, `${name}.`));
    else if (isPlainObject(value)) flat[name] = null;
    else if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) flat[name] = value.join(", ");
    else flat[name] = value;
  }
  return flat;
}

/** One object: the API's in json/yaml, flattened in table/csv. */
export function renderObject(item: Record<string, unknown>, format: OutputFormat): string {
  return format === "json" || format === "yaml" ? renderItem(item, format) : renderItem(flattenItem(item), format);
}

/** Single-quoted for a POSIX shell, so a URL with & or ? survives a copy-paste. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The example request a test token is for: the MCP server's URL with the token as a bearer token (RFC 6750 §2.1). */
export function curlExample(token: string, serverUrl: string): string {
  return `curl -H "Authorization: Bearer ${token}" ${shellQuote(serverUrl)}`;
}

/**
 * json/yaml/csv: the API's answer. table: its fields without the token, then
 * the token alone on a line (easy to copy) and a curl that uses it.
 */
export function renderTestToken(minted: TestTokenView, serverUrl: string, format: OutputFormat): string {
  if (format !== "table") return format === "csv" ? renderItem(flattenItem(minted), "csv") : renderItem(minted, format);
  const { access_token: token, ...details } = minted;
  return [renderItem(flattenItem(details), "table"), "access_token:", token, "", "Try it:", `  ${curlExample(token, serverUrl)}`].join("\n");
}
