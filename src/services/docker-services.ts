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
import type { PortAllocation } from "../storage/port-repository";
import type { DockerEngine, ContainerStats, LogLine } from "./docker-engine";
import type { ServiceDeleteGuard } from "../storage/service-users";
import type { LogFollowSlots } from "./log-follow-slots";
import type { PortAllocator, PortConfig } from "./port-allocator";
import { tagsName, type ImageBuilder } from "./image-builder";
import { checkServiceSettings, containerSpec, storedSettings, type ServiceSettings } from "./docker-service-settings";
import { updateService, type ServiceUpdate } from "./docker-service-update";
import { followRelayUpstreams, untilRelaysLetGo } from "./relay-upstreams";
import { isTokenPort } from "./source-token-check";


export interface DockerServiceInput {
  readonly service_name: string;
  /** Exactly one of image and dockerfile_path. */
  readonly image?: string;
  /** A Dockerfile inside DOCKER_BUILD_DIR: the image is built from it first (image-builder.ts). */
  readonly dockerfile_path?: string;
  readonly internal_port?: number;
  readonly memory_limit?: string;
  readonly cpu_limit?: number;
  readonly environment?: Record<string, string>;
  readonly command?: string[];
  readonly labels?: Record<string, string>;
  readonly bind_address?: string;
  readonly networks?: string[];
  /** true: publish internal_port on a host port the allocator picks (port name "http"); implied by port_configs. */
  readonly expose_ports?: boolean;
  readonly port_configs?: readonly PortConfig[];
}

/** Stands in for internal_port when the settings are checked before the image is known. */
const DUMMY_PORT = 1;

/** At most this many port_configs per service. */
const MAX_PORT_CONFIGS = 32;

/** How long a change (update, port change) may hold its mark; several engine calls of up to 60 s each. */
const CHANGE_MARK_MS = 5 * 60_000;

/** Most log lines one request returns. */
export const MAX_LOG_LINES = 10_000;

export interface CleanupResult {
  /** Containers labelled portcullis.managed=true that no record owns. */
  readonly removed_containers: { id: string; name: string; service: string | null }[];
  /** Records whose container the engine no longer has. */
  readonly removed_records: string[];
  /** Images built from a Dockerfile that no service runs (older than ten minutes). */
  readonly removed_images: string[];
  /** Host ports allocated to a service that no record names any more (released). */
  readonly released_ports: number[];
}

/** Names that are paths under /api/v1/services/ (spec endpoints), never service names. */
const RESERVED_NAMES = new Set(["unified", "external", "ports", "cleanup"]);

export function containerNameOf(service: string): string {
  return `portcullis-${service}`;
}

