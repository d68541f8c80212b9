/**
 * The settings of a Docker service's container (image, internal_port, limits,
 * environment, command, labels, bind_address, networks): checked here, with no
 * I/O, so a create and an update refuse the same things with the same words
 * before anything is made. What only the engine can answer (does the image or
 * the network exist) is asked by the caller afterwards.
 */
import { ApiError } from "../core/errors";
import type { PortAllocation } from "../storage/port-repository";
import { MANAGED_LABEL, SERVICE_LABEL, type ContainerSpec, type PublishedPort } from "./docker-engine";
import { isTokenPort } from "./source-token-check";

/** The settings as a request gives them (an update: the record's, with the request's changes laid over). */
export interface ServiceSettingsInput {
  readonly image: string;
  readonly internal_port?: number;
  readonly memory_limit?: string | null;
  readonly cpu_limit?: number | null;
  readonly environment?: Record<string, string>;
  readonly command?: string[] | null;
  readonly labels?: Record<string, string>;
  readonly bind_address?: string;
  readonly networks?: string[];
}

/** Checked settings, as the record stores them, plus the limits in the engine's units. */
export interface ServiceSettings {
  readonly image: string;
  /** Undefined until read from the image's exposed ports. */
  readonly internal_port: number | undefined;
  readonly memory_limit: string | null;
  readonly cpu_limit: number | null;
  readonly environment: Record<string, string>;
  readonly command: string[] | null;
  readonly labels: Record<string, string>;
  readonly bind_address: string;
  readonly networks: string[];
  readonly memoryBytes: number | null;
  readonly nanoCpus: number | null;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\/:@-]{0,254}$/;
/** Docker's network name rule, bounded. */
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const MAX_NETWORKS = 16;
/** Sharing the host's network stack (or having none) is not something a token may ask of the engine. */
const REFUSED_NETWORKS = new Set(["host", "none"]);
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

/** Network names: each a Docker network name, not host or none, none twice. */
export function checkNetworks(networks: readonly string[]): string[] {
  if (networks.length > MAX_NETWORKS) throw bad(`networks: at most ${MAX_NETWORKS} networks per service`);
  const seen = new Set<string>();
  for (const network of networks) {
    if (!NETWORK_NAME.test(network)) throw bad(`networks: ${JSON.stringify(network.slice(0, 130))} is not a network name (letters, digits, _, . and -, starting with a letter or digit)`);
    if (REFUSED_NETWORKS.has(network)) throw bad(`networks: ${JSON.stringify(network)}: the gateway does not attach services to the host's network or to none`);
    if (seen.has(network)) throw bad(`networks: ${JSON.stringify(network)} is given twice`);
    seen.add(network);
  }
  return [...networks];
}

/** Checks every setting; the first problem is a 400 invalid_parameter naming its field. */
export function checkServiceSettings(input: ServiceSettingsInput): ServiceSettings {
  if (!IMAGE.test(input.image)) throw bad(`image: ${JSON.stringify(input.image)} is not an image reference`);
  const memoryLimit = input.memory_limit ?? null;
  const cpuLimit = input.cpu_limit ?? null;
  const memoryBytes = memoryLimit === null ? null : parseMemoryLimit(memoryLimit);
  const nanoCpus = cpuLimit === null ? null : parseCpuLimit(cpuLimit);
  const environment = input.environment ?? {};
  for (const key of Object.keys(environment)) if (!ENV_NAME.test(key)) throw bad(`environment: ${JSON.stringify(key)} is not a variable name`);
  const labels = input.labels ?? {};
  for (const key of Object.keys(labels)) if (key.startsWith("portcullis.")) throw bad(`labels: ${JSON.stringify(key)}: labels starting with "portcullis." are the gateway's own`);
  const command = input.command ?? null;
  if (command && (command.length === 0 || command.some((part) => part.length === 0))) throw bad("command: expected a non-empty list of non-empty strings");
  const bindAddress = input.bind_address ?? "127.0.0.1";
  if (bindAddress !== "127.0.0.1" && bindAddress !== "0.0.0.0") throw bad(`bind_address: ${JSON.stringify(bindAddress)}: expected 127.0.0.1 or 0.0.0.0`);
  if (input.internal_port !== undefined && (!Number.isInteger(input.internal_port) || input.internal_port < 1 || input.internal_port > 65535)) {
    throw bad(`internal_port: ${input.internal_port} is not a port number (1-65535)`);
  }
  return {
    image: input.image,
    internal_port: input.internal_port,
    memory_limit: memoryLimit,
    cpu_limit: cpuLimit,
    environment,
    command,
    labels,
    bind_address: bindAddress,
    networks: checkNetworks(input.networks ?? []),
    memoryBytes,
    nanoCpus,
  };
}

/** The record's fields for these settings. */
export function storedSettings(settings: ServiceSettings, internalPort: number) {
  return {
    image: settings.image,
    internal_port: internalPort,
    memory_limit: settings.memory_limit,
    cpu_limit: settings.cpu_limit,
    environment: settings.environment,
    command: settings.command,
    labels: settings.labels,
    bind_address: settings.bind_address,
    networks: settings.networks,
  };
}

/** What the engine is asked to create for a service, with the gateway's labels. */
export function containerSpec(service: string, containerName: string, settings: ServiceSettings, internalPort: number, allocations: readonly PortAllocation[]): ContainerSpec {
  return {
    name: containerName,
    image: settings.image,
    internalPort,
    bindAddress: settings.bind_address,
    ports: allocations.map(published),
    memoryBytes: settings.memoryBytes,
    nanoCpus: settings.nanoCpus,
    environment: settings.environment,
    command: settings.command,
    labels: { ...settings.labels, [MANAGED_LABEL]: "true", [SERVICE_LABEL]: service },
    networks: settings.networks,
  };
}

/**
 * Where the engine publishes an allocation: exactly its host address and port,
 * except a token port, which the gateway's relay binds itself (it checks the
 * token); the engine publishes that one on loopback at a port it picks.
 */
function published(allocation: PortAllocation): PublishedPort {
  if (isTokenPort(allocation)) return { container: allocation.container_port, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 0 };
  return { container: allocation.container_port, protocol: allocation.protocol, hostIp: allocation.bind_address, hostPort: allocation.host_port };
}
