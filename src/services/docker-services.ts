/**
 * Docker service lifecycle: create → start → stop → restart → delete, with the
 * record (`docker_service:{name}`) and the address (`service:url:{name}`)
 * following the container. A create that fails at any step removes what it
 * made — container and record — before it answers.
 */
import type { Logger } from "../core/logger";
import { ApiError, conflict, invalid, notFound } from "../core/errors";
import { checkNewServiceName } from "../api/schemas/service";
import type { Caller } from "../api/caller";
import { canSee } from "../api/caller";
import type { DockerServiceRecord, DockerServiceRepository } from "../storage/docker-service-repository";
import { DockerEngine, MANAGED_LABEL, SERVICE_LABEL, type ContainerStats, type LogLine } from "./docker-engine";

export interface DockerServiceInput {
  readonly service_name: string;
  readonly image: string;
  readonly internal_port?: number;
  readonly memory_limit?: string;
  readonly cpu_limit?: number;
  readonly environment?: Record<string, string>;
  readonly command?: string[];
  readonly labels?: Record<string, string>;
  readonly bind_address?: string;
}

/** Most log lines one request returns. */
export const MAX_LOG_LINES = 10_000;

export interface CleanupResult {
  /** Containers labelled portcullis.managed=true that no record owns. */
  readonly removed_containers: { id: string; name: string; service: string | null }[];
  /** Records whose container the engine no longer has. */
  readonly removed_records: string[];
}

/** Names that are paths under /api/v1/services/ (spec endpoints), never service names. */
const RESERVED_NAMES = new Set(["unified", "external", "ports", "cleanup"]);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\/:@-]{0,254}$/;
/** The engine refuses less than 6 MiB (Docker's minimum). */
const MIN_MEMORY = 6 * 1024 * 1024;
const MAX_MEMORY = 1024 ** 4;
const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

const bad = (detail: string) => new ApiError("invalid_parameter", detail);

/** "512m", "1g", "1048576" → bytes (Docker's units: b, k, m, g, t; 1024-based). */
export function parseMemoryLimit(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(raw.trim());
  if (!match) throw bad(`memory_limit: ${JSON.stringify(raw)} is not a size; use a number with b, k, m or g, like "512m"`);
  const bytes = Math.floor(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!);
  if (bytes < MIN_MEMORY || bytes > MAX_MEMORY) throw bad(`memory_limit: ${JSON.stringify(raw)} is out of range; use from 6m to 1t`);
  return bytes;
}

/** 1.0 → 1e9 NanoCpus; from 0.01 to 1024 CPUs. */
export function parseCpuLimit(cpus: number): number {
  if (!Number.isFinite(cpus) || cpus < 0.01 || cpus > 1024) throw bad(`cpu_limit: ${cpus} is out of range; use from 0.01 to 1024 CPUs`);
  return Math.round(cpus * 1e9);
}

export function containerNameOf(service: string): string {
  return `portcullis-${service}`;
}

export class DockerServices {
  constructor(
    private readonly engine: DockerEngine,
    private readonly records: DockerServiceRepository,
    private readonly log: Logger,
  ) {
    // A deleted token's services: their records went in its transaction; their containers go now.
    records.onCascadeDeleted = (deleted) => {
      for (const record of deleted) {
        if (!record.container_id) continue;
        this.engine.remove(record.container_id).catch((error) => this.log.warn({ err: error, service: record.service_name }, "could not remove the container of a deleted token's service"));
      }
    };
  }

  async list(caller: Caller): Promise<DockerServiceRecord[]> {
    return (await this.records.list()).filter((r) => canSee(caller, r.owner_token_hash));
  }

  /** The service if the caller may see it; 404 otherwise (another token's service does not exist for them). */
  async visible(caller: Caller, name: string): Promise<DockerServiceRecord> {
    const record = await this.records.get(name);
    if (!record || !canSee(caller, record.owner_token_hash)) throw notFound(`service ${JSON.stringify(name)}`);
    return record;
  }

