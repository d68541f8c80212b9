/**
 * The MCP Inspector's command line (`@modelcontextprotocol/inspector` 2.12.0,
 * `npx @modelcontextprotocol/inspector --cli`), unpatched, in its own Node
 * process, listing and calling tools through the gateway with a bearer token
 * that `portcullis oauth test-tokens` minted (no sign-in: the way to try a
 * protected server from a terminal). Its HTTP goes through HTTPS_PROXY (a
 * CONNECT proxy to the gateway, since no DNS here names it), and it trusts
 * the gateway's certificate through NODE_EXTRA_CA_CERTS.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT } from "../helpers/gateway-process";
import { startMcpDeployment, type McpDeployment } from "../helpers/mcp-deployment";
import { startConnectProxy, type ConnectProxy } from "../helpers/mcp-network";
import { startMcpServer, type TestMcpServer } from "../helpers/mcp-server";
import { tempDir } from "../helpers/temp";

const HOST = "mcp.example.test";
const MCP_URL = `https://${HOST}/mcp`;
const INSPECTOR = join(ROOT, "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");

let deployment: McpDeployment;
let backend: TestMcpServer;
let proxy: ConnectProxy;
let home: string;
/**
 * The Inspector needs Node 22.19+ (its package's engines; on older Node its
 * bundled undici fails to load as soon as a proxy is set). Where `node` is
 * older, as Debian 13's 20.x here, it runs on Bun, which it supports as is.
 */
let runtime = "node";

/** `npx @modelcontextprotocol/inspector --cli <args>`: exit code and output. */
async function inspector(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([runtime, INSPECTOR, "--cli", ...args], {
    cwd: home,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, HTTPS_PROXY: proxy.url, NO_PROXY: "localhost,127.0.0.1", NODE_EXTRA_CA_CERTS: deployment.gatewayCaFile },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** `portcullis oauth test-tokens <url> --username alice [--scope …]`, as docs/mcp.md shows it; the token. */
async function testToken(scope?: string): Promise<string> {
  const minted = await deployment.cli(["--format", "json", "oauth", "test-tokens", MCP_URL, "--username", "alice", ...(scope ? ["--scope", scope] : [])]);
  expect(minted.code).toBe(0);
  return JSON.parse(minted.stdout).access_token;
}

beforeAll(async () => {
  deployment = await startMcpDeployment([HOST]);
  backend = await startMcpServer();
  await deployment.protect(HOST, backend.url);
  proxy = await startConnectProxy(".example.test", deployment.gateway.httpsPort);
  home = tempDir("inspector-home");
  const nodeVersion = await new Response(Bun.spawn(["node", "--version"], { stdout: "pipe" }).stdout).text();
  if (Number(/^v(\d+)/.exec(nodeVersion)?.[1] ?? 0) < 22) runtime = process.execPath;
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await deployment?.stop();
  await backend?.stop();
});

describe("MCP Inspector 2.12.0 --cli through the gateway", () => {
  test("tools/list and tools/call with --header 'Authorization: Bearer <test token>'; the backend sees alice", async () => {
    const bearer = `Authorization: Bearer ${await testToken()}`;
    const listed = await inspector([MCP_URL, "--transport", "http", "--header", bearer, "--method", "tools/list", "--format", "json"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).result.tools.map((t: { name: string }) => t.name).sort()).toEqual(["add", "whoami"]);

    const called = await inspector([MCP_URL, "--transport", "http", "--header", bearer, "--method", "tools/call", "--tool-name", "whoami", "--format", "json"]);
    expect(called.code, called.stderr).toBe(0);
    expect(JSON.parse(called.stdout).result.content[0].text).toBe("alice");
    expect(backend.requests.at(-1)!.headers["x-auth-user"]).toBe("alice");
    expect(proxy.tunnels.every((t) => t === `${HOST}:443`)).toBe(true);
  }, 60_000);

  test("without a token (--stored-auth-only: no interactive sign-in), it stops at the gateway's 401 and says authorization is required", async () => {
    // Only what the inspector sends counts: set-up's own probe may have reached the backend before auth was on.
    const seenBefore = backend.requests.length;
    const refused = await inspector([MCP_URL, "--transport", "http", "--stored-auth-only", "--method", "tools/list", "--format", "json"]);
    expect(refused.code).not.toBe(0);
    const error = JSON.parse(refused.stderr).error;
    expect(error.code).toBe("auth_required");
    expect(error.message).toContain("this resource needs a bearer token");
    expect(backend.requests.slice(seenBefore)).toEqual([]);
  }, 60_000);

  test("a per-tool scope: `add` needs calc:write; a token without it gets the 403, one minted with it gets 42", async () => {
    expect((await deployment.api("POST", `/api/v1/proxy/targets/${HOST}/mcp-policy`, { mcp_tool_scopes: { add: ["calc:write"] } })).status).toBe(200);
    const args = (token: string) => [MCP_URL, "--transport", "http", "--header", `Authorization: Bearer ${token}`, "--method", "tools/call", "--tool-name", "add", "--tool-arg", "a=2", "b=40", "--format", "json"];
    let refused = await inspector(args(await testToken()));
    for (let i = 0; i < 20 && refused.code === 0; i++) {
      await Bun.sleep(50);
      refused = await inspector(args(await testToken()));
    }
    expect(refused.code).not.toBe(0);
    // The gateway's 403 insufficient_scope, as the Inspector words it.
    expect(JSON.parse(refused.stdout || refused.stderr).error.message).toBe('Insufficient scope: required "calc:write"');

    const allowed = await inspector(args(await testToken("mcp:read mcp:write calc:write")));
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout).result.content[0].text).toBe("42");
  }, 60_000);
});
