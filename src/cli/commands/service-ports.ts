/**
 * `portcullis service ports` and `portcullis service port-check`: the global
 * port queries over /api/v1/services/ports (001 "Global Port Query
 * Endpoints"); `portcullis service port-list <name>`: one service's ports. port-check exits 1 when the port is not available, so scripts
 * can test it.
 */
import type { Command } from "commander";
import type { PortCheck } from "../../services/port-allocator";
import type { RangeAvailability } from "../../services/port-ranges";
import type { PortAllocation } from "../../storage/port-repository";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderItem, renderList, type Column } from "../output";
import type { OutputFormat } from "../settings";

const BASE = "/api/v1/services/ports";

export const PORT_COLUMNS: Column<PortAllocation>[] = [
  { header: "Port", value: (a) => a.host_port },
  { header: "Bind", value: (a) => a.bind_address },
  { header: "Protocol", value: (a) => a.protocol },
  { header: "Service", value: (a) => a.service_name },
  { header: "Name", value: (a) => a.port_name },
  { header: "Container", value: (a) => a.container_port },
  { header: "Token", value: (a) => a.require_token, kind: "bool" },
  { header: "Description", value: (a) => a.description },
  { header: "Allocated", value: (a) => a.allocated_at, kind: "date" },
];

export interface AvailableView {
  ranges: RangeAvailability[];
  restricted: { port: number; service: string }[];
  gateway_ports: { setting: string; port: number }[];
  unusable: number[];
}

const runs = (free: [number, number][]) => free.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(", ");

const RANGE_COLUMNS: Column<RangeAvailability>[] = [
  { header: "Range", value: (r) => r.kind },
  { header: "Ports", value: (r) => `${r.start}-${r.end}` },
  { header: "Free", value: (r) => r.free_count },
  { header: "Free ports", value: (r) => runs(r.free) },
];

/** json/yaml: the API's object; table/csv: one row per range (the table adds what is never allocatable). */
export function renderAvailable(view: AvailableView, format: OutputFormat): string {
  if (format === "json" || format === "yaml") return renderItem({ ...view }, format);
  const table = renderList(view.ranges, RANGE_COLUMNS, format, "");
  if (format === "csv") return table;
  const own = view.gateway_ports.map((g) => `${g.port} (${g.setting})`).join(", ");
  return `${table}\nNever allocated: ${view.restricted.map((r) => `${r.port} (${r.service})`).join(", ")}${own ? `; the gateway's own: ${own}` : ""}`;
}

export interface PortAddFlags {
  host?: string;
  name?: string;
  bind?: string;
  protocol?: string;
  sourceToken?: string;
  description?: string;
}

/** The POST /services/{name}/ports body; numbers are checked here so errors name the argument. */
export function portAddBody(rawContainer: string, flags: PortAddFlags): Record<string, unknown> {
  if (!/^\d{1,5}$/.test(rawContainer)) throw new CliError(`service port-add: container port ${JSON.stringify(rawContainer)} is not a port number (1-65535)`);
  const body: Record<string, unknown> = { name: flags.name ?? `port-${rawContainer}`, container: Number(rawContainer) };
  if (flags.host !== undefined) {
    if (!/^\d{1,5}$/.test(flags.host)) throw new CliError(`--host ${JSON.stringify(flags.host)}: expected a port number`);
    body.host = Number(flags.host);
  }
  if (flags.bind !== undefined) body.bind = flags.bind;
  if (flags.protocol !== undefined) body.protocol = flags.protocol;
  if (flags.sourceToken !== undefined) body.source_token = flags.sourceToken;
  if (flags.description !== undefined) body.description = flags.description;
  return body;
}

