/**
 * A thin client for the Docker Engine API (dockerode) at DOCKER_HOST. Every
 * failure leaves here as an ApiError naming its cause: the engine unreachable
 * (503 engine_unavailable), an image it lacks (400 image_not_found), a name or
 * host port taken (409), limits it refuses (400), anything else it refuses
 * (502 engine_error with the engine's own words).
 */
import Docker from "dockerode";
import { ApiError } from "../core/errors";
import type { DockerSettings } from "../core/docker-config";
import { sshConnectOptions } from "./docker-ssh";

/** Labels on every container the gateway creates (docs/services.md). */
export const MANAGED_LABEL = "portcullis.managed";
export const SERVICE_LABEL = "portcullis.service";

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly internalPort: number;
  /** Host address the container's port is published on; the engine picks the host port. */
  readonly bindAddress: string;
  /**
   * Ports allocated by the gateway (port_configs), published exactly on their
   * host address and port. One that covers internalPort/tcp replaces the
   * engine-picked binding of internalPort.
   */
  readonly ports?: readonly PublishedPort[];
  readonly memoryBytes: number | null;
  readonly nanoCpus: number | null;
  readonly environment: Readonly<Record<string, string>>;
  readonly command: readonly string[] | null;
  readonly labels: Readonly<Record<string, string>>;
  /** Networks the container joins besides the engine's default one (which carries its published ports). */
  readonly networks?: readonly string[];
}

export interface PublishedPort {
  readonly container: number;
  readonly protocol: "tcp" | "udp";
  readonly hostIp: string;
  /** 0: a port the engine picks (a token port, published on loopback for the gateway's relay). */
  readonly hostPort: number;
}

/** HostConfig.PortBindings and ExposedPorts for a spec: the allocated ports, and internalPort on an engine-picked port unless one covers it. */
export function portBindings(spec: Pick<ContainerSpec, "internalPort" | "bindAddress" | "ports">): { exposed: Record<string, object>; bindings: Record<string, { HostIp: string; HostPort: string }[]> } {
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of spec.ports ?? []) {
    const key = `${port.container}/${port.protocol}`;
    (bindings[key] ??= []).push({ HostIp: port.hostIp, HostPort: port.hostPort === 0 ? "" : String(port.hostPort) });
  }
  const main = `${spec.internalPort}/tcp`;
  if (!bindings[main]) bindings[main] = [{ HostIp: spec.bindAddress, HostPort: "" }];
  return { exposed: Object.fromEntries(Object.keys(bindings).map((key) => [key, {}])), bindings };
}

export interface ContainerState {
  readonly id: string;
  readonly running: boolean;
  readonly status: string;
  /** Where the published internal port answers on the host, while the container runs. */
  readonly hostAddress: { readonly ip: string; readonly port: number } | null;
  /** Every published tcp container port → where it answers on the host, while the container runs. */
  readonly tcpBindings: ReadonlyMap<number, { readonly ip: string; readonly port: number }>;
  readonly labels: Readonly<Record<string, string>>;
  readonly memoryBytes: number;
  readonly nanoCpus: number;
}

/** Engine log streams (follows) open in this process: counted until the engine connection closes. */
let openLogFollows = 0;
export function openLogFollowCount(): number {
  return openLogFollows;
}

/** A dockerode client for DOCKER_HOST; `timeoutMs` bounds a silent connection. */
/** A dockerode client for DOCKER_HOST; `onRefusedHostKey` hears why an ssh engine's host key was refused. */
export function dockerClient(settings: DockerSettings, timeoutMs: number, onRefusedHostKey: (reason: string) => void = () => {}): Docker {
  const { endpoint } = settings;
  const common = { version: `v${settings.apiVersion}`, timeout: timeoutMs };
  if (endpoint.kind === "unix") return new Docker({ socketPath: endpoint.socketPath, ...common });
  if (endpoint.kind === "tcp") return new Docker({ host: endpoint.host, port: endpoint.port, protocol: "http", ...common });
  const sshOptions = sshConnectOptions(endpoint, settings.ssh!, onRefusedHostKey);
  // No request timeout over ssh: Node's http client would call setTimeout on the ssh channel, which has none.
  // A dead connection is found by ssh keepalives instead (sshConnectOptions); an engine that hangs while connected is waited for.
  return new Docker({ protocol: "ssh", host: endpoint.host, port: endpoint.port, username: endpoint.user, sshOptions, version: common.version } as Docker.DockerOptions);
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOENT", "EACCES", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ENOTSOCK"]);

