/**
 * Docker services built from a Dockerfile (dockerfile_path) against a real
 * Docker API (podman's build endpoint), Redis and gateway: the built image
 * serves a file from its context through the gateway; confinement to
 * DOCKER_BUILD_DIR over the API; failed builds (bad instruction, RUN exit 1,
 * a missing base image, the timeout, a container that cannot start) leave no
 * container, record, port or image; delete removes the built images;
 * ownership and a token's cascade delete; cleanup of built images no service runs.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { keys } from "../../src/storage/keys";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { within } from "../helpers/within";

let engine: TestDockerEngine;
let redis: TestRedis;
let gw: TestGateway;
let buildDir: string;
let outsideDir: string;
const PAGE = `built page ${randomBytes(8).toString("hex")}`;
const BUILD_TIMEOUT_S = 8;

function write(path: string, text: string | Buffer) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  buildDir = tempDir("builds");
  outsideDir = tempDir("outside");
  // The page comes from the context; RUN proves the build ran a step on the engine.
  write(join(buildDir, "dockerfiles", "site.Dockerfile"), `FROM ${TEST_IMAGE}\nCOPY page.html /www/index.html\nRUN echo ran > /www/run.txt\n# httpd as PID 1 ignores SIGTERM: stop it at once.\nSTOPSIGNAL SIGKILL\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`);
  write(join(buildDir, "dockerfiles", "page.html"), `${PAGE}\n`);
  write(join(buildDir, "broken", "run.Dockerfile"), `FROM ${TEST_IMAGE}\nRUN echo about-to-fail && exit 1\n`);
  write(join(buildDir, "broken", "bogus.Dockerfile"), `FROM ${TEST_IMAGE}\nBOGUS instruction\n`);
  write(join(buildDir, "broken", "nofrom.Dockerfile"), "FROM localhost:1/not-here:1\n");
  write(join(buildDir, "broken", "nostart.Dockerfile"), `FROM ${TEST_IMAGE}\nCMD ["/bin/does-not-exist"]\n`);
  write(join(buildDir, "slow", "Dockerfile"), `FROM ${TEST_IMAGE}\nRUN sleep 30\n`);
  write(join(buildDir, "big", "Dockerfile"), `FROM ${TEST_IMAGE}\n`);
  write(join(buildDir, "big", "blob.bin"), Buffer.alloc(200 * 1024, 1));
  write(join(outsideDir, "Dockerfile"), `FROM ${TEST_IMAGE}\nCOPY . /stolen\n`);
  write(join(outsideDir, "secrets.key"), "SECRET\n");
  symlinkSync(join(outsideDir, "Dockerfile"), join(buildDir, "dockerfiles", "escape.Dockerfile"));
  symlinkSync(outsideDir, join(buildDir, "outside-link"));
  // The gateway's data directory lies inside the build directory here: a context holding it is refused.
  write(join(buildDir, "state", "Dockerfile"), `FROM ${TEST_IMAGE}\nCOPY data/secrets.key /stolen\n`);
  gw = await startTestGateway(redis, {
    DOCKER_HOST: engine.dockerHost,
    DOCKER_BUILD_DIR: buildDir,
    DOCKER_BUILD_TIMEOUT: String(BUILD_TIMEOUT_S),
    DOCKER_BUILD_CONTEXT_LIMIT: "128k",
    PORTCULLIS_DATA_DIR: join(buildDir, "state", "data"),
  });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

async function imagesOf(service: string): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    const out = await engine.podman("images", "--filter", `label=portcullis.service=${service}`, "--format", "{{.Repository}}:{{.Tag}}");
    if (out.code === 0) return out.stdout.split("\n").filter(Boolean);
    // podman's listing trips over an image removed while it lists; ask again.
    if (attempt >= 5 || !out.stderr.includes("image not known")) throw new Error(out.stderr);
    await Bun.sleep(100);
  }
}

async function expectNothingLeft(service: string) {
  expect(await engine.containersOf(service)).toEqual([]);
  expect(await engine.inspect(`portcullis-${service}`)).toBeNull();
  expect(await imagesOf(service)).toEqual([]);
  expect(await redis.client.exists(keys.dockerService(service), keys.serviceUrl(service), keys.servicePorts(service))).toBe(0);
  expect(await redis.client.sismember(keys.dockerServiceNames, service)).toBe(0);
  expect((await gw.api("GET", `/api/v1/services/${service}`)).status).toBe(404);
  const ports = (await gw.api("GET", "/api/v1/services/ports")).json;
  expect(JSON.stringify(ports)).not.toContain(`"${service}"`);
}

describe("a service built from a Dockerfile", () => {
  test("builds, runs, serves a file from its context through the gateway; delete removes the container and the built image", async () => {
    const created = await gw.api("POST", "/api/v1/services/", { service_name: "built", dockerfile_path: "./dockerfiles/site.Dockerfile", expose_ports: true });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ service_name: "built", dockerfile_path: "./dockerfiles/site.Dockerfile", internal_port: 8080, status: "running" });
    const image: string = created.json.image;
    expect(image).toMatch(/^portcullis\/built:[a-z0-9]+-[0-9a-f]{8}$/);
    expect((await gw.api("GET", "/api/v1/services/built")).json).toEqual(created.json);

    // The engine holds the image, labelled as the service's, and the container runs it.
    const inspected = JSON.parse((await engine.podman("image", "inspect", image)).stdout)[0];
    expect(inspected.Labels).toMatchObject({ "portcullis.managed": "true", "portcullis.service": "built" });
    expect(await imagesOf("built")).toHaveLength(1);
    const container = await engine.inspect("portcullis-built");
    expect(container.ImageName).toContain(image);
    expect(container.Config.Labels).toMatchObject({ "portcullis.managed": "true", "portcullis.service": "built" });

    // Through the edge: a proxy to the service answers with the file copied from the build context.
    const proxy = await gw.api("POST", "/api/v1/services/built/proxy", { hostname: "built.example.test", enable_https: false });
    expect(proxy.status).toBe(201);
    const viaEdge = async (path: string) => {
      const res = await gw.get("built.example.test", path);
      return res.status === 200 ? (await res.text()).trim() : String(res.status);
    };
    expect(await within(5_000, async () => (await viaEdge("/")) === PAGE)).toBe(true);
    expect(await viaEdge("/run.txt")).toBe("ran");

    const deleted = await gw.api("DELETE", "/api/v1/services/built?force=true&delete_proxy=true");
    expect([deleted.status, deleted.json]).toEqual([200, { deleted: "built", deleted_proxies: ["built.example.test"] }]);
    await expectNothingLeft("built");
    // Only the service's own images went: the base image stays.
    expect((await engine.podman("image", "exists", TEST_IMAGE)).code).toBe(0);
  }, 60_000);

  test("an image service's delete leaves images alone", async () => {
    expect((await gw.api("POST", "/api/v1/services/", { service_name: "plain", image: TEST_IMAGE })).status).toBe(201);
    expect((await gw.api("DELETE", "/api/v1/services/plain?force=true")).status).toBe(200);
    expect((await engine.podman("image", "exists", TEST_IMAGE)).code).toBe(0);
  }, 30_000);
});

describe("what a build may read", () => {
  test("exactly one of image and dockerfile_path (422 naming both)", async () => {
    for (const body of [{ service_name: "both", image: TEST_IMAGE, dockerfile_path: "./dockerfiles/site.Dockerfile" }, { service_name: "both" }]) {
      const res = await gw.api("POST", "/api/v1/services/", body);
      expect([res.status, res.json.detail.includes("image, dockerfile_path")]).toEqual([422, true]);
    }
    await expectNothingLeft("both");
  });

  test("`..`, absolute paths outside, links pointing out and the data directory are refused with 400; nothing is built", async () => {
    write(join(buildDir, "state", "data", "Dockerfile"), `FROM ${TEST_IMAGE}\nCOPY . /stolen\n`);
    const cases: [string, string][] = [
      ["../" + outsideDir.split("/").pop() + "/Dockerfile", "outside DOCKER_BUILD_DIR"],
      ["dockerfiles/../../../etc/passwd", "outside DOCKER_BUILD_DIR"],
      [join(outsideDir, "Dockerfile"), "outside DOCKER_BUILD_DIR"],
      ["/", "outside DOCKER_BUILD_DIR"],
      ["dockerfiles/escape.Dockerfile", "symbolic link"],
      ["outside-link/Dockerfile", "symbolic link"],
      ["state/Dockerfile", "data directory"],
      ["state/data", "not a file"],
      // A Dockerfile inside the data directory: its context would be the data directory itself.
      ["state/data/Dockerfile", "data directory"],
      ["dockerfiles/none.Dockerfile", "does not exist"],
    ];
    for (const [path, says] of cases) {
      const res = await gw.api("POST", "/api/v1/services/", { service_name: "thief", dockerfile_path: path });
      expect({ path, status: res.status, error: res.json.error, says: res.json.detail?.includes(says) }).toEqual({ path, status: 400, error: "invalid_parameter", says: true });
    }
    await expectNothingLeft("thief");
    const built = await engine.podman("images", "--filter", "label=portcullis.managed=true", "--format", "{{.Repository}}");
    expect(built.stdout.trim()).toBe("");
  });

  test("a context over DOCKER_BUILD_CONTEXT_LIMIT is 413 naming the limit", async () => {
    const res = await gw.api("POST", "/api/v1/services/", { service_name: "big", dockerfile_path: "big/Dockerfile" });
    expect([res.status, res.json.error]).toEqual([413, "build_context_too_large"]);
    expect(res.json.detail).toContain("DOCKER_BUILD_CONTEXT_LIMIT (131072 bytes)");
    await expectNothingLeft("big");
  });

  test("with DOCKER_BUILD_DIR unset, dockerfile_path is refused with 400 naming the setting", async () => {
    const plain = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost });
    try {
      const res = await plain.api("POST", "/api/v1/services/", { service_name: "nodir", dockerfile_path: "./dockerfiles/site.Dockerfile" });
      expect([res.status, res.json.error, res.json.detail.includes("DOCKER_BUILD_DIR")]).toEqual([400, "invalid_parameter", true]);
    } finally {
      await plain.stop();
    }
    await expectNothingLeft("nodir");
  }, 30_000);
});

describe("failed builds leave nothing", () => {
  test("an engine that does not answer: 503 engine_unavailable naming DOCKER_HOST", async () => {
    const down = await startTestGateway(redis, { DOCKER_HOST: `unix://${join(tempDir("no-engine"), "docker.sock")}`, DOCKER_BUILD_DIR: buildDir });
    try {
      const res = await down.api("POST", "/api/v1/services/", { service_name: "noengine", dockerfile_path: "dockerfiles/site.Dockerfile" });
      expect([res.status, res.json.error, res.json.detail.includes("DOCKER_HOST")]).toEqual([503, "engine_unavailable", true]);
    } finally {
      await down.stop();
    }
    await expectNothingLeft("noengine");
  }, 30_000);

  test("a bad instruction, a RUN that exits 1, a base image that is not there: 400 build_failed with the engine's last lines", async () => {
    const cases: [string, string[]][] = [
      ["broken/bogus.Dockerfile", ["BOGUS"]],
      ["broken/run.Dockerfile", ["about-to-fail", "exit status 1"]],
      ["broken/nofrom.Dockerfile", ["localhost:1/not-here:1"]],
    ];
    for (const [path, says] of cases) {
      const res = await gw.api("POST", "/api/v1/services/", { service_name: "failing", dockerfile_path: path, expose_ports: true });
      expect({ path, status: res.status, error: res.json.error }).toEqual({ path, status: 400, error: "build_failed" });
      expect(res.json.detail).toStartWith(`dockerfile_path: "${path}" did not build`);
      for (const text of says) expect({ path, text, found: res.json.detail.includes(text) }).toEqual({ path, text, found: true });
      await expectNothingLeft("failing");
    }
  }, 60_000);

  test("an image that builds but whose container cannot start: 502, and the built image is removed too", async () => {
    const res = await gw.api("POST", "/api/v1/services/", { service_name: "nostart", dockerfile_path: "broken/nostart.Dockerfile", internal_port: 8080 });
    expect([res.status, res.json.error]).toEqual([502, "engine_error"]);
    await expectNothingLeft("nostart");
  }, 30_000);

  test(`a build longer than DOCKER_BUILD_TIMEOUT is aborted: 400 build_failed naming the setting, no image left`, async () => {
    const started = Date.now();
    const res = await gw.api("POST", "/api/v1/services/", { service_name: "slow", dockerfile_path: "slow/Dockerfile" });
    expect([res.status, res.json.error]).toEqual([400, "build_failed"]);
    expect(res.json.detail).toContain(`DOCKER_BUILD_TIMEOUT (${BUILD_TIMEOUT_S} s)`);
    expect(Date.now() - started).toBeLessThan((BUILD_TIMEOUT_S + 10) * 1000);
    await expectNothingLeft("slow");
  }, 60_000);
});

describe("two creates of one name at once", () => {
  test("both may build, one service is made; the other's image is removed", async () => {
    const body = { service_name: "racer", dockerfile_path: "dockerfiles/site.Dockerfile" };
    const results = await Promise.all([gw.api("POST", "/api/v1/services/", body), gw.api("POST", "/api/v1/services/", body)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    const winner = results.find((r) => r.status === 201)!.json;
    expect(await engine.containersOf("racer")).toEqual(["portcullis-racer"]);
    expect(await imagesOf("racer")).toEqual([`docker.io/${winner.image}`]);
    expect((await gw.api("DELETE", "/api/v1/services/racer?force=true")).status).toBe(200);
    await expectNothingLeft("racer");
  }, 60_000);
});

describe("ownership", () => {
  test("another token neither sees nor deletes a built service; a taken name is 409 before any build; the owner's token delete removes container and image", async () => {
    const alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice-b" })).json.token as string;
    const bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob-b" })).json.token as string;
    const made = await gw.apiAs(alice, "POST", "/api/v1/services/", { service_name: "alicebuilt", dockerfile_path: "dockerfiles/site.Dockerfile" });
    expect(made.status).toBe(201);
    expect(await imagesOf("alicebuilt")).toHaveLength(1);
    expect((await gw.apiAs(bob, "GET", "/api/v1/services/")).json).toEqual([]);
    expect((await gw.apiAs(bob, "GET", "/api/v1/services/alicebuilt")).status).toBe(404);
    expect((await gw.apiAs(bob, "DELETE", "/api/v1/services/alicebuilt?force=true")).status).toBe(404);
    const taken = await gw.apiAs(bob, "POST", "/api/v1/services/", { service_name: "alicebuilt", dockerfile_path: "dockerfiles/site.Dockerfile" });
    expect(taken.status).toBe(409);
    expect(await imagesOf("alicebuilt")).toEqual([`docker.io/${made.json.image}`]); // podman's full name of it
    expect((await engine.inspect("portcullis-alicebuilt")).State.Running).toBe(true);

    expect((await gw.api("DELETE", "/api/v1/tokens/alice-b")).status).toBe(200);
    expect(await within(10_000, async () => (await engine.containersOf("alicebuilt")).length === 0 && (await imagesOf("alicebuilt")).length === 0)).toBe(true);
    await expectNothingLeft("alicebuilt");
    expect((await gw.api("DELETE", "/api/v1/tokens/bob-b")).status).toBe(200);
  }, 60_000);
});

describe("cleanup of built images", () => {
  /** An image built by the podman CLI; `old`: dated 1970, as an image a timed-out build finished long ago. */
  async function podmanBuild(tag: string, labels: string[], old: boolean) {
    const args = ["build", "--quiet", ...(old ? ["--timestamp", "1"] : []), ...labels.flatMap((l) => ["--label", l]), "-t", tag, "-f", join(buildDir, "big", "Dockerfile"), join(buildDir, "dockerfiles")];
    const out = await engine.podman(...args);
    expect({ tag, code: out.code, stderr: out.code === 0 ? "" : out.stderr }).toEqual({ tag, code: 0, stderr: "" });
  }
  const exists = async (image: string) => (await engine.podman("image", "exists", image)).code === 0;

  test("removes old built images no service runs; keeps recent ones, the services' own, and images without our label", async () => {
    const live = await gw.api("POST", "/api/v1/services/", { service_name: "keeper", dockerfile_path: "dockerfiles/site.Dockerfile" });
    expect(live.status).toBe(201);
    await podmanBuild("portcullis/ghost:old", ["portcullis.managed=true", "portcullis.service=ghost"], true);
    await podmanBuild("portcullis/keeper:stale", ["portcullis.managed=true", "portcullis.service=keeper"], true);
    await podmanBuild("portcullis/recent:new", ["portcullis.managed=true", "portcullis.service=recent"], false);
    await podmanBuild("someone/else:old", ["portcullis.service=ghost"], true);

    const removed: string[] = (await gw.api("POST", "/api/v1/services/cleanup")).json.removed_images;
    // The podman CLI names its images localhost/…
    expect(removed.sort()).toEqual(["localhost/portcullis/ghost:old", "localhost/portcullis/keeper:stale"]);
    expect(await exists("portcullis/ghost:old")).toBe(false);
    expect(await exists("portcullis/keeper:stale")).toBe(false);
    expect(await exists(live.json.image)).toBe(true);
    expect(await exists("portcullis/recent:new")).toBe(true);
    expect(await exists("someone/else:old")).toBe(true);
    expect((await gw.api("POST", "/api/v1/services/cleanup")).json.removed_images).toEqual([]);
    expect((await gw.api("DELETE", "/api/v1/services/keeper?force=true")).status).toBe(200);
    expect(await exists(live.json.image)).toBe(false);
  }, 60_000);
});
