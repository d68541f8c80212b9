/**
 * Updating a Docker service (`PUT /api/v1/services/{name}`): a container's
 * image, environment, command, limits and published ports cannot change in
 * place, so the gateway checks the new settings exactly as a create does, then
 * swaps in a new container made with them, keeping the service's allocated
 * ports, its URL key and so every route and proxy that names it.
 */
import { ApiError, invalid } from "../core/errors";
import type { Logger } from "../core/logger";
import type { DockerServiceRecord, DockerServiceRepository } from "../storage/docker-service-repository";
import type { PortAllocation } from "../storage/port-repository";
import type { DockerEngine } from "./docker-engine";
import { checkServiceSettings, type ServiceSettingsInput } from "./docker-service-settings";
import type { RecreateOptions } from "./docker-services";
import type { PortAllocator } from "./port-allocator";

/** The fields an update may change; each absent one keeps the service's current value. `null` removes a limit or the command. */
export interface ServiceUpdate {
  /** Must equal the path's name if given: a service is not renamed. */
  readonly service_name?: string;
  readonly image?: string;
  readonly internal_port?: number;
  readonly memory_limit?: string | null;
  readonly cpu_limit?: number | null;
  readonly environment?: Record<string, string>;
  readonly command?: string[] | null;
  readonly labels?: Record<string, string>;
  readonly networks?: string[];
  readonly bind_address?: string;
}

export const UPDATABLE_FIELDS = ["image", "internal_port", "memory_limit", "cpu_limit", "environment", "command", "labels", "networks", "bind_address"] as const;

export interface UpdateDeps {
  readonly engine: DockerEngine;
  readonly records: DockerServiceRepository;
  readonly ports: PortAllocator;
  readonly log: Logger;
  recreate(record: DockerServiceRecord, allocations: PortAllocation[], phase: { swapped: boolean }, options: RecreateOptions): Promise<DockerServiceRecord>;
}

/**
 * Checks the whole new configuration (400/422 naming the field, 400
 * image_not_found, 400 network_not_found) before touching anything, then
 * recreates the container with it. If the new container cannot be made, the
 * old one is untouched and the record unchanged. If it was made but does not
 * start (the old one already gone), a container with the previous settings is
 * put back in its place before the error is answered.
 */
export async function updateService(deps: UpdateDeps, record: DockerServiceRecord, change: ServiceUpdate): Promise<DockerServiceRecord> {
  const name = record.service_name;
  if (change.service_name !== undefined && change.service_name !== name) throw invalid(`service_name: ${JSON.stringify(change.service_name)} differs from the path's ${JSON.stringify(name)}; a service cannot be renamed`);
  const given = UPDATABLE_FIELDS.filter((field) => change[field] !== undefined);
  if (given.length === 0) throw invalid(`nothing to change: give any of ${UPDATABLE_FIELDS.join(", ")}`);

  const merged: ServiceSettingsInput = { ...currentSettings(record), ...Object.fromEntries(given.map((field) => [field, change[field]])) };
  const next = checkServiceSettings(merged);
  const previous = checkServiceSettings(currentSettings(record));
  // What only the engine knows, still before anything changes.
  await deps.engine.exposedPorts(next.image);
  await deps.engine.checkNetworksExist(next.networks);

  const wasRunning = (await deps.engine.inspect(record.container_id!, record.internal_port))?.running ?? false;
  const allocations = await deps.ports.listForService(name);
  const phase = { swapped: false };
  try {
    return await deps.recreate(record, allocations, phase, { next, start: wasRunning });
  } catch (error) {
    if (!phase.swapped || !(error instanceof ApiError)) throw error;
    // The old container is gone and the new one did not come up (e.g. its command does not exist): put the previous settings back.
    try {
      const current = await deps.records.get(name);
      if (!current) throw error;
      await deps.recreate(current, allocations, { swapped: false }, { next: previous, start: wasRunning });
    } catch (restoreError) {
      deps.log.error({ err: restoreError, service: name }, "an update that failed could not put the service's previous settings back");
      throw new ApiError(error.code, `${error.detail}; putting the previous settings back failed too, so the service has the new settings and is stopped`);
    }
    throw new ApiError(error.code, `${error.detail}; the service was recreated with its previous settings`);
  }
}

/** The record's settings as an update starts from them. */
function currentSettings(record: DockerServiceRecord): ServiceSettingsInput {
  return {
    image: record.image,
    internal_port: record.internal_port,
    memory_limit: record.memory_limit,
    cpu_limit: record.cpu_limit,
    environment: record.environment,
    command: record.command,
    labels: record.labels,
    bind_address: record.bind_address,
    networks: record.networks,
  };
}