export class DockerEngine {
  private readonly docker: Docker;

  /** Why the last ssh host key was refused (ssh2 only says "verification failed"). */
  private refusedHostKey: string | null = null;

  /** Throws DockerSshSetupError when an ssh:// engine's key or known_hosts file cannot be used. */
  constructor(private readonly settings: DockerSettings, options: { timeoutMs?: number } = {}) {
    this.docker = dockerClient(settings, options.timeoutMs ?? 60_000, (reason) => (this.refusedHostKey = reason));
  }

  /** The engine's version string; throws engine_unavailable when it does not answer. */
  async version(): Promise<string> {
    return this.call("version", async () => (await this.docker.version()).Version);
  }

  /** The TCP ports the image declares (EXPOSE), lowest first. */
  async exposedPorts(image: string): Promise<number[]> {
    const info = await this.call(`image ${image}`, () => this.docker.getImage(image).inspect(), { image });
    return Object.keys(info.Config?.ExposedPorts ?? {})
      .filter((key) => key.endsWith("/tcp") || !key.includes("/"))
      .map((key) => Number.parseInt(key, 10))
      .filter((port) => Number.isInteger(port) && port > 0)
      .sort((a, b) => a - b);
  }

  /** Creates (does not start) a container; returns its id. */
  async create(spec: ContainerSpec): Promise<string> {
    const { exposed, bindings } = portBindings(spec);
    const container = await this.call(
      `container ${spec.name}`,
      () =>
        this.docker.createContainer({
          name: spec.name,
          Image: spec.image,
          Env: Object.entries(spec.environment).map(([key, value]) => `${key}=${value}`),
          ...(spec.command ? { Cmd: [...spec.command] } : {}),
          Labels: { ...spec.labels },
          ExposedPorts: exposed,
          StopTimeout: 10,
          HostConfig: {
            PortBindings: bindings,
            ...(spec.memoryBytes !== null ? { Memory: spec.memoryBytes } : {}),
            ...(spec.nanoCpus !== null ? { NanoCpus: spec.nanoCpus } : {}),
          },
        }),
      { image: spec.image, name: spec.name },
    );
    try {
      await this.joinNetworks(container.id, spec.networks ?? []);
    } catch (error) {
      // A container that could not join its networks is not the one asked for.
      await this.remove(container.id).catch(() => {});
      throw error;
    }
    return container.id;
  }

  /**
   * 400 network_not_found naming the first of `networks` the engine does not
   * have; asked before anything is made, so a bad name leaves nothing behind.
   */
  async checkNetworksExist(networks: readonly string[]): Promise<void> {
    for (const network of networks) {
      const info = await this.call(`network ${network}`, () => this.docker.getNetwork(network).inspect(), { alreadyOk: 404 });
      if (!info) throw new ApiError("network_not_found", `networks: the engine has no network ${JSON.stringify(network)}; create it first (docker network create ${network})`);
    }
  }

  /** Connects a created container to each network it is not on yet (the engine puts it on its default one). */
  private async joinNetworks(id: string, networks: readonly string[]): Promise<void> {
    if (networks.length === 0) return;
    const info = await this.call(`container ${id}`, () => this.docker.getContainer(id).inspect());
    const joined = new Set(Object.keys(info.NetworkSettings?.Networks ?? {}));
    for (const network of networks) {
      if (joined.has(network)) continue;
      try {
        await this.call(`network ${network}`, () => this.docker.getNetwork(network).connect({ Container: id }), { name: network });
      } catch (error) {
        // Removed since it was checked: the same answer as a name that never existed.
        if (error instanceof ApiError && error.code === "not_found") throw new ApiError("network_not_found", `networks: the engine has no network ${JSON.stringify(network)}`);
        throw error;
      }
    }
  }

  /** Renames a container (the engine keeps its id). */
  async rename(id: string, name: string): Promise<void> {
    await this.call(`container ${id}`, () => this.docker.getContainer(id).rename({ name }), { name });
  }

  async start(id: string): Promise<void> {
    await this.call(`container ${id}`, () => this.docker.getContainer(id).start(), { alreadyOk: 304 });
  }

