/**
 * The compiled executable reaches a Docker engine over DOCKER_HOST=ssh:// (the
 * bundled ssh2 client, through a real sshd relaying `docker system dial-stdio`
 * to podman): create → the container answers → delete.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { ensureBinary, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { startTestSshDockerHost, type TestSshDockerHost } from "../helpers/ssh-docker-host";
import { within } from "../helpers/within";

let engine: TestDockerEngine;
let sshHost: TestSshDockerHost;
let gateway: RunningGateway;
const dataDir = tempDataDir();

beforeAll(async () => {
  await ensureBinary();
  engine = await startTestDockerEngine();
  sshHost = await startTestSshDockerHost(engine.socketPath);
  gateway = await startGatewayProcess({
    dataDir,
    env: { DOCKER_HOST: sshHost.dockerHost, DOCKER_SSH_KEY: sshHost.keyPath, DOCKER_SSH_KNOWN_HOSTS: sshHost.knownHostsPath },
  });
  await gateway.waitForHealthy();
}, 180_000);

afterAll(async () => {
  await gateway?.stop();
  await sshHost?.stop();
  await engine?.stop();
});

test("dist/portcullis creates, serves and deletes a Docker service over ssh://", async () => {
  const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(gateway.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as any };
  };
  const made = await call("POST", "/api/v1/services/", { service_name: "bin-ssh", image: TEST_IMAGE, environment: { GREETING: "ssh from the binary" } });
  expect([made.status, made.json.status, made.json.detail]).toEqual([201, "running", undefined]);
  const answered = await within(10_000, async () => {
    try {
      return (await (await fetch(made.json.url)).text()).trim() === "hello from ssh from the binary";
    } catch {
      return false;
    }
  });
  expect(answered).toBe(true);
  expect((await call("DELETE", "/api/v1/services/bin-ssh?force=true")).status).toBe(200);
  expect(await engine.containersOf("bin-ssh")).toEqual([]);
}, 90_000);
