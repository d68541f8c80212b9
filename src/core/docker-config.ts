/**
 * The Docker engine the gateway manages services on (docs/services.md "Docker
 * services"). Pure: a reader in, settings out, problems appended.
 */

export type DockerEndpoint =
  | { readonly kind: "unix"; readonly socketPath: string }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  /** The engine on another machine, reached through ssh (the remote runs `docker system dial-stdio`). */
  | { readonly kind: "ssh"; readonly user: string; readonly host: string; readonly port: number };

/** How the gateway logs in and which host key it trusts when DOCKER_HOST is ssh:// (null otherwise). */
export interface DockerSshSettings {
  /** DOCKER_SSH_KEY: an unencrypted private key file (OpenSSH or PEM); null: the agent is used. */
  readonly privateKeyPath: string | null;
  /** SSH_AUTH_SOCK: the ssh agent's socket, used when DOCKER_SSH_KEY is unset. */
  readonly agentSocket: string | null;
  /** DOCKER_SSH_KNOWN_HOSTS: the known_hosts file that must list the host's key (default ~/.ssh/known_hosts). */
  readonly knownHostsPath: string;
}

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
  readonly ssh: DockerSshSettings | null;
  /** SERVICE_LOG_FOLLOWS_MAX: service log follows one gateway node serves at once (default 64). */
  readonly logFollowsMax: number;
  /** SERVICE_LOG_FOLLOWS_PER_TOKEN: service log follows one token may hold open on one node (default 8). */
  readonly logFollowsPerToken: number;
}

interface Reader {
  read(name: string): string | undefined;
}

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

export function parseDockerSettings({ read }: Reader, problems: string[]): DockerSettings {
  const host = read("DOCKER_HOST") ?? DEFAULT_DOCKER_HOST;
  const endpoint = parseDockerHost(host);
  if (!endpoint) problems.push(`DOCKER_HOST=${JSON.stringify(host)}: expected unix:///path/to/docker.sock, tcp://host:port or ssh://user@host[:port]`);
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
  const ssh = endpoint?.kind === "ssh" ? parseSshSettings(read, host, problems) : null;
  const count = (name: string, fallback: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > 100_000) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from 1 to 100000`);
      return fallback;
    }
    return Number(raw);
  };
  const logFollowsMax = count("SERVICE_LOG_FOLLOWS_MAX", 64);
  const logFollowsPerToken = count("SERVICE_LOG_FOLLOWS_PER_TOKEN", 8);
  return {
    host,
    endpoint: endpoint ?? { kind: "unix", socketPath: "/var/run/docker.sock" },
    apiVersion,
    ssh,
    logFollowsMax,
    logFollowsPerToken,
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

function parseSshSettings(read: Reader["read"], host: string, problems: string[]): DockerSshSettings {
  const privateKeyPath = read("DOCKER_SSH_KEY") ?? null;
  if (privateKeyPath !== null && !privateKeyPath.startsWith("/")) problems.push(`DOCKER_SSH_KEY=${JSON.stringify(privateKeyPath)}: expected an absolute path to a private key file`);
  const agentSocket = read("SSH_AUTH_SOCK") ?? null;
  if (privateKeyPath === null && agentSocket === null) {
    problems.push(`DOCKER_HOST=${JSON.stringify(host)}: an ssh:// engine needs DOCKER_SSH_KEY (a private key file) or SSH_AUTH_SOCK (an ssh agent)`);
  }
  const home = read("HOME");
  const knownHostsPath = read("DOCKER_SSH_KNOWN_HOSTS") ?? (home ? `${home.replace(/\/$/, "")}/.ssh/known_hosts` : "");
  if (!knownHostsPath.startsWith("/")) problems.push(`DOCKER_SSH_KNOWN_HOSTS=${JSON.stringify(knownHostsPath)}: expected an absolute path to a known_hosts file listing the Docker host's key`);
  return { privateKeyPath, agentSocket, knownHostsPath };
}

export function parseDockerHost(raw: string): DockerEndpoint | null {
  if (raw.startsWith("unix://")) {
    const socketPath = raw.slice("unix://".length);
    return socketPath.startsWith("/") ? { kind: "unix", socketPath } : null;
  }
  // ssh://user@host[:port], as the docker CLI takes it; no path, no password in the URL.
  const ssh = /^ssh:\/\/([A-Za-z0-9_][A-Za-z0-9_.-]{0,31})@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(raw);
  if (ssh) {
    const port = ssh[3] === undefined ? 22 : Number(ssh[3]);
    if (port < 1 || port > 65535) return null;
    return { kind: "ssh", user: ssh[1]!, host: ssh[2]!.replace(/^\[|\]$/g, ""), port };
  }
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(raw);
  if (!tcp) return null;
  const port = Number(tcp[2]);
  if (port < 1 || port > 65535) return null;
  return { kind: "tcp", host: tcp[1]!.replace(/^\[|\]$/g, ""), port };
}