  async stop(id: string, timeoutSeconds = 10): Promise<void> {
    await this.call(`container ${id}`, () => this.docker.getContainer(id).stop({ t: timeoutSeconds }), { alreadyOk: 304 });
  }

  async restart(id: string, timeoutSeconds = 10): Promise<void> {
    await this.call(`container ${id}`, () => this.docker.getContainer(id).restart({ t: timeoutSeconds }));
  }

  /** Removes the container (force: even while it runs); a container already gone is fine. */
  async remove(id: string): Promise<void> {
    await this.call(`container ${id}`, () => this.docker.getContainer(id).remove({ force: true, v: true }), { alreadyOk: 404 });
  }

  /**
   * Removes the container of this name only if it carries our label for
   * `service` (a container someone else named so is left alone). True if one was removed.
   */
  async removeIfOurs(containerName: string, service: string): Promise<boolean> {
    const info = await this.call(`container ${containerName}`, () => this.docker.getContainer(containerName).inspect(), { alreadyOk: 404 });
    if (!info || info.Config?.Labels?.[SERVICE_LABEL] !== service || info.Config?.Labels?.[MANAGED_LABEL] !== "true") return false;
    await this.remove(info.Id);
    return true;
  }

  /** The container's state, or null when the engine has no such container. */
  async inspect(id: string, internalPort: number): Promise<ContainerState | null> {
    const info = await this.call(`container ${id}`, () => this.docker.getContainer(id).inspect(), { alreadyOk: 404 });
    if (!info) return null;
    const binding = info.NetworkSettings?.Ports?.[`${internalPort}/tcp`]?.[0];
    const running = info.State?.Running === true;
    const tcpBindings = new Map<number, { ip: string; port: number }>();
    for (const [key, list] of Object.entries(info.NetworkSettings?.Ports ?? {})) {
      const first = (list as { HostIp?: string; HostPort?: string }[] | null)?.[0];
      if (running && key.endsWith("/tcp") && first?.HostPort) tcpBindings.set(Number.parseInt(key, 10), { ip: first.HostIp || "127.0.0.1", port: Number(first.HostPort) });
    }
    return {
      id: info.Id,
      running,
      status: info.State?.Status ?? "unknown",
      hostAddress: running && binding?.HostPort ? { ip: binding.HostIp || "127.0.0.1", port: Number(binding.HostPort) } : null,
      tcpBindings,
      labels: info.Config?.Labels ?? {},
      memoryBytes: info.HostConfig?.Memory ?? 0,
      nanoCpus: info.HostConfig?.NanoCpus ?? 0,
    };
  }

