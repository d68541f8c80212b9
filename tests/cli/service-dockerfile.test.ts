/**
 * `portcullis service create NAME --dockerfile PATH` against a gateway with
 * DOCKER_BUILD_DIR and a real Docker API (podman): the image is built and the
 * service runs it; output formats; a failed build and a path outside the
 * directory reach the user naming the cause.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { cliSession } from "../helpers/cli-program";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const HOME = tempDir("service-dockerfile-cli-home");
let engine: TestDockerEngine;
let redis: TestRedis;
let gw: TestGateway;
const admin = cliSession(() => `http://127.0.0.1:${gw.gateway.apiPort}`, GATEWAY_ADMIN, HOME);

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  const buildDir = tempDir("cli-builds");
  mkdirSync(join(buildDir, "app"));
  writeFileSync(join(buildDir, "app", "app.Dockerfile"), `FROM ${TEST_IMAGE}\nCOPY greeting.txt /greeting.txt\nENV GREETING=built-by-cli\n`);
  writeFileSync(join(buildDir, "app", "greeting.txt"), "from the context\n");
  writeFileSync(join(buildDir, "app", "broken.Dockerfile"), `FROM ${TEST_IMAGE}\nRUN echo going-wrong && exit 3\n`);
  gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost, DOCKER_BUILD_DIR: buildDir });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

describe("service create --dockerfile", () => {
  test("builds the image and runs it (json, yaml and table); the file from the context is in the container", async () => {
    const created = await admin.json("service", "create", "clibuilt", "--dockerfile", "./app/app.Dockerfile", "--port", "8080");
    expect(created).toMatchObject({ service_name: "clibuilt", dockerfile_path: "./app/app.Dockerfile", status: "running", internal_port: 8080 });
    expect(created.image).toMatch(/^portcullis\/clibuilt:/);
    const copied = await engine.podman("exec", "portcullis-clibuilt", "cat", "/greeting.txt");
    expect(copied.stdout).toBe("from the context\n");
    // The image's ENV reached the container: the base image's server greets with it.
    const served = await fetch(created.url).then((r) => r.text());
    expect(served.trim()).toBe("hello from built-by-cli");

    expect(parseYaml(await admin.ok("--format", "yaml", "service", "show", "clibuilt"))).toMatchObject({ dockerfile_path: "./app/app.Dockerfile", image: created.image });
    const table = await admin.ok("service", "list");
    expect(table).toContain("clibuilt");
    expect(table).toContain(created.image);
    expect(await admin.json("service", "delete", "clibuilt", "--force")).toEqual({ deleted: "clibuilt" });
    expect((await engine.podman("image", "exists", created.image)).code).toBe(1);
  }, 60_000);

  test("a failed build, a path outside DOCKER_BUILD_DIR, and image with --dockerfile reach the user naming the cause", async () => {
    const failed = await admin.cli("service", "create", "clibroken", "--dockerfile", "app/broken.Dockerfile");
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain("did not build");
    expect(failed.stderr).toContain("going-wrong");
    const outside = await admin.cli("service", "create", "clithief", "--dockerfile", "../../etc/passwd");
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toContain("outside DOCKER_BUILD_DIR");
    const both = await admin.cli("service", "create", "cliboth", TEST_IMAGE, "--dockerfile", "app/app.Dockerfile");
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain("not both");
    const neither = await admin.cli("service", "create", "clineither");
    expect(neither.code).not.toBe(0);
    expect(neither.stderr).toContain("--dockerfile");
    expect(await admin.json("service", "list")).toEqual([]);
  }, 60_000);
});