export function registerServicePortCommands(service: Command, context: CommandContext): void {
  service
    .command("port-list")
    .description("List the ports allocated to one Docker service (host port, bind address, container port)")
    .argument("<name>", "service name")
    .action(async (name: string) => {
      const { client, settings, print } = context();
      const hint = `Service ${name} has no allocated ports. Create it with --expose (portcullis service create <name> <image> --expose)`;
      print(renderList(await client.get<PortAllocation[]>(`/api/v1/services/${encodeURIComponent(name)}/ports`), PORT_COLUMNS, settings.format, hint));
    });

  service
    .command("ports")
    .description("List port allocations (an admin sees all, other tokens their own); --available lists the free ports per range")
    .option("--available", "list the free ports per range instead")
    .action(async (flags: { available?: boolean }) => {
      const { client, settings, print } = context();
      if (flags.available) {
        print(renderAvailable(await client.get<AvailableView>(`${BASE}/available`), settings.format));
        return;
      }
      const hint = "No ports allocated. Free ports: portcullis service ports --available";
      print(renderList(await client.get<PortAllocation[]>(`${BASE}/`), PORT_COLUMNS, settings.format, hint));
    });

  service
    .command("port-add")
    .description("Add a port to a Docker service: allocated (a free one of 11000-65535 unless --host), then the container is recreated with the same settings and all its ports")
    .argument("<name>", "service name")
    .argument("<container-port>", "the container's port")
    .option("--host <port>", "the host port (default: the first free port of the exposed range)")
    .option("--name <port-name>", "the port's name (default: port-<container-port>)")
    .option("--bind <address>", "127.0.0.1 or 0.0.0.0 (default: the service's bind address)")
    .option("--protocol <protocol>", "tcp or udp", "tcp")
    .option("--source-token <token>", "tcp only: the gateway serves the port and requires this token on each request (stored as its hash)")
    .option("--description <text>", "what the port is for")
    .action(async (name: string, rawContainer: string, flags: PortAddFlags) => {
      const { client, settings, print } = context();
      print(renderItem({ ...(await client.post<PortAllocation>(`/api/v1/services/${encodeURIComponent(name)}/ports`, portAddBody(rawContainer, flags))) }, settings.format));
    });

  service
    .command("port-remove")
    .description("Remove a port from a Docker service: the container is recreated without it, then the host port is released")
    .argument("<name>", "service name")
    .argument("<port-name>", "the port's name (see port-list)")
    .action(async (name: string, portName: string) => {
      const { client, settings, print } = context();
      print(renderItem({ ...(await client.delete<{ released: string; host_port: number }>(`/api/v1/services/${encodeURIComponent(name)}/ports/${encodeURIComponent(portName)}`)) }, settings.format));
    });

  service
    .command("port-update")
    .description("Change a port of a Docker service: its description and source token in place; a new bind address recreates the container")
    .argument("<name>", "service name")
    .argument("<port-name>", "the port's name (see port-list)")
    .option("--bind <address>", "bind address: 127.0.0.1 or 0.0.0.0")
    .option("--description <text>", "what the port is for")
    .option("--source-token <token>", 'the token HTTP requests to the port must carry ("" removes it)')
    .action(async (name: string, portName: string, flags: { bind?: string; description?: string; sourceToken?: string }) => {
      const change: Record<string, string> = {};
      if (flags.bind !== undefined) change.bind = flags.bind;
      if (flags.description !== undefined) change.description = flags.description;
      if (flags.sourceToken !== undefined) change.source_token = flags.sourceToken;
      if (Object.keys(change).length === 0) throw new CliError("service port-update: nothing to change; give --bind, --description or --source-token");
      const { client, settings, print } = context();
      print(renderItem({ ...(await client.put<Record<string, unknown>>(`/api/v1/services/${encodeURIComponent(name)}/ports/${encodeURIComponent(portName)}`, change)) }, settings.format));
    });

  service
    .command("port-check")
    .description("Whether a host port could be allocated now, and if not why; exits 1 when it cannot")
    .argument("<port>", "host port, 1-65535")
    .option("--bind <address>", "bind address: 127.0.0.1 or 0.0.0.0", "127.0.0.1")
    .option("--protocol <protocol>", "tcp or udp", "tcp")
    .action(async (rawPort: string, flags: { bind: string; protocol: string }) => {
      if (!/^\d{1,5}$/.test(rawPort)) throw new CliError(`service port-check: ${JSON.stringify(rawPort)} is not a port number (1-65535)`);
      const { client, settings, print } = context();
      const result = await client.post<PortCheck>(`${BASE}/check`, { port: Number(rawPort), bind_address: flags.bind, protocol: flags.protocol });
      print(renderItem({ ...result }, settings.format));
      if (!result.available) throw new CliError(`port ${result.port} is not available: ${result.reason ?? "no reason given"}`);
    });
}
