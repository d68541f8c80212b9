/**
 * The compiled executable manages a Docker service through dockerode (bundled),
 * against the podman Docker API: create → the container answers → delete.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { ensureBinary, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { within } from "../helpers/within";

let engine: TestDockerEngine;
let gateway: RunningGateway;
const dataDir = tempDataDir();

beforeAll(async () => {
  await ensureBinary();
  engine = await startTestDockerEngine();
  gateway = await startGatewayProcess({ dataDir, env: { DOCKER_HOST: engine.dockerHost } });
  await gateway.waitForHealthy();
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await engine?.stop();
});

test("dist/portcullis creates, serves and deletes a Docker service", async () => {
  const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(gateway.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as any };
  };
  const made = await call("POST", "/api/v1/services/", { service_name: "bin", image: TEST_IMAGE, environment: { GREETING: "the binary" } });
  expect(made.status).toBe(201);
  expect(made.json.status).toBe("running");
  const answered = await within(15_000, async () => {
    try {
      return (await (await fetch(made.json.url)).text()).trim() === "hello from the binary";
    } catch {
      return false;
    }
  });
  expect(answered).toBe(true);
  expect((await call("DELETE", "/api/v1/services/bin?force=true")).status).toBe(200);
  expect((await engine.podman("ps", "--all", "--format", "{{.Names}}")).stdout.trim()).toBe("");
}, 60_000);
