/** DOCKER_HOST / DOCKER_API_VERSION / DOCKER_SSH_* / SERVICE_LOG_FOLLOWS_* parsing, and the size and CPU limits of Docker services. */
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/core/config";
import { parseDockerHost } from "../../src/core/docker-config";
import { parseCpuLimit, parseMemoryLimit } from "../../src/services/docker-service-settings";
import { configProblems as problemsOf } from "../helpers/config-problems";


describe("docker settings", () => {
  test("defaults: the local socket, API 1.41", () => {
    const { docker } = parseConfig({}, "/srv");
    expect(docker).toEqual({
      host: "unix:///var/run/docker.sock",
      endpoint: { kind: "unix", socketPath: "/var/run/docker.sock" },
      apiVersion: "1.41",
      // Building from a Dockerfile is off until the operator names a directory.
      buildDir: null,
      buildTimeoutMs: 600_000,
      buildContextLimitBytes: 100 * 1024 * 1024,
      ssh: null,
      logFollowsMax: 64,
      logFollowsPerToken: 8,
    });
  });

  test("unix and tcp hosts; a v prefix on the version is accepted", () => {
    expect(parseConfig({ DOCKER_HOST: "tcp://127.0.0.1:2375", DOCKER_API_VERSION: "v1.43" }, "/srv").docker).toMatchObject({
      host: "tcp://127.0.0.1:2375",
      endpoint: { kind: "tcp", host: "127.0.0.1", port: 2375 },
      apiVersion: "1.43",
      ssh: null,
      logFollowsMax: 64,
      logFollowsPerToken: 8,
    });
    expect(parseDockerHost("tcp://[::1]:2375")).toEqual({ kind: "tcp", host: "::1", port: 2375 });
    expect(parseDockerHost("unix:///run/podman/podman.sock")).toEqual({ kind: "unix", socketPath: "/run/podman/podman.sock" });
  });

  test("bad values stop start-up naming the variable", () => {
    for (const host of ["/var/run/docker.sock", "unix://relative.sock", "tcp://host", "tcp://host:0", "http://host:2375", "ssh://host", "ssh://me:secret@host", "ssh://me@host:0", "ssh://me@host:70000", "ssh://me@host/path", "ssh://me@"]) {
      expect(problemsOf({ DOCKER_HOST: host }).some((p) => p.startsWith(`DOCKER_HOST=${JSON.stringify(host)}`))).toBe(true);
    }
    expect(problemsOf({ DOCKER_API_VERSION: "latest" }).some((p) => p.startsWith("DOCKER_API_VERSION="))).toBe(true);
    for (const value of ["0", "-1", "many", "1.5", "100001"]) {
      expect(problemsOf({ SERVICE_LOG_FOLLOWS_MAX: value }).some((p) => p.startsWith(`SERVICE_LOG_FOLLOWS_MAX=${JSON.stringify(value)}`))).toBe(true);
      expect(problemsOf({ SERVICE_LOG_FOLLOWS_PER_TOKEN: value }).some((p) => p.startsWith(`SERVICE_LOG_FOLLOWS_PER_TOKEN=${JSON.stringify(value)}`))).toBe(true);
    }
  });

  test("log follow caps", () => {
    expect(parseConfig({ SERVICE_LOG_FOLLOWS_MAX: "3", SERVICE_LOG_FOLLOWS_PER_TOKEN: "1" }, "/srv").docker).toMatchObject({ logFollowsMax: 3, logFollowsPerToken: 1 });
  });

  test("ssh://user@host[:port] with a key file or the agent, and a known_hosts file", () => {
    expect(parseDockerHost("ssh://deploy@docker.example.com")).toEqual({ kind: "ssh", user: "deploy", host: "docker.example.com", port: 22 });
    expect(parseDockerHost("ssh://deploy@[::1]:2222")).toEqual({ kind: "ssh", user: "deploy", host: "::1", port: 2222 });
    const withKey = parseConfig({ DOCKER_HOST: "ssh://deploy@10.0.0.5:2222", DOCKER_SSH_KEY: "/etc/portcullis/docker_key", HOME: "/home/portcullis" }, "/srv").docker;
    expect(withKey.endpoint).toEqual({ kind: "ssh", user: "deploy", host: "10.0.0.5", port: 2222 });
    expect(withKey.ssh).toEqual({ privateKeyPath: "/etc/portcullis/docker_key", agentSocket: null, knownHostsPath: "/home/portcullis/.ssh/known_hosts" });
    const withAgent = parseConfig({ DOCKER_HOST: "ssh://deploy@docker.example.com", SSH_AUTH_SOCK: "/run/agent.sock", DOCKER_SSH_KNOWN_HOSTS: "/etc/portcullis/known_hosts" }, "/srv").docker;
    expect(withAgent.ssh).toEqual({ privateKeyPath: null, agentSocket: "/run/agent.sock", knownHostsPath: "/etc/portcullis/known_hosts" });
    // SSH settings are only read for an ssh:// host.
    expect(parseConfig({ DOCKER_SSH_KEY: "relative" }, "/srv").docker.ssh).toBeNull();
  });

  test("an ssh:// host without a key or agent, a relative key path, or no known_hosts stops start-up naming the variable", () => {
    expect(problemsOf({ DOCKER_HOST: "ssh://deploy@h", HOME: "/root" })).toEqual([expect.stringMatching(/^DOCKER_HOST="ssh:\/\/deploy@h": .*DOCKER_SSH_KEY.*SSH_AUTH_SOCK/)]);
    expect(problemsOf({ DOCKER_HOST: "ssh://deploy@h", DOCKER_SSH_KEY: "id_ed25519", HOME: "/root" })).toEqual([expect.stringMatching(/^DOCKER_SSH_KEY="id_ed25519": expected an absolute path/)]);
    expect(problemsOf({ DOCKER_HOST: "ssh://deploy@h", DOCKER_SSH_KEY: "/k" })).toEqual([expect.stringMatching(/^DOCKER_SSH_KNOWN_HOSTS="": expected an absolute path/)]);
  });

  test("build settings: an absolute directory, a timeout in seconds, a context size", () => {
    expect(parseConfig({ DOCKER_BUILD_DIR: "/srv/builds/", DOCKER_BUILD_TIMEOUT: "30", DOCKER_BUILD_CONTEXT_LIMIT: "8m" }, "/srv").docker).toMatchObject({
      buildDir: "/srv/builds",
      buildTimeoutMs: 30_000,
      buildContextLimitBytes: 8 * 1024 * 1024,
    });
    expect(parseConfig({ DOCKER_BUILD_DIR: "" }, "/srv").docker.buildDir).toBeNull();
    for (const [name, value] of [
      ["DOCKER_BUILD_DIR", "builds"],
      ["DOCKER_BUILD_DIR", "./builds"],
      ["DOCKER_BUILD_DIR", "/"],
      ["DOCKER_BUILD_DIR", "//"],
      ["DOCKER_BUILD_TIMEOUT", "0"],
      ["DOCKER_BUILD_TIMEOUT", "ten"],
      ["DOCKER_BUILD_TIMEOUT", "90000"],
      ["DOCKER_BUILD_CONTEXT_LIMIT", "lots"],
      ["DOCKER_BUILD_CONTEXT_LIMIT", "1k"],
      ["DOCKER_BUILD_CONTEXT_LIMIT", "9g"],
    ] as const) {
      expect({ name, value, refused: problemsOf({ [name]: value }).some((p) => p.startsWith(`${name}=${JSON.stringify(value)}`)) }).toEqual({ name, value, refused: true });
    }
  });
});

describe("limits", () => {
  test("memory sizes in Docker's units", () => {
    expect(parseMemoryLimit("512m")).toBe(512 * 1024 ** 2);
    expect(parseMemoryLimit("1g")).toBe(1024 ** 3);
    expect(parseMemoryLimit("1.5G")).toBe(1.5 * 1024 ** 3);
    expect(parseMemoryLimit("6291456")).toBe(6 * 1024 ** 2);
    expect(parseMemoryLimit("64mb")).toBe(64 * 1024 ** 2);
    for (const bad of ["", "lots", "-1m", "5m", "2t", "1 m m"]) expect(() => parseMemoryLimit(bad)).toThrow("memory_limit");
  });

  test("CPUs to NanoCpus", () => {
    expect(parseCpuLimit(1)).toBe(1e9);
    expect(parseCpuLimit(0.25)).toBe(250_000_000);
    for (const bad of [0, -1, 0.001, 2000, Number.NaN]) expect(() => parseCpuLimit(bad)).toThrow("cpu_limit");
  });
});
