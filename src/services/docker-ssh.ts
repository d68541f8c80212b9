/**
 * The ssh2 connection settings dockerode (docker-modem) uses when DOCKER_HOST
 * is ssh://user@host[:port]: each API call opens an ssh connection and runs
 * `docker system dial-stdio` on the remote side, which relays to its engine.
 * The key and known_hosts files are read once, at start; an unreadable one
 * stops start-up naming its variable.
 */
import { readFileSync } from "node:fs";
import type { DockerEndpoint, DockerSshSettings } from "../core/docker-config";
import { checkHostKey, knownHostName, matchesHost, parseKnownHosts } from "./known-hosts";

export interface SshConnectOptions {
  readonly privateKey?: Buffer;
  readonly agent?: string;
  /** Refuses every host key the known_hosts file does not list for this host. */
  readonly hostVerifier: (key: Buffer) => boolean;
  readonly readyTimeout: number;
  readonly keepaliveInterval: number;
  readonly keepaliveCountMax: number;
}

export class DockerSshSetupError extends Error {}

export function sshConnectOptions(endpoint: Extract<DockerEndpoint, { kind: "ssh" }>, settings: DockerSshSettings, onRefusedKey: (reason: string) => void): SshConnectOptions {
  const read = (variable: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new DockerSshSetupError(`${variable}=${JSON.stringify(path)}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  };
  const knownHosts = parseKnownHosts(read("DOCKER_SSH_KNOWN_HOSTS", settings.knownHostsPath).toString("utf8"));
  const name = knownHostName(endpoint.host, endpoint.port);
  if (!knownHosts.some((entry) => entry.marker === null && matchesHost(entry.patterns, name))) {
    throw new DockerSshSetupError(`DOCKER_SSH_KNOWN_HOSTS=${JSON.stringify(settings.knownHostsPath)}: lists no key for ${name} (add it, e.g. ssh-keyscan -p ${endpoint.port} ${endpoint.host} >> that file, after checking its fingerprint)`);
  }
  const privateKey = settings.privateKeyPath === null ? undefined : read("DOCKER_SSH_KEY", settings.privateKeyPath);
  return {
    ...(privateKey ? { privateKey } : { agent: settings.agentSocket ?? undefined }),
    hostVerifier: (key: Buffer) => {
      const verdict = checkHostKey(knownHosts, endpoint.host, endpoint.port, key);
      if (verdict !== "trusted") onRefusedKey(`the host key of ${name} is ${verdict === "revoked" ? "marked @revoked" : "not the one"} in ${settings.knownHostsPath}`);
      return verdict === "trusted";
    },
    readyTimeout: 20_000,
    // Three unanswered keepalives 15 s apart end a connection whose peer is gone.
    keepaliveInterval: 15_000,
    keepaliveCountMax: 3,
  };
}