export class DockerServices {
  constructor(
    private readonly engine: DockerEngine,
    private readonly records: DockerServiceRepository,
    private readonly log: Logger,
    private readonly ports: PortAllocator,
    private readonly builder: ImageBuilder,
    /** Open log follows, capped per node and per token. */
    readonly followSlots: LogFollowSlots,
  ) {
    // A deleted token's services: their records went in its transaction; their containers (then built images) go now.
    records.onCascadeDeleted = (deleted) => {
      for (const record of deleted) {
        const removed = record.container_id ? this.engine.remove(record.container_id) : Promise.resolve();
        removed
          .then(() => (record.dockerfile_path ? this.builder.removeImagesOf(record.service_name) : undefined))
          .catch((error) => this.log.warn({ err: error, service: record.service_name }, "could not remove the container of a deleted token's service"));
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

  /**
   * Creates the service from `image`, or from `dockerfile_path`: the image is
   * built first (every other check before the build), then the service is
   * made from it exactly as from an image; if that fails, the built image goes.
   */
  async create(caller: Caller, input: DockerServiceInput): Promise<DockerServiceRecord> {
    const name = input.service_name;
    // The name rules every service shares (a DNS label, not the gateway's own), and not a path under /services/.
    checkNewServiceName("service_name", name);
    if (RESERVED_NAMES.has(name)) throw invalid(`service_name: ${JSON.stringify(name)} is a path under /api/v1/services/; choose another name`);
    if ((input.image === undefined) === (input.dockerfile_path === undefined)) {
      throw invalid("image, dockerfile_path: give exactly one of them (an image the engine has, or a Dockerfile to build it from)");
    }
    if (input.image !== undefined) return this.createFrom(caller, input, input.image, null);
    const source = await this.builder.resolve(input.dockerfile_path!);
    // Checked now so a bad request does not cost a build; the built image is checked below as any image is.
    const precheck = checkServiceSettings({ ...input, image: "portcullis/build:pending" });
    wantedPorts(input, precheck.internal_port ?? DUMMY_PORT, precheck.bind_address);
    // A name already taken fails before the build (reserve() below still decides between two creates).
    if (await this.records.get(name)) throw conflict(`a service named ${JSON.stringify(name)} already exists`);
    const built = await this.builder.build(name, source);
    try {
      return await this.createFrom(caller, input, built.image, input.dockerfile_path!);
    } catch (error) {
      await this.builder.removeImage(built.image);
      throw error;
    }
  }

  private async createFrom(caller: Caller, input: DockerServiceInput, image: string, dockerfilePath: string | null): Promise<DockerServiceRecord> {
    const name = input.service_name;
    const settings = checkServiceSettings({ ...input, image });

    // Before anything is made: the image must exist, and give a port if none is named; every network must exist.
    const exposed = await this.engine.exposedPorts(settings.image);
    const internalPort = settings.internal_port ?? exposed[0];
    if (internalPort === undefined) throw new ApiError("invalid_parameter", `internal_port: image ${JSON.stringify(image)} exposes no TCP port; set internal_port`);
    await this.engine.checkNetworksExist(settings.networks);

    const portConfigs = wantedPorts(input, internalPort, settings.bind_address);

    const now = new Date().toISOString();
    const containerName = containerNameOf(name);
    const record: DockerServiceRecord = {
      service_name: name,
      service_type: "docker",
      ...storedSettings(settings, internalPort),
      dockerfile_path: dockerfilePath,
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
      // Each port through the allocator (explicit ones checked, the others picked in the exposed range); a failure releases them all below.
      const allocations: PortAllocation[] = [];
      for (const config of portConfigs) allocations.push(await this.ports.allocateForService(name, config, caller.hash, caller));
      containerId = await this.engine.create(containerSpec(name, containerName, settings, internalPort, allocations));
      await this.engine.start(containerId);
      const id = containerId;
      const url = await this.addressOf(id, internalPort);
      const created = await this.records.update(name, (current) => ({ ...current, container_id: id, status: url ? "running" : "stopped", url }));
      if (!created) throw new ApiError("conflict", `service ${JSON.stringify(name)} was deleted while it was being created`);
      await followRelayUpstreams(this.engine, this.ports, name, id, internalPort);
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
   * Deletes the record (with `guard` in its transaction: the in-use check),
   * then removes the container and releases the ports. A running service
   * needs `force`. The engine is asked first (is it running?), so an engine
   * that does not answer refuses the delete with the record untouched; one
   * that fails after the record went leaves a labelled container that no
   * record owns, which cleanup removes.
   */
  async delete(caller: Caller, name: string, force: boolean, guard?: ServiceDeleteGuard): Promise<DockerServiceRecord> {
    const record = await this.visible(caller, name);
    if (record.status === "creating" && !force) throw conflict(`service ${JSON.stringify(name)} is being created; pass force=true to delete it anyway`);
    if (record.container_id) {
      const state = await this.engine.inspect(record.container_id, record.internal_port);
      if (state?.running && !force) throw conflict(`service ${JSON.stringify(name)} is running; stop it first or pass force=true`);
    } else {
      // No container recorded: still make sure the engine answers before the record goes, so the removal below can run.
      await this.engine.version();
    }
    const deleted = await this.records.delete(name, guard);
    if (!deleted) throw notFound(`service ${JSON.stringify(name)}`);
    try {
      if (deleted.container_id) await this.engine.remove(deleted.container_id);
      // A create that never finished (its gateway stopped mid-way) may have made the container: ours by its labels.
      else await this.engine.removeIfOurs(deleted.container_name, name);
    } catch (error) {
      const cause = error instanceof ApiError ? error : new ApiError("engine_error", String(error));
      this.log.error({ err: error, service: name }, "a deleted service's container could not be removed");
      throw new ApiError(cause.code, `service ${JSON.stringify(name)} is deleted, but its container could not be removed (${cause.detail}); POST /api/v1/services/cleanup removes it once the engine answers`);
    } finally {
      await this.ports.releaseService(name).catch((error) => this.log.error({ err: error, service: name }, "a deleted service's ports could not be released"));
    }
    // Images built for it: nothing else runs them (their labels name this service).
    if (deleted.dockerfile_path) await this.builder.removeImagesOf(name);
    return deleted;
  }

  /** The service's allocated ports (owned like the service: 404 for another token's). */
  async listPorts(caller: Caller, name: string): Promise<PortAllocation[]> {
    await this.visible(caller, name);
    return this.ports.listForService(name);
  }

  /**
   * Adds a port to a service: allocates it, then recreates the container with
   * the same settings and every allocated port (a published port cannot be
   * added to an existing container). If the new container could not take the
   * old one's place, the port is released and the old container is untouched.
   */
  async addPort(caller: Caller, name: string, config: PortConfig): Promise<PortAllocation> {
    return this.changing(caller, name, async (record) => {
      const allocation = await this.ports.allocateForService(name, { ...config, bind: config.bind ?? (record.bind_address as PortConfig["bind"]) }, record.owner_token_hash, caller);
      const phase = { swapped: false };
      try {
        await this.recreate(record, await this.ports.listForService(name), phase);
      } catch (error) {
        if (!phase.swapped) await this.ports.release(allocation.host_port).catch((e) => this.log.error({ err: e, service: name }, "a port that could not be added was not released"));
        throw error;
      }
      return allocation;
    });
  }

  /**
   * Changes a port's description or source token in place; a new bind address
   * also recreates the container (published on the new address). If that
   * recreate fails before the old container is replaced, the bind address is
   * put back.
   */
  async updatePort(caller: Caller, name: string, portName: string, change: { bind?: unknown; description?: string; source_token?: string }): Promise<PortAllocation> {
    return this.changing(caller, name, async (record) => {
      const current = (await this.ports.listForService(name)).find((a) => a.port_name === portName);
      if (!current) throw notFound(`port ${JSON.stringify(portName)} of service ${JSON.stringify(name)}`);
      const updated = await this.ports.update(current, change);
      // Adding or removing a token changes who publishes the port (the engine, or the gateway's relay): a new container either way.
      const publisherChanged = isTokenPort(updated) !== isTokenPort(current);
      if (updated.bind_address === current.bind_address && !publisherChanged) return updated;
      // Token removed: every node's relay lets go of the host port on the event; the new container needs it free to start.
      if (publisherChanged && !isTokenPort(updated)) await untilRelaysLetGo(updated);
      const phase = { swapped: false };
      try {
        await this.recreate(record, await this.ports.listForService(name), phase);
      } catch (error) {
        if (!phase.swapped) await this.ports.restore(current).catch((e) => this.log.error({ err: e, service: name }, "a port's bind address and source token could not be put back"));
        throw error;
      }
      return (await this.ports.listForService(name)).find((a) => a.port_name === portName) ?? updated;
    });
  }

  /** Removes a port: recreates the container without it, then releases it. */
  async removePort(caller: Caller, name: string, portName: string): Promise<PortAllocation> {
    return this.changing(caller, name, async (record) => {
      const all = await this.ports.listForService(name);
      const gone = all.find((a) => a.port_name === portName);
      if (!gone) throw notFound(`port ${JSON.stringify(portName)} of service ${JSON.stringify(name)}`);
      const phase = { swapped: false };
      try {
        await this.recreate(record, all.filter((a) => a !== gone), phase);
      } finally {
        // Once the new container stands, nothing publishes the port any more.
        if (phase.swapped) await this.ports.release(gone.host_port);
      }
      return gone;
    });
  }

  /** Changes a service's settings by recreating its container with them (docker-service-update.ts). */
  async update(caller: Caller, name: string, change: ServiceUpdate): Promise<DockerServiceRecord> {
    const deps = { engine: this.engine, records: this.records, ports: this.ports, log: this.log, recreate: this.recreate.bind(this) };
    return this.changing(caller, name, (record) => updateService(deps, record, change));
  }

  /**
   * Replaces the service's container by one with these ports and `next`
   * settings (default: its own): the new one is created beside it
   * (`{container}-next`; creating binds nothing), then the old one removed, the
   * record given the new settings and container, the new one renamed and, if
   * the old one ran (or `start` says so), started. `phase.swapped` turns true
   * once the old one is gone; before that the record is unchanged.
   */
  private async recreate(record: DockerServiceRecord, allocations: PortAllocation[], phase: { swapped: boolean }, options: RecreateOptions = {}): Promise<DockerServiceRecord> {
    const name = record.service_name;
    const next = options.next ?? checkServiceSettings(record);
    const internalPort = next.internal_port ?? record.internal_port;
    const start = options.start ?? (await this.engine.inspect(record.container_id!, record.internal_port))?.running ?? false;
    const nextName = `${record.container_name}-next`;
    await this.engine.removeIfOurs(nextName, name);
    const nextId = await this.engine.create(containerSpec(name, nextName, next, internalPort, allocations));
    try {
      await this.engine.remove(record.container_id!);
    } catch (error) {
      await this.engine.remove(nextId).catch(() => {});
      throw error;
    }
    phase.swapped = true;
    // A new image is no longer the one built from dockerfile_path (the built ones become cleanup's).
    const updated = await this.records.update(name, (current) => ({
      ...current,
      ...storedSettings(next, internalPort),
      dockerfile_path: next.image === current.image ? current.dockerfile_path : null,
      container_id: nextId,
      status: "stopped",
      url: null,
    }));
    if (!updated) throw notFound(`service ${JSON.stringify(name)}`);
    await this.engine.rename(nextId, record.container_name);
    if (start) await this.engine.start(nextId);
    return this.sync(updated);
  }

  async logs(caller: Caller, name: string, lines: number, timestamps: boolean): Promise<LogLine[]> {
    const record = await this.settled(caller, name);
    return this.engine.logs(record.container_id!, { lines, timestamps });
  }

  /**
   * Follows the service's output; the returned function closes the engine
   * stream and frees the follow's slot (429 when none is free: LogFollowSlots).
   */
  async followLogs(caller: Caller, name: string, lines: number, timestamps: boolean, onLine: (line: LogLine) => void, onEnd: () => void): Promise<() => void> {
    const record = await this.settled(caller, name);
    const release = this.followSlots.acquire(caller.hash);
    try {
      const close = await this.engine.followLogs(record.container_id!, { lines, timestamps }, onLine, onEnd);
      return () => {
        release();
        close();
      };
    } catch (error) {
      release();
      throw error;
    }
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
   * Removes containers labelled as ours that no record owns, records whose
   * container the engine no longer has, built images no record runs, and the
   * port allocations of services no record names. Records still being created
   * (no container yet) and their containers are left alone; a create reserves
   * its record before it allocates ports, so its ports are never taken here.
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
    const live = new Map((await this.records.list()).map((r) => [r.service_name, r]));
    const releasedPorts: number[] = [];
    for (const allocation of await this.ports.list()) {
      if (live.has(allocation.service_name)) continue;
      if (await this.ports.release(allocation.host_port)) releasedPorts.push(allocation.host_port);
    }
    const removedImages = await this.builder.removeOrphans((service, tags) => {
      const record = live.get(service);
      return record !== undefined && (record.status === "creating" || tagsName(tags, record.image));
    });
    return { removed_containers: removedContainers, removed_records: removedRecords, removed_images: removedImages, released_ports: releasedPorts };
  }

  /**
   * Runs a change that recreates the container (an update, a port change) with
   * the service marked as being changed in Redis, on any node: a second change
   * meanwhile is 409 instead of racing the first for the `-next` container.
   * The mark expires by itself if this gateway stops mid-change.
   */
  private async changing<T>(caller: Caller, name: string, run: (record: DockerServiceRecord) => Promise<T>): Promise<T> {
    // Visible first, so another token's change never tells this caller the service exists.
    await this.settled(caller, name);
    const mark = await this.records.beginChange(name, CHANGE_MARK_MS);
    if (!mark) throw conflict(`service ${JSON.stringify(name)} is being changed by another request (an update or a port change); try again when it has finished`);
    try {
      return await run(await this.settled(caller, name));
    } finally {
      await this.records.endChange(name, mark).catch((error) => this.log.warn({ err: error, service: name }, "a service's change mark could not be removed; it expires by itself"));
    }
  }

  /** The caller's service with its container made. */
  private async settled(caller: Caller, name: string): Promise<DockerServiceRecord> {
    const record = await this.visible(caller, name);
    if (record.status === "creating" || !record.container_id) throw conflict(`service ${JSON.stringify(name)} is still being created`);
    return record;
  }

  /** Reads the container's state back into the record and service:url (and the relay's upstreams). */
  private async sync(record: DockerServiceRecord): Promise<DockerServiceRecord> {
    const url = await this.addressOf(record.container_id!, record.internal_port);
    const state = url ? "running" : "stopped";
    const updated = await this.records.update(record.service_name, (current) => ({ ...current, status: state, url }));
    if (!updated) throw notFound(`service ${JSON.stringify(record.service_name)}`);
    await followRelayUpstreams(this.engine, this.ports, record.service_name, record.container_id!, record.internal_port);
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
    await this.ports.releaseService(name).catch((error) => this.log.error({ err: error, service: name }, "a failed create could not release its ports"));
    await this.records.delete(name).catch((error) => this.log.error({ err: error, service: name }, "a failed create could not remove its record"));
  }
}

/** The ports a create allocates: port_configs (bind defaults to bind_address), or with expose_ports alone internal_port as "http". */
function wantedPorts(input: DockerServiceInput, internalPort: number, bindAddress: string): PortConfig[] {
  const configs = input.port_configs;
  if (configs !== undefined) {
    if (input.expose_ports === false && configs.length > 0) throw invalid("expose_ports: false contradicts the port_configs given; leave it out or set it true");
    if (configs.length > MAX_PORT_CONFIGS) throw invalid(`port_configs: at most ${MAX_PORT_CONFIGS} ports per service`);
    const names = new Set<string>();
    for (const config of configs) {
      if (names.has(config.name)) throw invalid(`port_configs: the port name ${JSON.stringify(config.name)} is given twice`);
      names.add(config.name);
    }
    return configs.map((config) => ({ ...config, bind: config.bind ?? (bindAddress as PortConfig["bind"]) }));
  }
  if (input.expose_ports) return [{ name: "http", container: internalPort, bind: bindAddress as PortConfig["bind"], protocol: "tcp" }];
  return [];
}

export interface RecreateOptions {
  /** The new container's settings; default the record's own. */
  readonly next?: ServiceSettings;
  /** Start the new container; default: if the old one ran. */
  readonly start?: boolean;
}
