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
  return { host, endpoint: endpoint ?? { kind: "unix", socketPath: "/var/run/docker.sock" }, apiVersion };
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
