/**
 * `portcullis service create --expose` and `portcullis service port-list|port-add|port-remove`
 * against a gateway and a real Docker API (podman), and the
 * `just service-create-exposed` / `service-port-add|remove|list` recipes (dry run).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { serviceCreateBody } from "../../src/cli/commands/service";
import { portAddBody } from "../../src/cli/commands/service-ports";
import { cliSession } from "../helpers/cli-program";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { within } from "../helpers/within";

const HOME = tempDir("service-port-cli-home");

/** The body served at url, retried while the container's server starts (a started container may not listen yet). */
async function answer(url: string): Promise<string | null> {
  for (let i = 0; i < 50; i++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return (await res.text()).trim();
    } catch {}
    await Bun.sleep(100);
  }
  return null;
}

test("--expose becomes expose_ports: true", () => {
  expect(serviceCreateBody("web", "img:1", { port: "8080", expose: true })).toEqual({ service_name: "web", image: "img:1", internal_port: 8080, expose_ports: true });
});

test("port-add flags become the request; bad numbers name the argument", () => {
  expect(portAddBody("8080", {})).toEqual({ name: "port-8080", container: 8080 });
  expect(portAddBody("8080", { host: "18080", name: "web", bind: "0.0.0.0", protocol: "tcp", sourceToken: "s", description: "d" })).toEqual({
    name: "web", container: 8080, host: 18080, bind: "0.0.0.0", protocol: "tcp", source_token: "s", description: "d",
  });
  expect(() => portAddBody("http", {})).toThrow("container port");
  expect(() => portAddBody("8080", { host: "x" })).toThrow("--host");
});

describe("against a gateway and a Docker engine", () => {
  let engine: TestDockerEngine;
  let redis: TestRedis;
  let gw: TestGateway;
  const apiUrl = () => `http://127.0.0.1:${gw.gateway.apiPort}`;
  const admin = cliSession(apiUrl, GATEWAY_ADMIN, HOME);

  beforeAll(async () => {
    [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
    gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost });
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([engine?.stop(), redis?.stop()]);
  });

  test("create --expose allocates a port; port-list shows it in every format; port-add/port-remove; another token is told not found; delete frees it", async () => {
    const created = await admin.json("service", "create", "cli-exposed", TEST_IMAGE, "--port", "8080", "--expose", "--env", "GREETING=exposed");
    const ports = await admin.json("service", "port-list", "cli-exposed");
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatchObject({ service_name: "cli-exposed", port_name: "http", container_port: 8080, bind_address: "127.0.0.1" });
    const host = ports[0].host_port as number;
    expect(created.url).toBe(`http://127.0.0.1:${host}`);
    expect(await answer(created.url)).toBe("hello from exposed");

    const table = await admin.ok("service", "port-list", "cli-exposed");
    expect(table).toContain(String(host));
    expect(table).toContain("http");
    expect(parseYaml(await admin.ok("--format", "yaml", "service", "port-list", "cli-exposed"))[0].host_port).toBe(host);
    const csv = await admin.ok("--format", "csv", "service", "port-list", "cli-exposed");
    expect(csv.split("\n")[0]).toContain("Port");
    expect(csv).toContain(String(host));

    const otherToken = (await gw.api("POST", "/api/v1/tokens/", { name: "other" })).json.token as string;
    const other = cliSession(apiUrl, otherToken, HOME);
    const hidden = await other.cli("service", "port-list", "cli-exposed");
    expect(hidden.code).not.toBe(0);
    expect(hidden.stderr).toContain("not found");

    const hiddenAdd = await other.cli("service", "port-add", "cli-exposed", "8080");
    expect(hiddenAdd.code).not.toBe(0);
    expect(hiddenAdd.stderr).toContain("not found");

    const added = await admin.json("service", "port-add", "cli-exposed", "8080", "--name", "alt", "--description", "second");
    expect(added).toMatchObject({ service_name: "cli-exposed", port_name: "alt", container_port: 8080, description: "second" });
    expect(await answer(`http://127.0.0.1:${added.host_port}/`)).toBe("hello from exposed");
    expect((await admin.json("service", "port-list", "cli-exposed")).map((p: any) => p.port_name).sort()).toEqual(["alt", "http"]);
    const refused = await admin.cli("service", "port-add", "cli-exposed", "8080", "--host", String(host));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(String(host));
    // port-update: the description in place; a source token makes the gateway serve the port and ask for it.
    const described = await admin.json("service", "port-update", "cli-exposed", "alt", "--description", "renamed");
    expect(described).toMatchObject({ port_name: "alt", description: "renamed", require_token: false });
    const guarded = await admin.json("service", "port-update", "cli-exposed", "alt", "--source-token", "s3cret-port-token");
    expect(guarded).toMatchObject({ port_name: "alt", require_token: true });
    expect(JSON.stringify(guarded)).not.toContain("s3cret-port-token");
    expect(await within(5_000, async () => (await fetch(`http://127.0.0.1:${added.host_port}/`).then((r) => r.status).catch(() => 0)) === 401)).toBe(true);
    const nothing = await admin.cli("service", "port-update", "cli-exposed", "alt");
    expect({ code: nothing.code, says: nothing.stderr.includes("nothing to change") }).toEqual({ code: 1, says: true });
    expect(await admin.json("service", "port-remove", "cli-exposed", "alt")).toEqual({ released: "alt", host_port: added.host_port });
    const missing = await admin.cli("service", "port-remove", "cli-exposed", "alt");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("not found");

    await admin.json("service", "delete", "cli-exposed", "--force");
    expect((await gw.api("POST", "/api/v1/services/ports/check", { port: host })).json.available).toBe(true);
  }, 60_000);
});

describe.skipIf(!justBinary)("just service-create-exposed / service-port-add|remove|list (dry run)", () => {
  const dryRun = (...args: string[]) => justDryRun(HOME, ["--format", "service"], ...args);
  const cases: [string[], string][] = [
    [["service-create-exposed", "web", "img:1", "8080"], "service create 'web' 'img:1' --port '8080' --expose"],
    [["service-create-exposed", "web", "img:1", "8080", "0.0.0.0", "64m", "0.5", "tok"], "--token 'tok' service create 'web' 'img:1' --port '8080' --expose --bind-address '0.0.0.0' --memory '64m' --cpu '0.5'"],
    [["service-port-list", "web"], "service port-list 'web'"],
    [["service-port-add", "web", "18080"], "service port-add 'web' '18080' --host '18080'"],
    [["service-port-add", "web", "18080", "0.0.0.0", "sek", "tok"], "--token 'tok' service port-add 'web' '18080' --host '18080' --bind '0.0.0.0' --source-token 'sek'"],
    [["service-port-remove", "web", "port-18080"], "service port-remove 'web' 'port-18080'"],
    [["service-port-remove", "web", "http", "tok"], "--token 'tok' service port-remove 'web' 'http'"],
    [["service-port-list", "web", "tok"], "--token 'tok' service port-list 'web'"],
    [["service-port-update", "web", "http", "0.0.0.0"], "service port-update 'web' 'http' --bind '0.0.0.0'"],
    [["service-port-update", "web", "http", "", "sek", "tok"], "--token 'tok' service port-update 'web' 'http' --source-token 'sek'"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await dryRun(...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }
});
