/**
 * The pure checks a Docker service's settings go through on create and on
 * update: the first problem is a 400 invalid_parameter naming its field.
 */
import { describe, expect, test } from "bun:test";
import { ApiError } from "../../src/core/errors";
import { checkNetworks, checkServiceSettings, containerSpec, MAX_NETWORKS } from "../../src/services/docker-service-settings";

function refusal(run: () => unknown): { code: string; detail: string } | null {
  try {
    run();
    return null;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { code: error.code, detail: error.detail };
  }
}

describe("checkServiceSettings", () => {
  test("defaults and units: no limits, empty environment and labels, 127.0.0.1, no networks", () => {
    expect(checkServiceSettings({ image: "localhost/app:1" })).toEqual({
      image: "localhost/app:1",
      internal_port: undefined,
      memory_limit: null,
      cpu_limit: null,
      environment: {},
      command: null,
      labels: {},
      bind_address: "127.0.0.1",
      networks: [],
      memoryBytes: null,
      nanoCpus: null,
    });
    const full = checkServiceSettings({ image: "app:2", internal_port: 3000, memory_limit: "512m", cpu_limit: 1.5, environment: { A_B: "1" }, command: ["/bin/serve"], labels: { team: "x" }, bind_address: "0.0.0.0", networks: ["backend", "db.net"] });
    expect(full).toMatchObject({ memoryBytes: 512 * 1024 ** 2, nanoCpus: 1_500_000_000, internal_port: 3000, networks: ["backend", "db.net"] });
    // null (an update removing a limit or the command) is the same as absent.
    expect(checkServiceSettings({ image: "app:2", memory_limit: null, cpu_limit: null, command: null })).toMatchObject({ memoryBytes: null, nanoCpus: null, command: null });
  });

  test("each bad field is refused naming it", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ image: "Not An Image" }, "image"],
      [{ image: "a", memory_limit: "1k" }, "memory_limit"],
      [{ image: "a", cpu_limit: 5000 }, "cpu_limit"],
      [{ image: "a", environment: { "1X": "v" } }, "environment"],
      [{ image: "a", labels: { "portcullis.managed": "false" } }, "labels"],
      [{ image: "a", command: ["/bin/x", ""] }, "command"],
      [{ image: "a", bind_address: "::" }, "bind_address"],
      [{ image: "a", internal_port: 0 }, "internal_port"],
      [{ image: "a", networks: ["none"] }, "networks"],
    ];
    for (const [input, field] of cases) {
      const refused = refusal(() => checkServiceSettings(input as never));
      expect({ input, code: refused?.code, named: refused?.detail.startsWith(field) }).toEqual({ input, code: "invalid_parameter", named: true });
    }
  });
});

describe("checkNetworks", () => {
  test("names, host and none, duplicates, count", () => {
    expect(checkNetworks(["a", "b_c", "d.e-f"])).toEqual(["a", "b_c", "d.e-f"]);
    for (const bad of [["host"], ["none"], ["-lead"], ["has space"], ["x".repeat(129)], ["a", "a"], Array.from({ length: MAX_NETWORKS + 1 }, (_, i) => `n${i}`)]) {
      expect(refusal(() => checkNetworks(bad))?.code).toBe("invalid_parameter");
    }
  });
});

describe("containerSpec", () => {
  test("the spec carries the limits in engine units, the networks, and the gateway's labels beside the user's", () => {
    const settings = checkServiceSettings({ image: "app:1", labels: { team: "x" }, networks: ["backend"], memory_limit: "64m" });
    const spec = containerSpec("web", "portcullis-web", settings, 8080, []);
    expect(spec).toMatchObject({ name: "portcullis-web", image: "app:1", internalPort: 8080, bindAddress: "127.0.0.1", ports: [], memoryBytes: 64 * 1024 ** 2, networks: ["backend"] });
    expect(spec.labels).toEqual({ team: "x", "portcullis.managed": "true", "portcullis.service": "web" });
  });
});