  async create(caller: Caller, input: DockerServiceInput): Promise<DockerServiceRecord> {
    const name = input.service_name;
    // The name rules every service shares (a DNS label, not the gateway's own), and not a path under /services/.
    checkNewServiceName("service_name", name);
    if (RESERVED_NAMES.has(name)) throw invalid(`service_name: ${JSON.stringify(name)} is a path under /api/v1/services/; choose another name`);
    if (!IMAGE.test(input.image)) throw bad(`image: ${JSON.stringify(input.image)} is not an image reference`);
    const memoryBytes = input.memory_limit === undefined ? null : parseMemoryLimit(input.memory_limit);
    const nanoCpus = input.cpu_limit === undefined ? null : parseCpuLimit(input.cpu_limit);
    const environment = input.environment ?? {};
    for (const key of Object.keys(environment)) if (!ENV_NAME.test(key)) throw bad(`environment: ${JSON.stringify(key)} is not a variable name`);
    const labels = input.labels ?? {};
    for (const key of Object.keys(labels)) if (key.startsWith("portcullis.")) throw bad(`labels: ${JSON.stringify(key)}: labels starting with "portcullis." are the gateway's own`);
    if (input.command && (input.command.length === 0 || input.command.some((part) => part.length === 0))) throw bad("command: expected a non-empty list of non-empty strings");
    const bindAddress = input.bind_address ?? "127.0.0.1";
    if (bindAddress !== "127.0.0.1" && bindAddress !== "0.0.0.0") throw bad(`bind_address: ${JSON.stringify(bindAddress)}: expected 127.0.0.1 or 0.0.0.0`);

    // Before anything is made: the image must exist, and give a port if none is named.
    const exposed = await this.engine.exposedPorts(input.image);
    const internalPort = input.internal_port ?? exposed[0];
    if (internalPort === undefined) throw bad(`internal_port: image ${JSON.stringify(input.image)} exposes no TCP port; set internal_port`);

    const now = new Date().toISOString();
    const containerName = containerNameOf(name);
    const record: DockerServiceRecord = {
      service_name: name,
      service_type: "docker",
      image: input.image,
      internal_port: internalPort,
      memory_limit: input.memory_limit ?? null,
      cpu_limit: input.cpu_limit ?? null,
      environment,
      command: input.command ?? null,
      labels,
      bind_address: bindAddress,
      container_id: null,
      container_name: containerName,
      status: "creating",
      url: null,
      owner_token_hash: caller.hash,
      created_by: caller.name,
      created_at: now,
      updated_at: now,
    };
    // The name is claimed in Redis first: of two creates of one name (on any node), one goes on.
    if (!(await this.records.reserve(record))) throw conflict(`a service named ${JSON.stringify(name)} already exists`);

    let containerId: string | null = null;
    try {
      containerId = await this.engine.create({
        name: containerName,
        image: input.image,
        internalPort,
        bindAddress,
        memoryBytes,
        nanoCpus,
        environment,
        command: input.command ?? null,
        labels: { ...labels, [MANAGED_LABEL]: "true", [SERVICE_LABEL]: name },
      });
      await this.engine.start(containerId);
      const id = containerId;
      const url = await this.addressOf(id, internalPort);
      const created = await this.records.update(name, (current) => ({ ...current, container_id: id, status: url ? "running" : "stopped", url }));
      if (!created) throw new ApiError("conflict", `service ${JSON.stringify(name)} was deleted while it was being created`);
      return created;
    } catch (error) {
      await this.undoCreate(name, containerId);
      throw error;
    }
  }

  async start(caller: Caller, name: string): Promise<DockerServiceRecord> {
    const record = await this.settled(caller, name);
    await this.engine.start(record.container_id!);
    return this.sync(record);
  }

  async stop(caller: Caller, name: string): Promise<DockerServiceRecord> {
    const record = await this.settled(caller, name);
    await this.engine.stop(record.container_id!);
    return this.sync(record);
  }

  async restart(caller: Caller, name: string): Promise<DockerServiceRecord> {
    const record = await this.settled(caller, name);
    await this.engine.restart(record.container_id!);
    return this.sync(record);
  }

  /**
   * Removes the container, then the record. A running service needs `force`.
   * If the engine fails, the record stays, so the delete can be tried again.
   */
  async delete(caller: Caller, name: string, force: boolean): Promise<DockerServiceRecord> {
    const record = await this.visible(caller, name);
    if (record.status === "creating" && !force) throw conflict(`service ${JSON.stringify(name)} is being created; pass force=true to delete it anyway`);
    if (record.container_id) {
      const state = await this.engine.inspect(record.container_id, record.internal_port);
      if (state?.running && !force) throw conflict(`service ${JSON.stringify(name)} is running; stop it first or pass force=true`);
      await this.engine.remove(record.container_id);
    } else {
      // A create that never finished (its gateway stopped mid-way) may have made the container: ours by its labels.
      await this.engine.removeIfOurs(record.container_name, name);
    }
    const deleted = await this.records.delete(name);
    if (!deleted) throw notFound(`service ${JSON.stringify(name)}`);
    return deleted;
  }

