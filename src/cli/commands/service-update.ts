/**
 * `portcullis service update <name>`: PUT /api/v1/services/{name}. The
 * container is recreated with the new settings (its ports and proxies kept);
 * prints the updated service as `service show` does.
 */
import type { Command } from "commander";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderChange } from "../output";
import { collect, serviceLine, serviceSettingsBody, type ServiceCreateFlags, type ServiceView } from "./service";

export interface ServiceUpdateFlags extends Omit<ServiceCreateFlags, "expose"> {
  image?: string;
  clearNetworks?: boolean;
}

/** The update request for the flags given: only what they name changes; errors name the flag. */
export function serviceUpdateBody(flags: ServiceUpdateFlags): Record<string, unknown> {
  if (flags.clearNetworks && flags.network?.length) throw new CliError("--clear-networks and --network: give one or the other");
  // The create's flag checks (--port, --cpu, --env, --label, --command), without its name and image.
  const body = serviceSettingsBody({ ...flags, expose: false });
  if (flags.image !== undefined) body.image = flags.image;
  if (flags.clearNetworks) body.networks = [];
  if (Object.keys(body).length === 0) throw new CliError("nothing to change: give any of --image, --port, --memory, --cpu, --env, --label, --command, --network, --clear-networks, --bind-address");
  return body;
}

export function registerServiceUpdateCommand(service: Command, context: CommandContext): void {
  service
    .command("update")
    .description("Update a Docker service: its container is recreated with the new settings (it restarts; ports and proxies are kept; a stopped service stays stopped)")
    .argument("<name>", "service name")
    .option("--image <image>", "a new image the engine has (nothing is pulled)")
    .option("--port <port>", "the container's port the service's url points at")
    .option("--memory <size>", 'memory limit, e.g. "512m" or "1g"')
    .option("--cpu <cpus>", "CPU limit, e.g. 1.0 or 0.5")
    .option("--env <KEY=VALUE>", "an environment variable (repeat for more); replaces the whole environment", collect)
    .option("--label <KEY=VALUE>", "a container label (repeat for more); replaces the extra labels", collect)
    .option("--command <json>", 'replaces the command: a JSON array, e.g. \'["/bin/serve"]\'')
    .option("--network <name>", "an engine network to join besides the default one (repeat for more); replaces the networks", collect)
    .option("--clear-networks", "leave every network but the default one")
    .option("--bind-address <address>", "where the port is published when no allocated port covers it: 127.0.0.1 or 0.0.0.0")
    .action(async (name: string, flags: ServiceUpdateFlags) => {
      const { client, settings, print } = context();
      const at = `/api/v1/services/${encodeURIComponent(name)}`;
      const updated = await client.put<ServiceView>(at, serviceUpdateBody(flags));
      print(renderChange(`updated ${serviceLine(updated)}`, { ...updated }, settings.format));
    });
}
