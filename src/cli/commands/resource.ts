/**
 * `portcullis resource …`: the protected resource registry (001 "Protected
 * Resource Management API Endpoints", `resource:{uri}`) over
 * /api/v1/resources. A URI goes percent-encoded in the path. validate-token
 * exits 1 when the token is not good for the resource, so scripts can test it.
 */
import type { Command } from "commander";
import type { ResourceRecord } from "../../storage/resource-repository";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderItem, renderList, type Column } from "../output";
import type { OutputFormat } from "../settings";
import { flattenItem, renderObject } from "./oauth-output";
import { readFirstLine, splitWords } from "./oauth-proxy";

const BASE = "/api/v1/resources";
const at = (uri: string, rest = "") => `${BASE}/${encodeURIComponent(uri)}${rest}`;

export type ResourceView = Omit<ResourceRecord, "owner_token_hash"> & { owner_token_hash?: string | null };

export const RESOURCE_COLUMNS: Column<ResourceView>[] = [
  { header: "URI", value: (r) => r.uri },
  { header: "Name", value: (r) => r.name },
  { header: "Proxy", value: (r) => r.proxy_target },
  { header: "Scopes", value: (r) => r.scopes.join(", ") },
  { header: "Metadata URL", value: (r) => r.metadata_url },
  { header: "Created", value: (r) => r.created_at, kind: "date" },
];

/** "resource https://mcp.example.com/mcp (proxy mcp.example.com)": what register/update print by default. */
export function resourceLine(r: Pick<ResourceView, "uri" | "proxy_target">): string {
  return `resource ${r.uri}${r.proxy_target ? ` (proxy ${r.proxy_target})` : ""}`;
}

export const EMPTY_RESOURCES_HINT =
  "No protected resources registered. Register one: portcullis resource register <uri> --proxy <hostname>, or every protecting proxy's: portcullis resource auto-register";

export interface RegistryFlags {
  name?: string;
  proxy?: string;
  scopes?: string;
  description?: string;
  metadataUrl?: string;
}

/** The body fields for the flags given; `--proxy ""` unlinks the proxy (null), `--scopes ""` empties the list. */
export function registryBody(flags: RegistryFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.name !== undefined) body.name = flags.name;
  if (flags.proxy !== undefined) body.proxy_target = flags.proxy.trim() === "" ? null : flags.proxy.trim();
  if (flags.scopes !== undefined) body.scopes = splitWords(flags.scopes);
  if (flags.description !== undefined) body.description = flags.description;
  if (flags.metadataUrl !== undefined) body.metadata_url = flags.metadataUrl;
  return body;
}

/** The answer of POST …/validate-token. */
export interface ValidationView {
  valid: boolean;
  resource: string;
  reason?: string;
  claims?: Record<string, unknown>;
}

/** json/yaml: the API's object; table/csv: flattened (claims.sub, claims.scope, …), times as dates. */
export function renderValidation(result: ValidationView, format: OutputFormat): string {
  if (format === "json" || format === "yaml") return renderItem({ ...result }, format);
  const flat = flattenItem({ ...result });
  if (format === "table") {
    for (const claim of ["claims.exp", "claims.iat", "claims.nbf", "claims.auth_time"]) {
      if (typeof flat[claim] === "number") flat[claim] = new Date((flat[claim] as number) * 1000).toISOString();
    }
  }
  return renderItem(flat, format);
}

/** The answer of POST …/auto-register. */
export interface AutoRegisterView {
  created: string[];
  updated: string[];
  unchanged: string[];
  skipped: { hostname: string; reason: string }[];
}

export interface AutoRegisterRow {
  result: "created" | "updated" | "unchanged" | "skipped";
  target: string;
  reason: string | null;
}

export function autoRegisterRows(result: AutoRegisterView): AutoRegisterRow[] {
  return [
    ...result.created.map((uri) => ({ result: "created" as const, target: uri, reason: null })),
    ...result.updated.map((uri) => ({ result: "updated" as const, target: uri, reason: null })),
    ...result.unchanged.map((uri) => ({ result: "unchanged" as const, target: uri, reason: null })),
    ...result.skipped.map((s) => ({ result: "skipped" as const, target: s.hostname, reason: s.reason })),
  ];
}

const AUTO_REGISTER_COLUMNS: Column<AutoRegisterRow>[] = [
  { header: "Result", value: (r) => r.result },
  { header: "Resource (or proxy)", value: (r) => r.target },
  { header: "Reason", value: (r) => r.reason },
];

export function autoRegisterSummary(result: AutoRegisterView): string {
  return `Auto-register: ${result.created.length} created, ${result.updated.length} updated, ${result.unchanged.length} unchanged, ${result.skipped.length} skipped.`;
}