  /**
   * The last `lines` lines of the container's output (stdout and stderr), the
   * engine's multiplexed stream split into lines; `timestamps` keeps the
   * engine's RFC 3339 time before each line.
   */
  async logs(id: string, options: { lines: number; timestamps: boolean }): Promise<LogLine[]> {
    const raw = await this.call(`container ${id}`, () =>
      this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false, tail: options.lines, timestamps: options.timestamps }),
    );
    const demux = new LogDemultiplexer();
    const lines = demux.push(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
    lines.push(...demux.end());
    return lines.slice(-options.lines);
  }

  /**
   * Follows the container's output from its last `lines` lines on: `onLine`
   * gets each line as it comes; the returned close() ends the engine stream.
   */
  async followLogs(id: string, options: { lines: number; timestamps: boolean }, onLine: (line: LogLine) => void, onEnd: () => void): Promise<() => void> {
    const stream = (await this.call(`container ${id}`, () =>
      this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: true, tail: options.lines, timestamps: options.timestamps }),
    )) as unknown as NodeJS.ReadableStream & { destroy(): void };
    const demux = new LogDemultiplexer();
    let ended = false;
    let counted = true;
    openLogFollows++;
    const finish = () => {
      if (counted) {
        counted = false;
        openLogFollows--;
      }
      if (ended) return;
      ended = true;
      for (const line of demux.end()) onLine(line);
      onEnd();
    };
    stream.on("data", (chunk: Buffer) => {
      for (const line of demux.push(Buffer.from(chunk))) onLine(line);
    });
    stream.on("end", finish);
    stream.on("close", finish);
    stream.on("error", finish);
    return () => {
      ended = true;
      stream.destroy();
    };
  }

  /** One stats sample (not streaming). */
  async stats(id: string): Promise<ContainerStats> {
    const raw = (await this.call(`container ${id}`, () => this.docker.getContainer(id).stats({ stream: false }))) as unknown as RawStats;
    return statsFromSample(raw);
  }

  /** Every container labelled portcullis.managed=true, running or not. */
  async listManaged(): Promise<{ id: string; name: string; service: string | null; state: string }[]> {
    const list = await this.call("containers", () => this.docker.listContainers({ all: true, filters: { label: [`${MANAGED_LABEL}=true`] } }));
    return list
      .filter((c) => c.Labels?.[MANAGED_LABEL] === "true")
      .map((c) => ({ id: c.Id, name: (c.Names?.[0] ?? c.Id).replace(/^\//, ""), service: c.Labels?.[SERVICE_LABEL] ?? null, state: c.State ?? "unknown" }));
  }

  /**
   * Runs one engine call and turns its failure into an ApiError. `alreadyOk`
   * names a status that means the wanted state already holds (answers undefined).
   */
  private async call<T>(what: string, run: () => Promise<T>, context: { image?: string; name?: string; alreadyOk?: number } = {}): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const statusCode = (error as { statusCode?: number }).statusCode;
      if (context.alreadyOk !== undefined && statusCode === context.alreadyOk) return undefined as T;
      // ssh2's failures (handshake, authentication, host key) carry a `level`: the engine is out of reach.
      const sshLevel = (error as { level?: unknown }).level;
      if (this.settings.endpoint.kind === "ssh" && typeof sshLevel === "string") {
        const reason = sshLevel === "handshake" && this.refusedHostKey ? this.refusedHostKey : (error as Error).message;
        throw new ApiError("engine_unavailable", `the Docker engine at ${this.settings.host} is unreachable over ssh (${sshLevel}: ${reason})`);
      }
      throw engineError(error, what, this.settings.host, context);
    }
  }
}

/** The engine's own message: dockerode puts the JSON body's `message` in `json`. */
function engineMessage(error: unknown): string {
  const json = (error as { json?: unknown }).json;
  if (json && typeof json === "object" && typeof (json as { message?: unknown }).message === "string") return (json as { message: string }).message.trim();
  if (typeof json === "string" && json.trim()) return json.trim();
  return error instanceof Error ? error.message.replace(/^\(HTTP code \d+\)\s*[a-z ]*-\s*/, "").trim() : String(error);
}

export function engineError(error: unknown, what: string, host: string, context: { image?: string; name?: string } = {}): ApiError {
  if (error instanceof ApiError) return error;
  const code = (error as { code?: string }).code;
  const statusCode = (error as { statusCode?: number }).statusCode;
  if (statusCode === undefined && (typeof code === "string" && (UNREACHABLE.has(code) || code.startsWith("E")))) {
    return new ApiError("engine_unavailable", `the Docker engine at ${host} is unreachable (${code}); check DOCKER_HOST and that the engine runs`);
  }
  if (statusCode === undefined && error instanceof Error && /timeout/i.test(error.message)) {
    return new ApiError("engine_unavailable", `the Docker engine at ${host} did not answer in time (${error.message})`);
  }
  const message = engineMessage(error);
  if (context.image && statusCode === 404 && /image/i.test(message)) {
    return new ApiError("image_not_found", `image: the engine has no image ${JSON.stringify(context.image)} (${message})`);
  }
  if (/address already in use|port is already allocated|bind: .*in use/i.test(message)) {
    return new ApiError("conflict", `a host port for ${what} is already in use (${message})`);
  }
  if (statusCode === 409 || /name .*already in use|is already in use by/i.test(message)) {
    return new ApiError("conflict", `container name ${JSON.stringify(context.name ?? what)} is already taken in the engine (${message})`);
  }
  if (statusCode === 404) return new ApiError("not_found", `${what}: the engine has no such object (${message})`);
  if (/memory limit|minimum memory|nanocpus|cpu/i.test(message) && (statusCode === 400 || statusCode === 500)) {
    return new ApiError("invalid_parameter", `limits: the engine refused them for ${what} (${message})`);
  }
  if (statusCode === 400) return new ApiError("invalid_parameter", `${what}: the engine refused the request (${message})`);
  return new ApiError("engine_error", `${what}: the Docker engine failed (${statusCode ?? code ?? "error"}: ${message})`);
}

export interface LogLine {
  readonly stream: "stdout" | "stderr";
  readonly line: string;
}

/**
 * Splits the engine's log stream into lines. Without a TTY the engine sends
 * frames: 8 bytes [stream (1 stdout, 2 stderr), 0, 0, 0, size (uint32 BE)]
 * then size bytes; a stream that does not start so (a TTY container) is raw text.
 */
export class LogDemultiplexer {
  private pending: Buffer = Buffer.alloc(0);
  private raw: boolean | null = null;
  private readonly partial: Record<"stdout" | "stderr", string> = { stdout: "", stderr: "" };

  push(chunk: Buffer): LogLine[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: LogLine[] = [];
    if (this.raw === null && this.pending.length > 0) {
      const first = this.pending[0]!;
      this.raw = !(first <= 2 && (this.pending.length < 4 || (this.pending[1] === 0 && this.pending[2] === 0 && this.pending[3] === 0)));
    }
    if (this.raw) {
      this.text("stdout", this.pending.toString("utf8"), out);
      this.pending = Buffer.alloc(0);
      return out;
    }
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const stream = this.pending[0] === 2 ? "stderr" : "stdout";
      this.text(stream, this.pending.subarray(8, 8 + size).toString("utf8"), out);
      this.pending = this.pending.subarray(8 + size);
    }
    return out;
  }

  /** What is left when the stream ends: unfinished lines. */
  end(): LogLine[] {
    const out: LogLine[] = [];
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.partial[stream]) out.push({ stream, line: this.partial[stream] });
      this.partial[stream] = "";
    }
    return out;
  }

  private text(stream: "stdout" | "stderr", text: string, out: LogLine[]): void {
    const parts = (this.partial[stream] + text).split("\n");
    this.partial[stream] = parts.pop()!;
    for (const part of parts) out.push({ stream, line: part.replace(/\r$/, "") });
  }
}

