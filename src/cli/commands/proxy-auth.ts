/**
 * `portcullis proxy auth-enable|auth-disable|auth-config|auth-show`: a proxy's
 * edge authentication (002 "Authentication Integration", "Per-Proxy User
 * Allowlists") over /api/v1/proxy/targets/{hostname}/auth. Each command sends
 * only the auth_* fields it was given; the API keeps the others. A list given
 * as "" goes as null: the default (for users, OAUTH_ALLOWED_GITHUB_USERS, else OAUTH_ADMIN_USERS).
 */
import { Option, type Command } from "commander";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderItem } from "../output";
import type { OutputFormat } from "../settings";
import { flattenItem } from "./oauth-output";
import { splitWords } from "./oauth-proxy";

export const AUTH_MODES = ["forward", "redirect", "passthrough"] as const;

/** A proxy's auth settings as GET/POST/DELETE …/auth answer. */
export interface AuthView {
  hostname: string;
  auth_enabled: boolean;
  auth_proxy: string | null;
  auth_mode: string;
  auth_required_users: string[] | null;
  effective_users: string[];
  allowed_users_source: "proxy" | "default";
  [field: string]: unknown;
}

/** The flags of auth-enable and auth-config; commander fills in what was given. */
export interface AuthFlags {
  authProxy?: string;
  mode?: string;
  users?: string;
  emails?: string;
  groups?: string;
  allowedScopes?: string;
  allowedAudiences?: string;
  excludedPaths?: string;
  passHeaders?: boolean;
  headerPrefix?: string;
  cookieName?: string;
  forwardBearer?: boolean;
}

/** "a,b c" → ["a", "b", "c"]; "" (or only separators) → null, the API's "default". */
export function listOrDefault(value: string): string[] | null {
  const items = splitWords(value);
  return items.length > 0 ? items : null;
}

/** The POST body for the flags given, and nothing else. */
export function authBody(flags: AuthFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.authProxy !== undefined) body.auth_proxy = flags.authProxy.trim() === "" ? null : flags.authProxy.trim();
  if (flags.mode !== undefined) body.auth_mode = flags.mode;
  const lists = [
    ["users", "auth_required_users"],
    ["emails", "auth_required_emails"],
    ["groups", "auth_required_groups"],
    ["allowedScopes", "auth_allowed_scopes"],
    ["allowedAudiences", "auth_allowed_audiences"],
    ["excludedPaths", "auth_excluded_paths"],
  ] as const;
  for (const [flag, field] of lists) {
    const value = flags[flag];
    if (value !== undefined) body[field] = listOrDefault(value);
  }
  if (flags.passHeaders !== undefined) body.auth_pass_headers = flags.passHeaders;
  if (flags.headerPrefix !== undefined) body.auth_header_prefix = flags.headerPrefix;
  if (flags.cookieName !== undefined) body.auth_cookie_name = flags.cookieName;
  if (flags.forwardBearer !== undefined) body.auth_forward_bearer = flags.forwardBearer;
  return body;
}

/**
 * json/yaml: the API's object; csv: flattened; table: flattened, and a
 * warning when auth is on and the allowlist admits nobody.
 */
export function renderAuth(view: AuthView, format: OutputFormat): string {
  if (format === "json" || format === "yaml") return renderItem(view, format);
  const table = renderItem(flattenItem(view), format);
  if (format !== "table" || !view.auth_enabled || view.effective_users.length > 0) return table;
  return (
    `${table}\nNobody can get in: ${view.hostname} names no users, and neither OAUTH_ALLOWED_GITHUB_USERS nor OAUTH_ADMIN_USERS names any. ` +
    `Allow some: portcullis proxy auth-config ${view.hostname} --users alice,bob (or --users '*' for every user who can log in).`
  );
}

const path = (hostname: string) => `/api/v1/proxy/targets/${encodeURIComponent(hostname)}/auth`;