/** json/yaml: the API's object; csv: one row per resource or skipped proxy; table: those rows and a summary. */
export function renderAutoRegister(result: AutoRegisterView, format: OutputFormat): string {
  if (format === "json" || format === "yaml") return renderItem({ ...result }, format);
  const rows = autoRegisterRows(result);
  if (format === "csv") return renderList(rows, AUTO_REGISTER_COLUMNS, "csv", "");
  const empty = "No proxy protects anything yet (none has a resource endpoint or auth on): nothing to register.";
  return rows.length === 0 ? empty : `${renderList(rows, AUTO_REGISTER_COLUMNS, "table", empty)}\n${autoRegisterSummary(result)}`;
}

/** The token argument: itself, or with `-` the first line of stdin. */
export async function resolveAccessToken(argument: string, readStdin: () => Promise<string>): Promise<string> {
  const token = (argument === "-" ? await readStdin() : argument).trim();
  if (token === "") throw new CliError(argument === "-" ? "resource validate-token: stdin gave no token" : "resource validate-token: the token is empty");
  return token;
}

function addRegistryOptions(command: Command): Command {
  return command
    .option("--name <name>", "display name (default on register: the URI's host)")
    .option("--proxy <hostname>", "the proxy that serves it (\"\" = none)")
    .option("--scopes <list>", "scopes it accepts, e.g. mcp:read,mcp:write (\"\" = none)")
    .option("--description <text>", "free text")
    .option("--metadata-url <url>", "where its RFC 9728 metadata is served (default: the URI's well-known URL)");
}

export function registerResourceCommands(program: Command, context: CommandContext): void {
  const resource = program.command("resource").description("Manage the protected resource registry (resource URIs tokens are issued for)");

  resource
    .command("list")
    .description("List the protected resources you can see")
    .action(async () => {
      const { client, settings, print } = context();
      print(renderList(await client.get<ResourceView[]>(`${BASE}/`), RESOURCE_COLUMNS, settings.format, EMPTY_RESOURCES_HINT));
    });

  resource
    .command("show")
    .description("Show one protected resource")
    .argument("<uri>", "resource URI, e.g. https://mcp.example.com/mcp")
    .action(async (uri: string) => {
      const { client, settings, print } = context();
      print(renderObject(await client.get<Record<string, unknown>>(at(uri)), settings.format));
    });

  addRegistryOptions(
    resource
      .command("register")
      .description("Register a protected resource; its URI is stored in canonical form")
      .argument("<uri>", "resource URI (https, no query or fragment), e.g. https://mcp.example.com/mcp"),
  ).action(async (uri: string, flags: RegistryFlags) => {
    const { client, settings, print } = context();
    const created = await client.post<ResourceView & Record<string, unknown>>(`${BASE}/`, { uri, ...registryBody(flags) });
    print(settings.format === "table" ? `registered ${resourceLine(created)}` : renderObject(created, settings.format));
  });

  addRegistryOptions(
    resource
      .command("update")
      .description("Change some fields of a protected resource")
      .argument("<uri>", "resource URI"),
  ).action(async (uri: string, flags: RegistryFlags) => {
    const body = registryBody(flags);
    if (Object.keys(body).length === 0) throw new CliError("resource update: nothing to change; see `portcullis resource update --help`");
    const { client, settings, print } = context();
    const updated = await client.put<ResourceView & Record<string, unknown>>(at(uri), body);
    print(settings.format === "table" ? `updated ${resourceLine(updated)}` : renderObject(updated, settings.format));
  });

  resource
    .command("delete")
    .description("Remove a protected resource from the registry")
    .argument("<uri>", "resource URI")
    .action(async (uri: string) => {
      const { client, settings, print } = context();
      print(renderItem(await client.delete<Record<string, unknown>>(at(uri)), settings.format));
    });

  resource
    .command("validate-token")
    .description("Whether an access token is good for a resource (signature, expiry, audience, revocation); exits 1 when it is not")
    .argument("<uri>", "resource URI")
    .argument("<access-token>", "the access token, or - to read it from stdin (keeps it out of shell history)")
    .action(async (uri: string, tokenArgument: string) => {
      const { client, settings, print, note } = context();
      const token = await resolveAccessToken(tokenArgument, async () => {
        if (process.stdin.isTTY) note("Access token (then Enter):");
        return readFirstLine(process.stdin);
      });
      const result = await client.post<ValidationView>(at(uri, "/validate-token"), { token });
      print(renderValidation(result, settings.format));
      if (!result.valid) throw new CliError(`the token is not valid for ${result.resource}: ${result.reason ?? "no reason given"}`);
    });

  resource
    .command("auto-register")
    .description("Register (or bring up to date) one resource per proxy with a resource endpoint or auth on")
    .action(async () => {
      const { client, settings, print } = context();
      print(renderAutoRegister(await client.post<AutoRegisterView>(`${BASE}/auto-register`), settings.format));
    });
}
