/**
 * `portcullis oauth …`: the authorization server's admin side over
 * /api/v1/oauth (clients, sessions, keys, status, test tokens), the global
 * routes that expose it on every proxy, and an offline signing-key generator.
 * The admin API needs the admin token.
 */
import type { Command } from "commander";
import { isJwtAlgorithm, JWT_ALGORITHMS } from "../../core/oauth-config";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderList } from "../output";
import { parseInteger, splitList, type RouteView } from "./route";
import { generatedKeyNote, generateSigningKey, renderGeneratedKey, renderKeys, type KeysView } from "./oauth-keys";
import {
  CLIENT_COLUMNS,
  EMPTY_ACTIVE_CLIENTS_HINT,
  EMPTY_CLIENTS_HINT,
  EMPTY_SESSIONS_HINT,
  renderObject,
  renderTestToken,
  SESSION_COLUMNS,
  type OAuthClientView,
  type OAuthSessionView,
  type TestTokenView,
} from "./oauth-output";
import { applyOAuthRoutes, authHostWarning, checkDomain, planOAuthRoutes, renderOAuthRoutes, setupError } from "./oauth-routes";

const BASE = "/api/v1/oauth";
const clientPath = (id: string) => `${BASE}/clients/${encodeURIComponent(id)}`;
const sessionPath = (id: string) => `${BASE}/sessions/${encodeURIComponent(id)}`;

/** What a test client gets without --redirect-uri: loopback http, which matches on any port (RFC 8252 §7.3). */
export const DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback";

/** "mcp:read,mcp:write" or "mcp:read mcp:write" → "mcp:read mcp:write" (OAuth scopes are space-separated). */
export function scopeParameter(value: string): string {
  return value
    .split(/[\s,]+/)
    .filter((s) => s !== "")
    .join(" ");
}

export interface ClientRegisterFlags {
  redirectUri?: string[];
  scope?: string;
  public?: boolean;
  grantTypes?: string;
}

/** The --redirect-uri values, repeated or comma-separated; "" (what a recipe passes for none) adds nothing. */
export const givenRedirectUris = (flags: ClientRegisterFlags): string[] => (flags.redirectUri ?? []).flatMap(splitList);

/** The RFC 7591 body for `client-register`: only what was given, plus the default redirect URI when none was. */
export function clientRegistrationBody(name: string, flags: ClientRegisterFlags): Record<string, unknown> {
  if (name.trim() === "") throw new CliError("oauth client-register: the client name is empty");
  const redirectUris = givenRedirectUris(flags);
  const body: Record<string, unknown> = { client_name: name, redirect_uris: redirectUris.length > 0 ? redirectUris : [DEFAULT_REDIRECT_URI] };
  if (flags.scope !== undefined && scopeParameter(flags.scope) !== "") body.scope = scopeParameter(flags.scope);
  if (flags.grantTypes !== undefined) body.grant_types = splitList(flags.grantTypes);
  if (flags.public) body.token_endpoint_auth_method = "none";
  return body;
}

/** Said once, on stderr, after a registration: the credentials cannot be shown again. */
export function credentialsWarning(registered: Record<string, unknown>): string {
  const shown = ["client_secret", "registration_access_token"].filter((field) => typeof registered[field] === "string");
  if (shown.length === 0) return "";
  return `Save ${shown.join(" and ")} now: ${shown.length === 1 ? "it is" : "they are"} shown only this once (the gateway keeps only a hash).`;
}