const modeOption = () => new Option("--mode <mode>", "forward (401 + WWW-Authenticate), redirect (browsers log in) or passthrough").choices([...AUTH_MODES]);

export function registerProxyAuthCommands(proxy: Command, context: CommandContext): void {
  proxy
    .command("auth-enable")
    .description("Require OAuth access tokens on a proxy (auth_enabled); the other auth settings keep their values")
    .argument("<hostname>", "proxy hostname")
    .option("--auth-proxy <hostname>", "where users log in: the authorization server's hostname (default: the gateway's own, auth.<BASE_DOMAIN>)")
    .addOption(modeOption())
    .option("--allowed-scopes <list>", "scopes every token must carry, e.g. mcp:read,mcp:write (\"\" = none required)")
    .option("--allowed-audiences <list>", "resource URIs accepted in aud besides the proxy's own (\"\" = only its own)")
    .action(async (hostname: string, flags: AuthFlags) => {
      const body = { auth_enabled: true, ...authBody(flags) };
      const { client, settings, print } = context();
      print(renderAuth(await client.post<AuthView>(path(hostname), body), settings.format));
    });

  proxy
    .command("auth-disable")
    .description("Stop requiring tokens on a proxy; its auth settings are kept for the next auth-enable (--reset forgets them)")
    .argument("<hostname>", "proxy hostname")
    .option("--reset", "also reset every auth_* setting to its default (DELETE …/auth)")
    .action(async (hostname: string, flags: { reset?: boolean }) => {
      const { client, settings, print } = context();
      const view = flags.reset ? await client.delete<AuthView>(path(hostname)) : await client.post<AuthView>(path(hostname), { auth_enabled: false });
      print(renderAuth(view, settings.format));
    });

  proxy
    .command("auth-config")
    .description("Set some of a proxy's auth settings (who may get in, and how); the settings not given keep their values")
    .argument("<hostname>", "proxy hostname")
    .option("--users <list>", "GitHub logins allowed in, or '*' for everyone (\"\" = OAUTH_ALLOWED_GITHUB_USERS, else OAUTH_ADMIN_USERS)")
    .option("--emails <list>", "emails allowed in, user@domain or *@domain (\"\" = any email)")
    .option("--groups <list>", "groups allowed in (refused by the API: tokens carry no groups; \"\" clears)")
    .option("--allowed-scopes <list>", "scopes every token must carry (\"\" = none required)")
    .option("--allowed-audiences <list>", "resource URIs accepted in aud besides the proxy's own (\"\" = only its own)")
    .option("--excluded-paths <list>", "paths that need no token, * matches anything, e.g. /health,/.well-known/* (\"\" = none)")
    .option("--pass-headers", "send X-Auth-User-Id, -User, -User-Name, -Email, -Scopes, -Client-Id to the backend (default)")
    .option("--no-pass-headers", "send no identity headers to the backend")
    .option("--header-prefix <prefix>", "prefix of the identity headers (default X-Auth-)")
    .option("--cookie-name <name>", "session cookie of redirect mode (default unified_auth_token)")
    .option("--forward-bearer", "forward the client's bearer token to the backend")
    .option("--no-forward-bearer", "strip the bearer token before the backend (default)")
    .option("--auth-proxy <hostname>", "the authorization server's hostname (\"\" = the gateway's own)")
    .addOption(modeOption())
    .action(async (hostname: string, flags: AuthFlags) => {
      const body = authBody(flags);
      if (Object.keys(body).length === 0) throw new CliError("proxy auth-config: nothing to set; see `portcullis proxy auth-config --help`");
      const { client, settings, print } = context();
      print(renderAuth(await client.post<AuthView>(path(hostname), body), settings.format));
    });

  proxy
    .command("auth-show")
    .description("Show a proxy's auth settings and the users they let in")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderAuth(await client.get<AuthView>(path(hostname)), settings.format));
    });
}
