/**
 * `portcullis proxy oauth-server-*` and `proxy github-oauth-*`: a proxy's own
 * authorization server metadata and its own GitHub OAuth app (002 "OAuth
 * Authorization Server Metadata", "Per-Proxy GitHub OAuth Apps"). A GitHub
 * client secret goes in once (from stdin with `-`, to keep it out of shell
 * history) and is never printed: the API only says whether one is set.
 */
import type { Command } from "commander";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderItem, renderList, type Column } from "../output";
import type { OutputFormat } from "../settings";
import { flattenItem } from "./oauth-output";

const path = (hostname: string) => `/api/v1/proxy/targets/${encodeURIComponent(hostname)}`;

/** "a,b c" → ["a", "b", "c"]; "" → [] (which the API stores as "the default"). */
export function splitWords(value: string): string[] {
  return value.split(/[\s,]+/).filter((item) => item !== "");
}

export interface OAuthServerFlags {
  issuer?: string;
  scopes?: string;
  grantTypes?: string;
  responseTypes?: string;
  tokenAuthMethods?: string;
  claims?: string;
  pkceRequired?: boolean;
  customMetadata?: string;
  overrideDefaults?: boolean;
}

/** `--custom-metadata` as the JSON object it must be; "" clears it. */
export function parseCustomMetadata(value: string): Record<string, unknown> | null {
  if (value.trim() === "") return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new CliError(`--custom-metadata: not valid JSON (${(err as Error).message}); expected an object, e.g. '{"service_documentation":"https://docs.example.com"}'`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new CliError("--custom-metadata: expected a JSON object of extra metadata fields");
  return parsed as Record<string, unknown>;
}

/** The POST body for the flags given, and nothing else: the API keeps the fields not sent. */
export function oauthServerBody(flags: OAuthServerFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.issuer !== undefined) body.oauth_server_issuer = flags.issuer.trim() === "" ? null : flags.issuer.trim();
  const lists = [
    ["scopes", "oauth_server_scopes"],
    ["grantTypes", "oauth_server_grant_types"],
    ["responseTypes", "oauth_server_response_types"],
    ["tokenAuthMethods", "oauth_server_token_auth_methods"],
    ["claims", "oauth_server_claims"],
  ] as const;
  for (const [flag, field] of lists) {
    const value = flags[flag];
    if (value !== undefined) body[field] = splitWords(value);
  }
  if (flags.pkceRequired !== undefined) body.oauth_server_pkce_required = flags.pkceRequired;
  if (flags.customMetadata !== undefined) body.oauth_server_custom_metadata = parseCustomMetadata(flags.customMetadata);
  if (flags.overrideDefaults !== undefined) body.oauth_server_override_defaults = flags.overrideDefaults;
  return body;
}

/** json/yaml: the API's object; csv: flattened; table: the settings, then the metadata document they produce. */
export function renderOAuthServer(view: Record<string, unknown>, format: OutputFormat): string {
  if (format === "json" || format === "yaml") return renderItem(view, format);
  if (format === "csv") return renderItem(flattenItem(view), "csv");
  const { metadata_preview: preview, ...settings } = view;
  const table = renderItem(flattenItem(settings), "table");
  if (typeof preview !== "object" || preview === null) return table;
  const where = `${String(view.hostname)}/.well-known/oauth-authorization-server`;
  const applies = view.oauth_server_override_defaults ? "" : " (the defaults: these settings apply once --override-defaults is on)";
  return `${table}\nMetadata served at ${where}${applies}:\n${renderItem(flattenItem(preview as Record<string, unknown>), "table")}`;
}

/** A proxy's GitHub app as the API shows it: never the secret. */
export interface GitHubOAuthView {
  hostname: string;
  github_client_id: string | null;
  github_client_secret_set: boolean;
}

export const GITHUB_OAUTH_COLUMNS: Column<GitHubOAuthView>[] = [
  { header: "Hostname", value: (g) => g.hostname },
  { header: "GitHub Client ID", value: (g) => g.github_client_id },
  { header: "Secret Set", value: (g) => g.github_client_secret_set, kind: "bool" },
];

export const EMPTY_GITHUB_OAUTH_HINT =
  "No proxy has its own GitHub OAuth app; they use GITHUB_CLIENT_ID. Give one its own: portcullis proxy github-oauth-set <hostname> <client-id> -";

/** The first line of `input` (a pipe or a terminal), without its line ending. */
export async function readFirstLine(input: AsyncIterable<Uint8Array | string>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of input) {
    text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    if (text.includes("\n")) break;
  }
  return text.split("\n")[0]!.replace(/\r$/, "");
}

