/**
 * `portcullis service …`: Docker services over /api/v1/services: list, show,
 * create, start, stop, restart, delete, logs (and --follow over SSE), stats,
 * proxy-create, cleanup.
 */
import type { Command } from "commander";
import type { CliSettings } from "../settings";
import { followApiEvents } from "../sse";
import type { DockerServiceRecord } from "../../storage/docker-service-repository";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderChange, renderItem, renderList, type Column } from "../output";

const BASE = "/api/v1/services";
const at = (name: string, rest = "") => `${BASE}/${encodeURIComponent(name)}${rest}`;

export type ServiceView = DockerServiceRecord;

export const SERVICE_COLUMNS: Column<ServiceView>[] = [
  { header: "Name", value: (s) => s.service_name },
  { header: "Image", value: (s) => s.image },
  { header: "Status", value: (s) => s.status },
  { header: "URL", value: (s) => s.url },
  { header: "Port", value: (s) => s.internal_port },
  { header: "Memory", value: (s) => s.memory_limit },
  { header: "CPUs", value: (s) => s.cpu_limit },
  { header: "Owner", value: (s) => s.created_by },
  { header: "Created", value: (s) => s.created_at, kind: "date" },
];

export const EMPTY_SERVICES_HINT = "No Docker services. Create one: portcullis service create <name> <image> (or --dockerfile <path>)";

export interface ServiceCreateFlags {
  /** A Dockerfile inside the gateway's DOCKER_BUILD_DIR, instead of an image. */
  dockerfile?: string;
  port?: string;
  memory?: string;
  cpu?: string;
  env?: string[];
  label?: string[];
  command?: string;
  bindAddress?: string;
  network?: string[];
  expose?: boolean;
}

