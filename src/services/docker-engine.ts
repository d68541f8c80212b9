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
}

export interface PublishedPort {
  readonly container: number;
  readonly protocol: "tcp" | "udp";
  readonly hostIp: string;
  readonly hostPort: number;
}

/** HostConfig.PortBindings and ExposedPorts for a spec: the allocated ports, and internalPort on an engine-picked port unless one covers it. */
export function portBindings(spec: Pick<ContainerSpec, "internalPort" | "bindAddress" | "ports">): { exposed: Record<string, object>; bindings: Record<string, { HostIp: string; HostPort: string }[]> } {
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of spec.ports ?? []) {
    const key = `${port.container}/${port.protocol}`;
    (bindings[key] ??= []).push({ HostIp: port.hostIp, HostPort: String(port.hostPort) });
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
  readonly labels: Readonly<Record<string, string>>;
  readonly memoryBytes: number;
  readonly nanoCpus: number;
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOENT", "EACCES", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ENOTSOCK"]);

export class DockerEngine {
  private readonly docker: Docker;

  constructor(private readonly settings: DockerSettings, options: { timeoutMs?: number } = {}) {
    const { endpoint } = settings;
    const common = { version: `v${settings.apiVersion}`, timeout: options.timeoutMs ?? 60_000 };
    this.docker =
      endpoint.kind === "unix"
        ? new Docker({ socketPath: endpoint.socketPath, ...common })
        : new Docker({ host: endpoint.host, port: endpoint.port, protocol: "http", ...common });
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
    return container.id;
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
    return {
      id: info.Id,
      running,
      status: info.State?.Status ?? "unknown",
      hostAddress: running && binding?.HostPort ? { ip: binding.HostIp || "127.0.0.1", port: Number(binding.HostPort) } : null,
      labels: info.Config?.Labels ?? {},
      memoryBytes: info.HostConfig?.Memory ?? 0,
      nanoCpus: info.HostConfig?.NanoCpus ?? 0,
    };
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
