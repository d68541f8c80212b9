/**
 * DOCKER_HOST=ssh://user@host:port against a real sshd (tests/helpers/ssh-docker-host.ts)
 * relaying `docker system dial-stdio` to a real Docker API (podman): a service
 * is created, shown, reached, its logs read and followed, and deleted through it; the login key comes
 * from a file or an ssh agent. The host key is pinned
 * by known_hosts: another key, an unauthorized client key, or a known_hosts
 * without the host are refused with errors naming the cause.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { startTestSshDockerHost, type TestSshDockerHost } from "../helpers/ssh-docker-host";
import { within } from "../helpers/within";

let engine: TestDockerEngine;
let sshHost: TestSshDockerHost;
let redis: TestRedis;

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  sshHost = await startTestSshDockerHost(engine.socketPath);
});

afterAll(async () => {
  await sshHost?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

const sshEnv = (overrides: Record<string, string> = {}) => ({ DOCKER_HOST: sshHost.dockerHost, DOCKER_SSH_KEY: sshHost.keyPath, DOCKER_SSH_KNOWN_HOSTS: sshHost.knownHostsPath, ...overrides });

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "portcullis-ssh-test-")), name);
  writeFileSync(path, text);
  return path;
}

describe("DOCKER_HOST over ssh://", () => {
  test("create, show, reach, logs, follow and delete a service through ssh", async () => {
    const gw = await startTestGateway(redis, sshEnv());
    try {
      const made = await gw.api("POST", "/api/v1/services/", { service_name: "over-ssh", image: TEST_IMAGE, environment: { GREETING: "ssh" } });
      expect([made.status, made.json.status, made.json.detail]).toEqual([201, "running", undefined]);
      // The container is on the engine behind sshd, labelled as ours.
      const inspected = await engine.inspect("portcullis-over-ssh");
      expect(inspected.Config.Labels["portcullis.service"]).toBe("over-ssh");
      const shown = await gw.api("GET", "/api/v1/services/over-ssh");
      expect([shown.status, shown.json.container_id]).toEqual([200, made.json.container_id]);
      expect(await within(10_000, async () => (await fetch(made.json.url).then((r) => r.text()).catch(() => "")).trim() === "hello from ssh")).toBe(true);
      const logs = await gw.api("GET", "/api/v1/services/over-ssh/logs?lines=10");
      expect(logs.json.lines.map((l: { line: string }) => l.line)).toContain("portcullis-test-image listening on 8080");
      // A follow holds its ssh channel open and streams over it.
      const abort = new AbortController();
      const followed = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/api/v1/services/over-ssh/logs?follow=true&lines=5`, { headers: { authorization: `Bearer ${GATEWAY_ADMIN}` }, signal: abort.signal });
      expect(followed.status).toBe(200);
      const reader = followed.body!.getReader();
      let text = "";
      const deadline = Date.now() + 10_000;
      while (!text.includes("listening on 8080") && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain('event: log\ndata: {"stream":"stdout","line":"portcullis-test-image listening on 8080"}');
      abort.abort();
      await reader.cancel().catch(() => {});
      expect((await gw.api("DELETE", "/api/v1/services/over-ssh?force=true")).status).toBe(200);
      expect(await engine.containersOf("over-ssh")).toEqual([]);
    } finally {
      await gw.stop();
    }
  }, 90_000);

  test("the login key from an ssh agent (SSH_AUTH_SOCK) when DOCKER_SSH_KEY is unset", async () => {
    const socket = join(mkdtempSync(join(tmpdir(), "portcullis-agent-")), "agent.sock");
    const agent = Bun.spawn(["ssh-agent", "-D", "-a", socket], { stdout: "ignore", stderr: "ignore" });
    try {
      expect(await within(5_000, async () => (await Bun.file(socket).exists()) || (await Bun.spawn(["test", "-S", socket]).exited) === 0)).toBe(true);
      const added = Bun.spawn(["ssh-add", sshHost.keyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdout: "ignore", stderr: "pipe" });
      expect(await added.exited).toBe(0);
      const { DOCKER_SSH_KEY: _unused, ...withoutKey } = sshEnv();
      const gw = await startTestGateway(redis, { ...withoutKey, SSH_AUTH_SOCK: socket });
      try {
        // Cleanup lists the engine's containers: it answers only if the agent's key logged in.
        const res = await gw.api("POST", "/api/v1/services/cleanup");
        expect([res.status, res.json]).toEqual([200, { removed_containers: [], removed_images: [], removed_records: [], released_ports: [] }]);
      } finally {
        await gw.stop();
      }
    } finally {
      agent.kill();
      await agent.exited;
    }
  }, 60_000);

  test("a host key other than the one known_hosts lists is refused: 503 naming it, nothing made", async () => {
    const otherKey = tempFile("known_hosts", `[127.0.0.1]:${sshHost.port} ${sshHost.strangerHostKeyPublic}\n`);
    const gw = await startTestGateway(redis, sshEnv({ DOCKER_SSH_KNOWN_HOSTS: otherKey }));
    try {
      const res = await gw.api("POST", "/api/v1/services/", { service_name: "mitm", image: TEST_IMAGE });
      expect([res.status, res.json.error]).toEqual([503, "engine_unavailable"]);
      expect(res.json.detail).toContain("host key of [127.0.0.1]:");
      expect(res.json.detail).toContain(otherKey);
      expect(await engine.containersOf("mitm")).toEqual([]);
      expect((await gw.api("GET", "/api/v1/services/mitm")).status).toBe(404);
    } finally {
      await gw.stop();
    }
  }, 60_000);

  test("a client key the host does not accept: 503 naming authentication", async () => {
    const gw = await startTestGateway(redis, sshEnv({ DOCKER_SSH_KEY: sshHost.strangerKeyPath }));
    try {
      const res = await gw.api("POST", "/api/v1/services/", { service_name: "stranger", image: TEST_IMAGE });
      expect([res.status, res.json.error]).toEqual([503, "engine_unavailable"]);
      expect(res.json.detail).toMatch(/authentication/i);
    } finally {
      await gw.stop();
    }
  }, 60_000);

  test("a known_hosts without the host, or an unreadable key, stops start-up naming the variable", async () => {
    const elsewhere = tempFile("known_hosts", `other.example.com ${sshHost.strangerHostKeyPublic}\n`);
    await expect(startTestGateway(redis, sshEnv({ DOCKER_SSH_KNOWN_HOSTS: elsewhere }))).rejects.toThrow(`DOCKER_SSH_KNOWN_HOSTS=${JSON.stringify(elsewhere)}: lists no key for [127.0.0.1]:${sshHost.port}`);
    await expect(startTestGateway(redis, sshEnv({ DOCKER_SSH_KEY: "/nonexistent/key" }))).rejects.toThrow('DOCKER_SSH_KEY="/nonexistent/key": cannot be read (ENOENT)');
  }, 30_000);
});