export interface ContainerStats {
  readonly read_at: string | null;
  readonly cpu_percent: number;
  readonly online_cpus: number;
  readonly memory_usage_bytes: number;
  readonly memory_limit_bytes: number;
  readonly memory_percent: number;
  readonly network_rx_bytes: number;
  readonly network_tx_bytes: number;
  readonly block_read_bytes: number;
  readonly block_write_bytes: number;
  readonly pids: number;
}

interface RawCpu {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}
interface RawStats {
  read?: string;
  cpu_stats?: RawCpu;
  precpu_stats?: RawCpu;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null };
  pids_stats?: { current?: number };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** The numbers in one engine stats sample (the formulas of `docker stats`). */
export function statsFromSample(raw: RawStats): ContainerStats {
  const cpu = raw.cpu_stats ?? {};
  const pre = raw.precpu_stats ?? {};
  const onlineCpus = cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1;
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const cpuPercent = cpuDelta > 0 && systemDelta > 0 ? (cpuDelta / systemDelta) * onlineCpus * 100 : 0;
  const memory = raw.memory_stats ?? {};
  // Like `docker stats`: page cache is not the container's use.
  const cache = memory.stats?.inactive_file ?? memory.stats?.total_inactive_file ?? memory.stats?.cache ?? 0;
  const usage = Math.max(0, (memory.usage ?? 0) - (cache < (memory.usage ?? 0) ? cache : 0));
  const limit = memory.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const net of Object.values(raw.networks ?? {})) {
    rx += net.rx_bytes ?? 0;
    tx += net.tx_bytes ?? 0;
  }
  let read = 0;
  let write = 0;
  for (const entry of raw.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = (entry.op ?? "").toLowerCase();
    if (op === "read") read += entry.value ?? 0;
    else if (op === "write") write += entry.value ?? 0;
  }
  return {
    read_at: raw.read ?? null,
    cpu_percent: round2(cpuPercent),
    online_cpus: onlineCpus,
    memory_usage_bytes: usage,
    memory_limit_bytes: limit,
    memory_percent: limit > 0 ? round2((usage / limit) * 100) : 0,
    network_rx_bytes: rx,
    network_tx_bytes: tx,
    block_read_bytes: read,
    block_write_bytes: write,
    pids: raw.pids_stats?.current ?? 0,
  };
}
