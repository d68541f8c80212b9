/**
 * Updating a service built from a Dockerfile (real podman, Redis, gateway):
 * settings changes keep running the built image and its dockerfile_path; a new
 * image drops dockerfile_path, and the built image, no longer run, is left to
 * cleanup (deleting the service no longer removes it).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

let engine: TestDockerEngine;
let redis: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  const buildDir = tempDir("builds-update");
  mkdirSync(join(buildDir, "app"));
  writeFileSync(join(buildDir, "app", "Dockerfile"), `FROM ${TEST_IMAGE}\nENV GREETING=built\n`);
  gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost, DOCKER_BUILD_DIR: buildDir });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

test("a settings update keeps the built image; a new image drops dockerfile_path", async () => {
  const created = await gw.api("POST", "/api/v1/services/", { service_name: "upd", dockerfile_path: "app/Dockerfile" });
  expect(created.status).toBe(201);
  const built: string = created.json.image;

  const env = await gw.api("PUT", "/api/v1/services/upd", { memory_limit: "64m" });
  expect(env.status).toBe(200);
  expect(env.json).toMatchObject({ image: built, dockerfile_path: "app/Dockerfile", memory_limit: "64m", status: "running" });

  const swapped = await gw.api("PUT", "/api/v1/services/upd", { image: TEST_IMAGE });
  expect(swapped.status).toBe(200);
  expect(swapped.json).toMatchObject({ image: TEST_IMAGE, dockerfile_path: null, status: "running" });
  expect((await engine.podman("image", "exists", built)).code).toBe(0);

  expect((await gw.api("DELETE", "/api/v1/services/upd?force=true")).status).toBe(200);
  // No longer the service's image: cleanup's (once ten minutes old), not the delete's.
  expect((await engine.podman("image", "exists", built)).code).toBe(0);
  expect((await engine.podman("image", "exists", TEST_IMAGE)).code).toBe(0);
}, 90_000);
