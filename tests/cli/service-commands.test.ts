/**
 * `portcullis service register|list-external|show-external|update-external|
 * unregister|list-all` against a real gateway (in process, real Redis), with
 * two tokens, in every output format; and the `service-*` just recipes'
 * command lines.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { externalServiceUpdateBody } from "../../src/cli/commands/service-external";
import { cliSession, runProgram } from "../helpers/cli-program";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const HOME = tempDir("home");
let redis: TestRedis;
let node: TestGateway;
const apiUrl = () => `http://127.0.0.1:${node.gateway.apiPort}`;
const admin = cliSession(apiUrl, GATEWAY_ADMIN, HOME);

beforeAll(async () => {
  redis = await startTestRedis();
  node = await startTestGateway(redis);
});
afterAll(async () => {
  await node?.stop();
  await redis?.stop();
});

describe("against the gateway", () => {
  test("register, list, show, update, unregister; table, json, yaml, csv", async () => {
    const created = await admin.json("service", "register", "billing", "https://billing.example.com", "--description", "Billing API");
    expect(created).toMatchObject({ service_name: "billing", service_type: "external", target_url: "https://billing.example.com", description: "Billing API", routing_enabled: true });

    const table = await admin.ok("service", "list-external");
    expect(table).toContain("Name");
    expect(table).toContain("billing");
    expect(table).toContain("https://billing.example.com");
    expect((await admin.json("service", "list-external")).map((s: any) => s.service_name)).toEqual(["billing"]);
    expect(parseYaml(await admin.ok("--format", "yaml", "service", "show-external", "billing")).description).toBe("Billing API");
    const csv = (await admin.ok("--format", "csv", "service", "list-external")).trim().split("\n");
    expect(csv[0]).toContain("Name");
    expect(csv[1]).toContain("billing");

    const updated = await admin.json("service", "update-external", "billing", "http://10.0.0.9:8080");
    expect(updated.target_url).toBe("http://10.0.0.9:8080");
    expect((await admin.json("service", "update-external", "billing", "--no-routing")).routing_enabled).toBe(false);
    expect((await admin.json("service", "update-external", "billing", "--routing", "--description", "")).description).toBe("");
    const nothing = await admin.cli("service", "update-external", "billing");
    expect([nothing.code, nothing.stderr]).toEqual([1, expect.stringContaining("nothing to change")]);

    const all = await admin.json("service", "list-all");
    expect(all.map((s: any) => [s.service_name, s.service_type])).toEqual([["billing", "external"], ["api", "internal"]]);
    expect((await admin.json("service", "list-all", "--type", "internal"))[0]).toEqual({
      service_name: "api",
      service_type: "internal",
      url: `http://127.0.0.1:${node.gateway.apiPort}`,
      status: "internal",
      owner: null,
    });
    const badType = await admin.cli("service", "list-all", "--type", "vm");
    expect([badType.code, badType.stderr]).toEqual([1, expect.stringContaining("--type")]);

    expect(await admin.json("service", "unregister", "billing")).toEqual({ deleted: "billing" });
    expect(await admin.ok("service", "list-external")).toContain("No external services yet");
  });

  test("errors reach the user: a bad name, a reserved name, the internal api, and a service in use (--force deletes it)", async () => {
    const bad = await admin.cli("service", "register", "Bad_Name", "http://a.example");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("service_name");
    const reserved = await admin.cli("service", "register", "api", "http://a.example");
    expect(reserved.stderr).toContain("reserved");
    const internal = await admin.cli("service", "unregister", "api");
    expect(internal.stderr).toContain("internal service");

    await admin.ok("service", "register", "used", "http://127.0.0.1:9");
    expect((await node.api("POST", "/api/v1/routes/", { route_id: "uses-it", path_pattern: "/u/", target_type: "service", target_value: "used" })).status).toBe(201);
    const refused = await admin.cli("service", "unregister", "used");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("uses-it");
    expect(refused.stderr).toContain("portcullis service unregister used --force");
    expect(await admin.json("service", "unregister", "used", "--force")).toEqual({ deleted: "used" });
    await node.api("DELETE", "/api/v1/routes/uses-it");
  });

  test("two tokens: each sees only their own; the admin sees both", async () => {
    const alice = (await node.api("POST", "/api/v1/tokens/", { name: "cli-alice" })).json.token as string;
    const bob = (await node.api("POST", "/api/v1/tokens/", { name: "cli-bob" })).json.token as string;
    const asAlice = cliSession(apiUrl, alice, HOME);
    const asBob = cliSession(apiUrl, bob, HOME);
    await asAlice.ok("service", "register", "alice-svc", "http://10.0.0.1");
    await asBob.ok("service", "register", "bob-svc", "http://10.0.0.2");
    expect((await asAlice.json("service", "list-external")).map((s: any) => s.service_name)).toEqual(["alice-svc"]);
    expect((await asBob.json("service", "list-all", "--type", "external")).map((s: any) => [s.service_name, s.owner])).toEqual([["bob-svc", "cli-bob"]]);
    const notHers = await asBob.cli("service", "show-external", "alice-svc");
    expect([notHers.code !== 0, notHers.stderr]).toEqual([true, expect.stringContaining("not found")]);
    expect((await asBob.cli("service", "unregister", "alice-svc")).code).not.toBe(0);
    expect((await admin.json("service", "list-external")).map((s: any) => s.service_name)).toEqual(["alice-svc", "bob-svc"]);
    const anonymous = await runProgram(apiUrl(), undefined, ["service", "list-external"], tempDir("empty-home"));
    expect(anonymous.code).not.toBe(0);
  });

  test("update body: only what was given", () => {
    expect(externalServiceUpdateBody(undefined, {})).toEqual({});
    expect(externalServiceUpdateBody("http://x", { description: "", routing: false })).toEqual({ target_url: "http://x", description: "", routing_enabled: false });
  });
});

describe.skipIf(!justBinary)("just recipes (dry run)", () => {
  const dryRun = (...args: string[]) => justDryRun(HOME, ["service"], ...args);
  const cases: [string[], string][] = [
    [["service-register", "billing", "https://b.example.com"], "service register 'billing' 'https://b.example.com'"],
    [["service-register", "billing", "https://b.example.com", "Billing API", "tok"], "--token 'tok' service register 'billing' 'https://b.example.com' --description 'Billing API'"],
    [["service-list-external"], "service list-external"],
    [["service-list-external", "tok"], "--token 'tok' service list-external"],
    [["service-show-external", "billing", "tok"], "--token 'tok' service show-external 'billing'"],
    [["service-update-external", "billing", "http://10.0.0.9"], "service update-external 'billing' 'http://10.0.0.9'"],
    [["service-update-external", "billing", "http://10.0.0.9", "new", "tok"], "--token 'tok' service update-external 'billing' 'http://10.0.0.9' --description 'new'"],
    [["service-unregister", "billing"], "service unregister 'billing'"],
    [["service-unregister", "billing", "tok", "true"], "--token 'tok' service unregister 'billing' --force"],
    [["service-list-all"], "service list-all"],
    [["service-list-all", "external", "tok"], "--token 'tok' service list-all --type external"],
  ];
  for (const [args, expected] of cases) {
    test(args.join(" "), async () => {
      const run = await dryRun(...args);
      expect([run.code, run.line]).toEqual([0, expected]);
    });
  }

  test("service-register-oauth registers the issuer (OAUTH_ISSUER, else https://auth.<BASE_DOMAIN>; a .env may set them) as oauth", async () => {
    const run = await dryRun("service-register-oauth", "tok");
    expect(run.code).toBe(0);
    expect(run.line).toMatch(/^--token 'tok' service register oauth 'https:\/\/[^']+' --description 'OAuth 2.1 authorization server'$/);
  });

  test("bad values stop before the CLI runs", async () => {
    const badType = await dryRun("service-list-all", "vm");
    expect(badType.code).not.toBe(0);
    expect(badType.stderr).toContain("type: expected docker, external or internal");
    const badForce = await dryRun("service-unregister", "billing", "", "yes");
    expect(badForce.code).not.toBe(0);
    expect(badForce.stderr).toContain("force: expected true or false");
  });
});
