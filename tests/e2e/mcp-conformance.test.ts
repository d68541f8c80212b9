/**
 * The official MCP conformance runner (`@modelcontextprotocol/conformance`
 * 0.1.16, its server scenarios) against the reference "everything" server
 * (`@modelcontextprotocol/server-everything`, Streamable HTTP), once directly
 * and once through the gateway with auth on: every scenario must end the
 * same way both ways, check by check. The gateway may only add protection:
 * its Origin check makes the DNS-rebinding scenario pass where the server
 * alone fails half of it.
 *
 * The runner takes no headers, so a token reaches the gateway through a
 * small forwarder on loopback that adds `Authorization: Bearer` to each
 * request (tests/helpers/mcp-network.ts); the token is a test token
 * (`POST /api/v1/oauth/test-tokens`). The runner needs Node 22+ (fs.globSync)
 * and runs on Bun here, whose Node APIs have it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ROOT } from "../helpers/gateway-process";
import { startMcpDeployment, within, type McpDeployment } from "../helpers/mcp-deployment";
import { startBearerForwarder, type BearerForwarder } from "../helpers/mcp-network";
import { preChosenPort } from "../helpers/ports";
import { tempDir } from "../helpers/temp";

const HOST = "everything.example.test";
const CONFORMANCE = join(ROOT, "node_modules/@modelcontextprotocol/conformance/dist/index.js");
const EVERYTHING = join(ROOT, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");

let deployment: McpDeployment;
let everything: Subprocess;
let everythingUrl: string;
let forwarder: BearerForwarder;

/** scenario → "check-id: STATUS" lines, sorted (INFO records of the traffic left out). */
type Outcome = Record<string, string[]>;

/** Runs every active server scenario against `url` and reads the checks each one saved. */
async function conformance(url: string): Promise<Outcome> {
  const out = tempDir("conformance");
  const child = Bun.spawn([process.execPath, CONFORMANCE, "server", "--url", url, "-o", out], { cwd: out, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const [, stdout] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  clearTimeout(timer);
  expect(stdout).toContain("=== SUMMARY ===");
  const outcome: Outcome = {};
  for (const dir of readdirSync(out)) {
    const scenario = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(dir)?.[1];
    if (!scenario || !existsSync(join(out, dir, "checks.json"))) continue;
    const checks = JSON.parse(readFileSync(join(out, dir, "checks.json"), "utf8")) as Array<{ id: string; status: string }>;
    outcome[scenario] = checks.filter((c) => c.status !== "INFO").map((c) => `${c.id}: ${c.status}`).sort();
  }
  return outcome;
}

beforeAll(async () => {
  deployment = await startMcpDeployment([HOST]);
  // It listens on the port it is given (PORT; it cannot report one it picked).
  const port = preChosenPort();
  everything = Bun.spawn(["node", EVERYTHING, "streamableHttp"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PORT: String(port) }, stdout: "ignore", stderr: "pipe" });
  everythingUrl = `http://127.0.0.1:${port}`;
  await within(15_000, "the everything server listening", async () => (await fetch(`${everythingUrl}/mcp`, { method: "POST" }).catch(() => null)) !== null);

  await deployment.protect(HOST, everythingUrl);
  const minted = await deployment.api("POST", "/api/v1/oauth/test-tokens", { resource: `https://${HOST}/mcp`, username: "alice" });
  expect(minted.status).toBe(201);
  forwarder = startBearerForwarder({ host: HOST, httpsPort: deployment.gateway.httpsPort, ca: deployment.gatewayCa, token: minted.json.access_token });
  // The runner's own requests carry the Origin of the URL it was given (the forwarder's): a local tool the operator allows.
  const policy = await deployment.api("POST", `/api/v1/proxy/targets/${HOST}/mcp-policy`, { mcp_allowed_origins: [forwarder.url] });
  expect(policy.status).toBe(200);
}, 120_000);

afterAll(async () => {
  forwarder?.stop();
  everything?.kill();
  await everything?.exited;
  await deployment?.stop();
});

describe("the MCP conformance server scenarios, directly and through the gateway", () => {
  test("every scenario ends the same way through the gateway as directly, except that DNS-rebinding protection passes whole", async () => {
    const direct = await conformance(`${everythingUrl}/mcp`);
    const gated = await conformance(`${forwarder.url}/mcp`);

    expect(Object.keys(direct).length).toBeGreaterThanOrEqual(25);
    expect(Object.keys(gated).sort()).toEqual(Object.keys(direct).sort());
    // Without the gateway, the server lets a request with a foreign Host and Origin through…
    expect(direct["dns-rebinding-protection"]).toEqual(["localhost-host-rebinding-rejected: FAILURE", "localhost-host-valid-accepted: SUCCESS"]);
    // …through it, the foreign Origin is refused (403) and the allowed one served.
    expect(gated["dns-rebinding-protection"]).toEqual(["localhost-host-rebinding-rejected: SUCCESS", "localhost-host-valid-accepted: SUCCESS"]);
    const { "dns-rebinding-protection": _direct, ...others } = direct;
    const { "dns-rebinding-protection": _gated, ...gatedOthers } = gated;
    expect(gatedOthers).toEqual(others);
    // Some scenarios pass (the server is not meant to pass them all: it predates some of them), and they went through with the token.
    expect(Object.values(others).flat().filter((c) => c.endsWith(": SUCCESS")).length).toBeGreaterThanOrEqual(10);
    expect(forwarder.exchanges.filter((e) => e.status === 401)).toEqual([]);
    expect(forwarder.exchanges.some((e) => e.method === "POST" && e.status === 200)).toBe(true);
  }, 120_000);
});