/** ["A=1", "B=x=y"] → { A: "1", B: "x=y" }; `flag` names the option in errors. */
export function parsePairs(flag: string, pairs: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new CliError(`${flag} ${JSON.stringify(pair)}: expected KEY=VALUE`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

/** The create request for the arguments and flags given; numbers are checked here so errors name the flag. */
export function serviceCreateBody(name: string, image: string | undefined, flags: ServiceCreateFlags): Record<string, unknown> {
  if ((image === undefined || image === "") === (flags.dockerfile === undefined)) {
    throw new CliError("give an image or --dockerfile PATH (a Dockerfile in the gateway's DOCKER_BUILD_DIR), not both");
  }
  const source = image ? { image } : { dockerfile_path: flags.dockerfile };
  return { service_name: name, ...source, ...serviceSettingsBody(flags) };
}

/** The settings flags (all but the name and the image or Dockerfile) as request fields; errors name the flag. */
export function serviceSettingsBody(flags: ServiceCreateFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.port !== undefined) {
    if (!/^\d{1,5}$/.test(flags.port)) throw new CliError(`--port ${JSON.stringify(flags.port)}: expected a port number`);
    body.internal_port = Number(flags.port);
  }
  if (flags.memory !== undefined) body.memory_limit = flags.memory;
  if (flags.cpu !== undefined) {
    const cpus = Number(flags.cpu);
    if (flags.cpu.trim() === "" || !Number.isFinite(cpus)) throw new CliError(`--cpu ${JSON.stringify(flags.cpu)}: expected a number of CPUs like 0.5`);
    body.cpu_limit = cpus;
  }
  if (flags.env?.length) body.environment = parsePairs("--env", flags.env);
  if (flags.label?.length) body.labels = parsePairs("--label", flags.label);
  if (flags.command !== undefined) {
    let command: unknown;
    try {
      command = JSON.parse(flags.command);
    } catch {
      command = null;
    }
    if (!Array.isArray(command) || !command.every((part) => typeof part === "string")) {
      throw new CliError(`--command ${JSON.stringify(flags.command)}: expected a JSON array of strings, like '["/bin/serve","--verbose"]'`);
    }
    body.command = command;
  }
  if (flags.bindAddress !== undefined) body.bind_address = flags.bindAddress;
  if (flags.network?.length) body.networks = flags.network;
  if (flags.expose) body.expose_ports = true;
  return body;
}

export interface LogLineView {
  stream: "stdout" | "stderr";
  line: string;
}

const LOG_COLUMNS: Column<LogLineView>[] = [
  { header: "Stream", value: (l) => l.stream },
  { header: "Line", value: (l) => l.line },
];

/** `?lines=N&timestamps=true…` for the logs flags; --lines is checked here so the error names it. */
export function logsQuery(flags: { lines?: string; timestamps?: boolean; follow?: boolean }): string {
  const params = new URLSearchParams();
  if (flags.lines !== undefined) {
    if (!/^\d+$/.test(flags.lines) || Number(flags.lines) < 1 || Number(flags.lines) > 10_000) throw new CliError(`--lines ${JSON.stringify(flags.lines)}: expected a whole number from 1 to 10000`);
    params.set("lines", flags.lines);
  }
  if (flags.timestamps) params.set("timestamps", "true");
  if (flags.follow) params.set("follow", "true");
  const query = params.toString();
  return query ? `?${query}` : "";
}

/** Reads a service's log SSE and hands each line to `onLine` until it answers false or the container's output ends. */
export async function followServiceLogs(settings: CliSettings, path: string, onLine: (line: LogLineView) => boolean): Promise<void> {
  await followApiEvents(settings, path, "log", (data) => onLine(data as LogLineView));
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Joins the Docker service commands to `portcullis service` (shared with external services and ports). */
export function registerDockerServiceCommands(service: Command, context: CommandContext): void {
  service
    .command("list")
    .description("List the Docker services you can see")
    .option("--owned-only", "only the services your token created (for the admin, who sees all)")
    .action(async (flags: { ownedOnly?: boolean }) => {
      const { client, settings, print } = context();
      let rows = await client.get<ServiceView[]>(`${BASE}/`);
      if (flags.ownedOnly) {
        const me = await client.get<{ name: string }>("/api/v1/tokens/info");
        rows = rows.filter((s) => s.created_by === me.name);
      }
      print(renderList(rows, SERVICE_COLUMNS, settings.format, EMPTY_SERVICES_HINT));
    });

  service
    .command("show")
    .description("Show one Docker service")
    .argument("<name>", "service name")
    .action(async (name: string) => {
      const { client, settings, print } = context();
      print(renderItem({ ...(await client.get<ServiceView>(at(name))) }, settings.format));
    });

  service
    .command("create")
    .description("Create and start a Docker service from an image the engine has, or built from a Dockerfile (--dockerfile)")
    .argument("<name>", "service name: lowercase letters, digits and -")
    .argument("[image]", "image reference, e.g. localhost/my-app:1 (nothing is pulled); leave out with --dockerfile")
    .option("--dockerfile <path>", "build the image from this Dockerfile, a path inside the gateway's DOCKER_BUILD_DIR (its directory is the build context), e.g. ./dockerfiles/app.Dockerfile")
    .option("--port <port>", "the container's port (default: the image's lowest exposed TCP port)")
    .option("--memory <size>", 'memory limit, e.g. "512m" or "1g"')
    .option("--cpu <cpus>", "CPU limit, e.g. 1.0 or 0.5")
    .option("--env <KEY=VALUE>", "an environment variable (repeat for more)", collect)
    .option("--label <KEY=VALUE>", "a container label (repeat for more)", collect)
    .option("--command <json>", 'replaces the image\'s command: a JSON array, e.g. \'["/bin/serve"]\'')
    .option("--bind-address <address>", "host address the port is published on: 127.0.0.1 (default) or 0.0.0.0")
    .option("--network <name>", "an engine network the container joins besides the default one (repeat for more; it must exist)", collect)
    .option("--expose", "publish the container's port on a host port the gateway allocates in the exposed range (11000-65535), listed by service port-list")
    .action(async (name: string, image: string | undefined, flags: ServiceCreateFlags) => {
      const { client, settings, print } = context();
      const created = await client.post<ServiceView>(`${BASE}/`, serviceCreateBody(name, image, flags));
      print(renderChange(`created ${serviceLine(created)}`, { ...created }, settings.format));
    });

  for (const [action, description] of [
    ["start", "Start a Docker service's container"],
    ["stop", "Stop a Docker service's container"],
    ["restart", "Restart a Docker service's container"],
  ] as const) {
    service
      .command(action)
      .description(description)
      .argument("<name>", "service name")
      .action(async (name: string) => {
        const { client, settings, print } = context();
        print(renderItem({ ...(await client.post<ServiceView>(at(name, `/${action}`), undefined)) }, settings.format));
      });
  }

  service
    .command("delete")
    .description("Delete a Docker service and its container")
    .argument("<name>", "service name")
    .option("--force", "delete even while the container runs or routes and proxies use it")
    .option("--delete-proxy", "also delete your own proxies whose target is service:<name>")
    .action(async (name: string, flags: { force?: boolean; deleteProxy?: boolean }) => {
      const { client, settings, print } = context();
      const params = [flags.force ? "force=true" : "", flags.deleteProxy ? "delete_proxy=true" : ""].filter(Boolean).join("&");
      print(renderItem(await client.delete<Record<string, unknown>>(at(name, params ? `?${params}` : "")), settings.format));
    });

  service
    .command("logs")
    .description("Print a Docker service's output (stdout and stderr); --follow keeps printing new lines until Ctrl-C or the container stops")
    .argument("<name>", "service name")
    .option("--lines <n>", "how many of the last lines (default 100, at most 10000)")
    .option("--timestamps", "start each line with the engine's timestamp")
    .option("--follow", "keep printing new lines as they come")
    .option("--count <n>", "with --follow: stop after this many lines")
    .action(async (name: string, flags: { lines?: string; timestamps?: boolean; follow?: boolean; count?: string }) => {
      const { client, settings, print } = context();
      const query = logsQuery(flags);
      if (!flags.follow) {
        const result = await client.get<{ lines: LogLineView[] }>(at(name, `/logs${query}`));
        print(settings.format === "table" ? result.lines.map((l) => l.line).join("\n") : renderList(result.lines, LOG_COLUMNS, settings.format, ""));
        return;
      }
      const count = flags.count === undefined ? Infinity : Number(flags.count);
      if (!(count >= 1) || !Number.isInteger(count === Infinity ? 1 : count)) throw new CliError("--count: expected a whole number of at least 1");
      let printed = 0;
      await followServiceLogs(settings, at(name, `/logs${query}`), (line) => {
        print(settings.format === "table" ? line.line : JSON.stringify(line));
        return ++printed < count;
      });
    });

  service
    .command("stats")
    .description("One resource sample of a running Docker service: CPU %, memory, network and block I/O bytes")
    .argument("<name>", "service name")
    .action(async (name: string) => {
      const { client, settings, print } = context();
      print(renderItem(await client.get<Record<string, unknown>>(at(name, "/stats")), settings.format));
    });

  service
    .command("proxy-create")
    .description("Create a proxy {name}.{BASE_DOMAIN} (or --hostname) to a Docker service; it follows the container's address")
    .argument("<name>", "service name")
    .option("--hostname <hostname>", "the proxy's hostname (default {name}.{BASE_DOMAIN})")
    .option("--https", "serve HTTPS too (the default for a new proxy)")
    .option("--no-https", "HTTP only")
    .action(async (name: string, flags: { hostname?: string; https?: boolean }) => {
      const { client, settings, print } = context();
      const body: Record<string, unknown> = {};
      if (flags.hostname !== undefined) body.hostname = flags.hostname;
      if (flags.https !== undefined) body.enable_https = flags.https;
      const proxy = await client.post<Record<string, unknown>>(at(name, "/proxy"), body);
      print(renderChange(`created proxy ${proxy.hostname} → ${proxy.target_url}`, proxy, settings.format));
    });

  service
    .command("cleanup")
    .description("Remove containers labelled portcullis.managed=true that no service owns, services whose container is gone, built images no service runs, and ports of services that are gone (admin)")
    .action(async () => {
      const { client, settings, print } = context();
      const result = await client.post<{ removed_containers: { id: string; name: string; service: string | null }[]; removed_records: string[]; removed_images: string[]; released_ports?: number[] }>(`${BASE}/cleanup`, undefined);
      if (settings.format !== "table") return print(renderItem(result, settings.format));
      const lines = [
        ...result.removed_containers.map((c) => `Removed container ${c.name} (${c.id.slice(0, 12)})`),
        ...result.removed_records.map((name) => `Removed service ${name} (its container was gone)`),
        ...(result.removed_images ?? []).map((image) => `Removed image ${image} (built for a service that no longer runs it)`),
        ...(result.released_ports ?? []).map((port) => `Released port ${port} (its service is gone)`),
      ];
      print(lines.length ? lines.join("\n") : "Nothing to clean up.");
    });
}

/** `web (localhost/app:1) running at http://127.0.0.1:41873`: what create and update print. */
export function serviceLine(service: ServiceView): string {
  const source = service.dockerfile_path ? `built from ${service.dockerfile_path}` : service.image;
  return `Docker service ${service.service_name} (${source}) ${service.status}${service.url ? ` at ${service.url}` : ""}`;
}