/** The body of POST /oauth/test-tokens: the server URL is the resource (the token's aud). */
export function testTokenBody(serverUrl: string, flags: { scope?: string; username?: string; lifetime?: string }): Record<string, unknown> {
  const body: Record<string, unknown> = { resource: serverUrl };
  if (flags.scope !== undefined) body.scope = scopeParameter(flags.scope);
  if (flags.username !== undefined) body.username = flags.username;
  if (flags.lifetime !== undefined) body.lifetime_seconds = parseInteger("--lifetime", flags.lifetime);
  return body;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function registerOAuthCommands(program: Command, context: CommandContext): void {
  const oauth = program.command("oauth").description("Manage the OAuth 2.1 authorization server (admin token)");

  oauth
    .command("key-generate")
    .description("Print a new signing key, base64 PEM, for OAUTH_JWT_PRIVATE_KEY_B64 (offline): RSA-2048 for RS256, EC P-256 for ES256")
    .option("--env", "print it as a .env line: OAUTH_JWT_PRIVATE_KEY_B64=…")
    .option("--algorithm <alg>", `the OAUTH_JWT_ALGORITHM it is for: ${JWT_ALGORITHMS.join(" or ")}`, "RS256")
    .action(async (flags: { env?: boolean; algorithm: string }) => {
      const { settings, print, note } = context();
      const algorithm = flags.algorithm.toUpperCase();
      if (!isJwtAlgorithm(algorithm)) throw new CliError(`--algorithm: expected ${JWT_ALGORITHMS.join(" or ")}, got ${JSON.stringify(flags.algorithm)}`);
      const key = await generateSigningKey(algorithm);
      print(renderGeneratedKey(key, settings.format, flags.env === true));
      note(generatedKeyNote(key));
    });

  oauth
    .command("keys")
    .description("Show the current signing key's kid and the published JWKS")
    .action(async () => {
      const { client, settings, print } = context();
      print(renderKeys(await client.get<KeysView>(`${BASE}/keys`), settings.format));
    });

  oauth
    .command("key-rotate")
    .description("Make a new signing key current on every node; the old one verifies until its tokens expire")
    .action(async () => {
      const { client, settings, print } = context();
      print(renderObject(await client.post<Record<string, unknown>>(`${BASE}/keys/rotate`), settings.format));
    });

  oauth
    .command("routes-setup")
    .description("Create the global routes (priority 95) that send /authorize, /token, … on every proxy to auth.<domain>; optional: protected proxies serve them already")
    .argument("<domain>", "base domain, e.g. example.com (the authorization server is auth.example.com)")
    .action(async (rawDomain: string) => {
      const domain = checkDomain(rawDomain);
      const { client, settings, print, note } = context();
      const plan = planOAuthRoutes(domain, await client.get<RouteView[]>("/api/v1/routes/"));
      const { rows, failure } = await applyOAuthRoutes(client, plan);
      print(renderOAuthRoutes(domain, rows, settings.format));
      const warning = await authHostWarning(client, domain);
      if (warning) note(warning);
      const error = setupError(rows, failure);
      if (error) throw error;
    });

  oauth
    .command("client-register")
    .description("Register an OAuth client; prints its client_id, and its secret and registration token once")
    .argument("<name>", "client name (shown on the consent page)")
    .option("--redirect-uri <uri>", `redirect URI (repeatable or comma-separated; default ${DEFAULT_REDIRECT_URI}, any loopback port)`, collect)
    .option("--scope <scopes>", "scopes it may ask for, e.g. \"mcp:read mcp:write\" (default: every scope)")
    .option("--grant-types <list>", "comma-separated, e.g. authorization_code,refresh_token (default authorization_code)")
    .option("--public", "a public client (token_endpoint_auth_method none: no secret, PKCE only)")
    .action(async (name: string, flags: ClientRegisterFlags) => {
      const body = clientRegistrationBody(name, flags);
      const { client, settings, print, note } = context();
      const registered = await client.post<Record<string, unknown>>(`${BASE}/clients`, body);
      print(renderObject(registered, settings.format));
      if (givenRedirectUris(flags).length === 0) note(`No --redirect-uri: registered ${DEFAULT_REDIRECT_URI} (matches any loopback port).`);
      const warning = credentialsWarning(registered);
      if (warning) note(warning);
    });

  oauth
    .command("clients-list")
    .description("List registered OAuth clients (never their secrets)")
    .option("--active-only", "leave out clients whose registration has expired")
    .action(async (flags: { activeOnly?: boolean }) => {
      const { client, settings, print } = context();
      const rows = await client.get<OAuthClientView[]>(`${BASE}/clients${flags.activeOnly ? "?active_only=true" : ""}`);
      print(renderList(rows, CLIENT_COLUMNS, settings.format, flags.activeOnly ? EMPTY_ACTIVE_CLIENTS_HINT : EMPTY_CLIENTS_HINT));
    });

  oauth
    .command("client-show")
    .description("Show one OAuth client, with its live sessions and tokens counted")
    .argument("<client-id>", "client_id")
    .action(async (id: string) => {
      const { client, settings, print } = context();
      print(renderObject(await client.get<Record<string, unknown>>(clientPath(id)), settings.format));
    });

  oauth
    .command("client-delete")
    .description("Delete an OAuth client and revoke its sessions")
    .argument("<client-id>", "client_id")
    .action(async (id: string) => {
      const { client, settings, print } = context();
      print(renderObject(await client.delete<Record<string, unknown>>(clientPath(id)), settings.format));
    });

  oauth
    .command("sessions-list")
    .description("List active sessions (one per login, kept alive by its refresh token)")
    .action(async () => {
      const { client, settings, print } = context();
      print(renderList(await client.get<OAuthSessionView[]>(`${BASE}/sessions`), SESSION_COLUMNS, settings.format, EMPTY_SESSIONS_HINT));
    });

  oauth
    .command("session-show")
    .description("Show one session and its live access tokens")
    .argument("<session-id>", "session_id")
    .action(async (id: string) => {
      const { client, settings, print } = context();
      print(renderObject(await client.get<Record<string, unknown>>(sessionPath(id)), settings.format));
    });

  oauth
    .command("session-revoke")
    .description("Revoke a session: its refresh token and every access token it issued")
    .argument("<session-id>", "session_id")
    .action(async (id: string) => {
      const { client, settings, print } = context();
      print(renderObject(await client.delete<Record<string, unknown>>(sessionPath(id)), settings.format));
    });

  oauth
    .command("tokens")
    .description("Token statistics: live access and refresh tokens, grants, revoked, by client and user")
    .action(async () => {
      const { client, settings, print } = context();
      print(renderObject(await client.get<Record<string, unknown>>(`${BASE}/tokens`), settings.format));
    });

  oauth
    .command("status")
    .description("The authorization server at a glance: issuer, upstream, signing key, counts")
    .action(async () => {
      const { client, settings, print } = context();
      print(renderObject(await client.get<Record<string, unknown>>(`${BASE}/status`), settings.format));
    });

  oauth
    .command("health")
    .description("Whether the authorization server can work; exits 1 when it is degraded")
    .action(async () => {
      const { client, settings, print } = context();
      const health = await client.get<{ status?: string; problems?: string[] } & Record<string, unknown>>(`${BASE}/health`);
      print(renderObject(health, settings.format));
      if (health.status !== "healthy") throw new CliError(`the OAuth server is ${health.status ?? "in an unknown state"}: ${(health.problems ?? []).join("; ")}`);
    });

  oauth
    .command("test-tokens")
    .description("Mint an access token for an MCP server (its URL is the token's audience) and show how to use it")
    .argument("<server-url>", "the MCP server's URL, e.g. https://mcp.example.com")
    .option("--scope <scopes>", "space- or comma-separated (default \"mcp:read mcp:write\")")
    .option("--username <name>", "the token's login; sub is admin-<name> (default: your API token's name)")
    .option("--lifetime <seconds>", "60-86400 (default OAUTH_ACCESS_TOKEN_LIFETIME)")
    .action(async (serverUrl: string, flags: { scope?: string; username?: string; lifetime?: string }) => {
      const body = testTokenBody(serverUrl, flags);
      const { client, settings, print } = context();
      print(renderTestToken(await client.post<TestTokenView>(`${BASE}/test-tokens`, body), serverUrl, settings.format));
    });
}
