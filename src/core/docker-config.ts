/**
 * The Docker engine the gateway manages services on (docs/services.md "Docker
 * services"). Pure: a reader in, settings out, problems appended.
 */

export type DockerEndpoint =
  | { readonly kind: "unix"; readonly socketPath: string }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number };

export interface DockerSettings {
  /** DOCKER_HOST as given (default unix:///var/run/docker.sock). */
  readonly host: string;
  readonly endpoint: DockerEndpoint;
  /** DOCKER_API_VERSION: the API version the gateway asks for (default 1.41). */
  readonly apiVersion: string;
  /**
   * DOCKER_BUILD_DIR: the only directory builds from a `dockerfile_path` may
   * read (absolute); null (unset) refuses every build. Any token may create a
   * service, so this bounds what a token holder can copy into an image.
   */
  readonly buildDir: string | null;
  /** DOCKER_BUILD_TIMEOUT: the longest a build may take before it is aborted (default 600 s). */
  readonly buildTimeoutMs: number;
  /** DOCKER_BUILD_CONTEXT_LIMIT: the largest build context sent to the engine (default 100 MiB). */
  readonly buildContextLimitBytes: number;
}

interface Reader {
  read(name: string): string | undefined;
}

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

export function parseDockerSettings({ read }: Reader, problems: string[]): DockerSettings {
  const host = read("DOCKER_HOST") ?? DEFAULT_DOCKER_HOST;
  const endpoint = parseDockerHost(host);
  if (!endpoint) problems.push(`DOCKER_HOST=${JSON.stringify(host)}: expected unix:///path/to/docker.sock or tcp://host:port`);
  const apiVersion = (read("DOCKER_API_VERSION") ?? "1.41").replace(/^v/, "");
  if (!/^1\.\d{1,3}$/.test(apiVersion)) problems.push(`DOCKER_API_VERSION=${JSON.stringify(read("DOCKER_API_VERSION"))}: expected a version like 1.41`);
  const buildDir = read("DOCKER_BUILD_DIR") || null;
  if (buildDir !== null && !buildDir.startsWith("/")) problems.push(`DOCKER_BUILD_DIR=${JSON.stringify(buildDir)}: expected an absolute path (the directory Dockerfile builds may read)`);
  // Every token could then copy any file the gateway can read into an image.
  if (buildDir !== null && /^\/+$/.test(buildDir)) problems.push(`DOCKER_BUILD_DIR=${JSON.stringify(buildDir)}: the whole filesystem; name a directory holding only Dockerfiles and what they build from`);
  const rawTimeout = read("DOCKER_BUILD_TIMEOUT") ?? "600";
  const timeout = /^\d{1,6}$/.test(rawTimeout) ? Number(rawTimeout) : Number.NaN;
  if (!(timeout >= 1 && timeout <= 86_400)) problems.push(`DOCKER_BUILD_TIMEOUT=${JSON.stringify(rawTimeout)}: expected whole seconds from 1 to 86400`);
  const rawLimit = read("DOCKER_BUILD_CONTEXT_LIMIT") ?? "100m";
  const limit = parseByteSize(rawLimit);
  if (limit === null || limit < 4096 || limit > 8 * 1024 ** 3) problems.push(`DOCKER_BUILD_CONTEXT_LIMIT=${JSON.stringify(rawLimit)}: expected a size from 4k to 8g, like 100m`);
  return {
    host,
    endpoint: endpoint ?? { kind: "unix", socketPath: "/var/run/docker.sock" },
    apiVersion,
    buildDir: buildDir === null ? null : buildDir.replace(/(.)\/+$/, "$1"),
    buildTimeoutMs: (Number.isFinite(timeout) ? timeout : 600) * 1000,
    buildContextLimitBytes: limit ?? 100 * 1024 ** 2,
  };
}

/** "100m", "4096", "1g" → bytes (1024-based k, m, g); null when not a size. */
export function parseByteSize(raw: string): number | null {
  const match = /^(\d{1,12})([kmg]?)$/i.exec(raw.trim());
  if (!match) return null;
  return Number(match[1]) * ({ "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[match[2]!.toLowerCase()]!;
}

export function parseDockerHost(raw: string): DockerEndpoint | null {
  if (raw.startsWith("unix://")) {
    const socketPath = raw.slice("unix://".length);
    return socketPath.startsWith("/") ? { kind: "unix", socketPath } : null;
  }
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(raw);
  if (!tcp) return null;
  const port = Number(tcp[2]);
  if (port < 1 || port > 65535) return null;
  return { kind: "tcp", host: tcp[1]!.replace(/^\[|\]$/g, ""), port };
}