  async logs(caller: Caller, name: string, lines: number, timestamps: boolean): Promise<LogLine[]> {
    const record = await this.settled(caller, name);
    return this.engine.logs(record.container_id!, { lines, timestamps });
  }

  /** Follows the service's output; the returned function closes the engine stream. */
  async followLogs(caller: Caller, name: string, lines: number, timestamps: boolean, onLine: (line: LogLine) => void, onEnd: () => void): Promise<() => void> {
    const record = await this.settled(caller, name);
    return this.engine.followLogs(record.container_id!, { lines, timestamps }, onLine, onEnd);
  }

  /** One resource sample; 409 when the container is not running. */
  async stats(caller: Caller, name: string): Promise<ContainerStats & { service_name: string }> {
    const record = await this.settled(caller, name);
    const state = await this.engine.inspect(record.container_id!, record.internal_port);
    if (!state) throw conflict(`service ${JSON.stringify(name)}: its container is gone from the engine; delete the service or run cleanup`);
    if (!state.running) throw conflict(`service ${JSON.stringify(name)} is not running (${state.status}); start it to read its stats`);
    return { service_name: record.service_name, ...(await this.engine.stats(record.container_id!)) };
  }

  /**
   * Removes containers labelled as ours that no record owns, and records whose
   * container the engine no longer has. Records still being created (no
   * container yet) and their containers are left alone.
   */
  async cleanup(): Promise<CleanupResult> {
    // Containers first: a container listed here was made after its record was claimed, so a create in flight shows in the records.
    const containers = await this.engine.listManaged();
    const records = await this.records.list();
    const ownedIds = new Set(records.map((r) => r.container_id).filter((id): id is string => id !== null));
    const creating = new Set(records.filter((r) => r.status === "creating" || !r.container_id).map((r) => r.service_name));
    const removedContainers: CleanupResult["removed_containers"] = [];
    for (const container of containers) {
      if (ownedIds.has(container.id)) continue;
      if (container.service !== null && creating.has(container.service)) continue;
      await this.engine.remove(container.id);
      removedContainers.push({ id: container.id, name: container.name, service: container.service });
    }
    const removedRecords: string[] = [];
    for (const record of records) {
      if (!record.container_id || record.status === "creating") continue;
      if (await this.engine.inspect(record.container_id, record.internal_port)) continue;
      if (await this.records.delete(record.service_name)) removedRecords.push(record.service_name);
    }
    return { removed_containers: removedContainers, removed_records: removedRecords };
  }

  /** The caller's service with its container made. */
  private async settled(caller: Caller, name: string): Promise<DockerServiceRecord> {
    const record = await this.visible(caller, name);
    if (record.status === "creating" || !record.container_id) throw conflict(`service ${JSON.stringify(name)} is still being created`);
    return record;
  }

  /** Reads the container's state back into the record and service:url. */
  private async sync(record: DockerServiceRecord): Promise<DockerServiceRecord> {
    const url = await this.addressOf(record.container_id!, record.internal_port);
    const state = url ? "running" : "stopped";
    const updated = await this.records.update(record.service_name, (current) => ({ ...current, status: state, url }));
    if (!updated) throw notFound(`service ${JSON.stringify(record.service_name)}`);
    return updated;
  }

  private async addressOf(containerId: string, internalPort: number): Promise<string | null> {
    const state = await this.engine.inspect(containerId, internalPort);
    if (!state) throw new ApiError("engine_error", `container ${containerId} disappeared from the engine`);
    if (!state.hostAddress) return null;
    const ip = state.hostAddress.ip === "0.0.0.0" ? "127.0.0.1" : state.hostAddress.ip;
    return `http://${ip}:${state.hostAddress.port}`;
  }

  private async undoCreate(name: string, containerId: string | null): Promise<void> {
    if (containerId) {
      await this.engine.remove(containerId).catch((error) => this.log.error({ err: error, service: name, container: containerId }, "a failed create could not remove its container"));
    }
    await this.records.delete(name).catch((error) => this.log.error({ err: error, service: name }, "a failed create could not remove its record"));
  }
}
