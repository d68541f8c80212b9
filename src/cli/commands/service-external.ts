/**
 * `portcullis service …` for external services and the unified registry
 * (001 "Service Commands"): register, list-external, show-external,
 * update-external, unregister, list-all.
 */
import type { Command } from "commander";
import type { ExternalServiceRecord } from "../../storage/service-repository";
import { ApiError } from "../api-client";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderItem, renderList, type Column } from "../output";

type ExternalServiceView = Pick<ExternalServiceRecord, "service_name" | "target_url" | "description" | "routing_enabled" | "created_by" | "created_at">;

interface UnifiedServiceView {
  service_name: string;
  service_type: string;
  url: string | null;
  status: string;
  owner: string | null;
}

const SERVICE_TYPES = ["docker", "external", "internal"];

export const EXTERNAL_SERVICE_COLUMNS: Column<ExternalServiceView>[] = [
  { header: "Name", value: (s) => s.service_name },
  { header: "Target", value: (s) => s.target_url },
  { header: "Routing", value: (s) => s.routing_enabled, kind: "bool" },
  { header: "Description", value: (s) => s.description },
  { header: "Created by", value: (s) => s.created_by },
  { header: "Created", value: (s) => s.created_at, kind: "date" },
];

export const UNIFIED_SERVICE_COLUMNS: Column<UnifiedServiceView>[] = [
  { header: "Name", value: (s) => s.service_name },
  { header: "Type", value: (s) => s.service_type },
  { header: "URL", value: (s) => s.url },
  { header: "Status", value: (s) => s.status },
  { header: "Owner", value: (s) => s.owner },
];

const BASE = "/api/v1/services";
const at = (name: string) => `${BASE}/external/${encodeURIComponent(name)}`;

/** The body of update-external for what was given; the server keeps the rest. */
export function externalServiceUpdateBody(targetUrl: string | undefined, flags: { description?: string; routing?: boolean }): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (targetUrl !== undefined) body.target_url = targetUrl;
  if (flags.description !== undefined) body.description = flags.description;
  if (flags.routing !== undefined) body.routing_enabled = flags.routing;
  return body;
}

export function registerExternalServiceCommands(service: Command, context: CommandContext): void {
  service
    .command("register")
    .description("Register an external service: a name routes (target_type service) and proxies (service:NAME) resolve to its URL")
    .argument("<name>", "service name: lowercase letters, digits and '-'")
    .argument("<target-url>", "http:// or https:// URL of the service")
    .option("--description <text>", "free text")
    .option("--no-routing", "register it with routing off (the name resolves to nothing until turned on)")
    .action(async (name: string, targetUrl: string, flags: { description?: string; routing?: boolean }) => {
      const { client, settings, print } = context();
      const body: Record<string, unknown> = { service_name: name, target_url: targetUrl };
      if (flags.description !== undefined) body.description = flags.description;
      if (flags.routing === false) body.routing_enabled = false;
      print(renderItem(await client.post<Record<string, unknown>>(`${BASE}/external`, body), settings.format));
    });

  service
    .command("list-external")
    .description("List the external services you can see")
    .action(async () => {
      const { client, settings, print } = context();
      const rows = await client.get<ExternalServiceView[]>(`${BASE}/external`);
      print(renderList(rows, EXTERNAL_SERVICE_COLUMNS, settings.format, "No external services yet. Register one: portcullis service register <name> <target-url>"));
    });

  service
    .command("show-external")
    .description("Show an external service")
    .argument("<name>", "service name")
    .action(async (name: string) => {
      const { client, settings, print } = context();
      print(renderItem(await client.get<Record<string, unknown>>(at(name)), settings.format));
    });

  service
    .command("update-external")
    .description("Change an external service; routes and proxies using it follow at once")
    .argument("<name>", "service name")
    .argument("[target-url]", "new http(s) URL")
    .option("--description <text>", "new description (\"\" clears it)")
    .option("--routing", "turn routing on")
    .option("--no-routing", "turn routing off: routes and proxies using it answer 502")
    .action(async (name: string, targetUrl: string | undefined, flags: { description?: string; routing?: boolean }) => {
      const body = externalServiceUpdateBody(targetUrl, flags);
      if (Object.keys(body).length === 0) throw new CliError("service update-external: nothing to change; give a target URL, --description or --routing/--no-routing");
      const { client, settings, print } = context();
      print(renderItem(await client.put<Record<string, unknown>>(at(name), body), settings.format));
    });

  service
    .command("unregister")
    .description("Delete an external service (refused while routes or proxies use it, unless --force)")
    .argument("<name>", "service name")
    .option("--force", "delete it even if routes or proxies use it (they then answer 502)")
    .action(async (name: string, flags: { force?: boolean }) => {
      const { client, settings, print } = context();
      try {
        print(renderItem(await client.delete<Record<string, unknown>>(at(name) + (flags.force ? "?force=true" : "")), settings.format));
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && !flags.force) throw new CliError(`${err.message}. With this CLI: portcullis service unregister ${name} --force`);
        throw err;
      }
    });

  service
    .command("list-all")
    .description("List every service you can see: Docker, external and internal")
    .option("--type <type>", `only one type: ${SERVICE_TYPES.join(", ")}`)
    .action(async (flags: { type?: string }) => {
      if (flags.type !== undefined && !SERVICE_TYPES.includes(flags.type)) {
        throw new CliError(`--type: ${JSON.stringify(flags.type)} is not a service type; expected one of ${SERVICE_TYPES.join(", ")}`);
      }
      const { client, settings, print } = context();
      const rows = await client.get<UnifiedServiceView[]>(`${BASE}/unified${flags.type ? `?type=${encodeURIComponent(flags.type)}` : ""}`);
      print(renderList(rows, UNIFIED_SERVICE_COLUMNS, settings.format, "No services."));
    });
}