/** The secret argument: itself, or with `-` the first line of stdin. */
export async function resolveSecret(argument: string, readStdin: () => Promise<string>): Promise<string> {
  const secret = argument === "-" ? await readStdin() : argument;
  if (secret.trim() === "") throw new CliError(argument === "-" ? "proxy github-oauth-set: stdin gave no client secret" : "proxy github-oauth-set: the client secret is empty");
  return secret.trim();
}

export function registerProxyOAuthCommands(proxy: Command, context: CommandContext): void {
  proxy
    .command("oauth-server-set")
    .description("Set some of a proxy's authorization server metadata (oauth_server_*); the fields not given keep their values")
    .argument("<hostname>", "proxy hostname")
    .option("--issuer <url>", "https issuer URL for this proxy (\"\" = the gateway's)")
    .option("--scopes <list>", "scopes_supported, e.g. mcp:read,mcp:write (\"\" = default)")
    .option("--grant-types <list>", "grant_types_supported (must include authorization_code)")
    .option("--response-types <list>", "response_types_supported (code)")
    .option("--token-auth-methods <list>", "token_endpoint_auth_methods_supported: none, client_secret_basic, client_secret_post")
    .option("--claims <list>", "claims_supported, e.g. sub,login,email")
    .option("--pkce-required", "require PKCE")
    .option("--no-pkce-required", "do not require PKCE")
    .option("--custom-metadata <json>", "extra metadata fields as a JSON object (\"\" clears)")
    .option("--override-defaults", "serve these settings in the proxy's metadata instead of the defaults")
    .option("--no-override-defaults", "serve the defaults again (the settings are kept)")
    .action(async (hostname: string, flags: OAuthServerFlags) => {
      const body = oauthServerBody(flags);
      if (Object.keys(body).length === 0) throw new CliError("proxy oauth-server-set: nothing to set; see `portcullis proxy oauth-server-set --help`");
      const { client, settings, print } = context();
      print(renderOAuthServer(await client.post<Record<string, unknown>>(`${path(hostname)}/oauth-server`, body), settings.format));
    });

  proxy
    .command("oauth-server-show")
    .description("Show a proxy's authorization server settings and the metadata document they produce")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderOAuthServer(await client.get<Record<string, unknown>>(`${path(hostname)}/oauth-server`), settings.format));
    });

  proxy
    .command("oauth-server-clear")
    .description("Reset a proxy's authorization server settings to the defaults")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderOAuthServer(await client.delete<Record<string, unknown>>(`${path(hostname)}/oauth-server`), settings.format));
    });

  proxy
    .command("github-oauth-set")
    .description("Give a proxy its own GitHub OAuth app; the secret is stored encrypted and never shown")
    .argument("<hostname>", "proxy hostname")
    .argument("<client-id>", "the GitHub OAuth app's client ID")
    .argument("<client-secret>", "its client secret, or - to read it from stdin (keeps it out of shell history)")
    .action(async (hostname: string, clientId: string, secretArgument: string) => {
      const { client, settings, print, note } = context();
      const secret = await resolveSecret(secretArgument, async () => {
        if (process.stdin.isTTY) note("GitHub client secret (then Enter):");
        return readFirstLine(process.stdin);
      });
      const body = { github_client_id: clientId, github_client_secret: secret };
      print(renderItem({ ...(await client.post<GitHubOAuthView>(`${path(hostname)}/github-oauth`, body)) }, settings.format));
    });

  proxy
    .command("github-oauth-show")
    .description("Show a proxy's GitHub OAuth app: its client ID and whether a secret is set")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderItem({ ...(await client.get<GitHubOAuthView>(`${path(hostname)}/github-oauth`)) }, settings.format));
    });

  proxy
    .command("github-oauth-clear")
    .description("Remove a proxy's own GitHub OAuth app; its users log in through the default app again")
    .argument("<hostname>", "proxy hostname")
    .action(async (hostname: string) => {
      const { client, settings, print } = context();
      print(renderItem({ ...(await client.delete<GitHubOAuthView>(`${path(hostname)}/github-oauth`)) }, settings.format));
    });

  proxy
    .command("github-oauth-list")
    .description("List the proxies with their own GitHub OAuth app")
    .action(async () => {
      const { client, settings, print } = context();
      const rows = await client.get<GitHubOAuthView[]>("/api/v1/proxy/targets/github-oauth/configured");
      print(renderList(rows, GITHUB_OAUTH_COLUMNS, settings.format, EMPTY_GITHUB_OAUTH_HINT));
    });
}
