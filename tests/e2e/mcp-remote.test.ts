/**
 * `mcp-remote` 0.15.1 (the stdio↔HTTP bridge that desktop clients such as
 * Claude Desktop run with `npx mcp-remote <url>`), unpatched, in its own
 * Node process, driven as a desktop client drives it: JSON-RPC lines on its
 * stdin, answers on its stdout.
 *
 * Its environment is a user's machine pointed at the gateway:
 * - HTTPS_PROXY (with its --enable-proxy) is a CONNECT proxy that tunnels
 *   *.example.test:443 to the gateway, since no DNS here names it; the TLS
 *   inside the tunnel is mcp-remote's own, checked against
 *   NODE_EXTRA_CA_CERTS (the gateway's certificate), as its README advises
 *   for private CAs;
 * - BROWSER names the "browser" xdg-open starts: a script that hands the
 *   URL to this test, whose browser signs alice in at the GitHub stand-in,
 *   approves the consent page and lands on mcp-remote's callback port.
 *
 * It registers (DCR), signs in, calls tools, reuses its stored tokens, steps
 * up to a scope a tool needs (it asks for the union of scopes with the same
 * registration), and also signs in with a client metadata document.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { gatewayFetch, TestBrowser } from "../helpers/mcp-client";
import { ISSUER, startMcpDeployment, within, type McpDeployment } from "../helpers/mcp-deployment";
import { startConnectProxy, type ConnectProxy } from "../helpers/mcp-network";
import { startMcpServer, type TestMcpServer } from "../helpers/mcp-server";
import { ROOT } from "../helpers/gateway-process";
import { startClientMetadataServer } from "../helpers/mcp-client-metadata";
import { preChosenPort } from "../helpers/ports";
import { tempDir } from "../helpers/temp";

const HOST = "mcp.example.test";
const MCP_URL = `https://${HOST}/mcp`;
const MCP_REMOTE = join(ROOT, "node_modules/mcp-remote/dist/proxy.js");

let deployment: McpDeployment;
let backend: TestMcpServer;
let proxy: ConnectProxy;
let home: string;
let openedFile: string;
let browserScript: string;

/** One mcp-remote process and the JSON-RPC conversation on its stdio. */
class McpRemote {
  private readonly child: Subprocess<"pipe", "pipe", "pipe">;
  private stdout = "";
  stderr = "";

  /** `userHome`: where it keeps its registrations and tokens (~/.mcp-auth). */
  constructor(args: string[], userHome = home) {
    this.child = Bun.spawn(["node", MCP_REMOTE, MCP_URL, ...args], {
      cwd: userHome,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: userHome,
        MCP_REMOTE_CONFIG_DIR: join(userHome, ".mcp-auth"),
        HTTPS_PROXY: proxy.url,
        NO_PROXY: "localhost,127.0.0.1",
        NODE_EXTRA_CA_CERTS: deployment.gatewayCaFile,
        BROWSER: browserScript,
      },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    void this.pump(this.child.stdout, (text) => (this.stdout += text));
    void this.pump(this.child.stderr, (text) => (this.stderr += text));
  }

  private async pump(stream: ReadableStream<Uint8Array>, add: (text: string) => void) {
    const decoder = new TextDecoder();
    for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  }

  send(message: Record<string, unknown>): void {
    this.child.stdin.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n");
    this.child.stdin.flush();
  }

  /** The answer to request `id`, once mcp-remote writes it. */
  async answer(id: number, timeoutMs = 20_000): Promise<Record<string, any>> {
    let found: Record<string, any> | undefined;
    await within(timeoutMs, `mcp-remote's answer to request ${id}`, async () => {
      found = this.stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, any>)
        .find((message) => message.id === id && ("result" in message || "error" in message));
      if (!found && this.child.exitCode !== null) throw new Error(`mcp-remote exited ${this.child.exitCode}:\n${this.stderr.slice(-3000)}`);
      return found !== undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- mcp-remote stderr ---\n${this.stderr.slice(-3000)}`);
    });
    return found!;
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    this.child.kill("SIGTERM");
    await this.child.exited;
  }
}

/** Every URL the "browser" was asked to open, in order. */
const openedUrls = (): string[] => (existsSync(openedFile) ? readFileSync(openedFile, "utf8").trim().split("\n") : []);

const INITIALIZE = { id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "desktop-client-stand-in", version: "1.0.0" } } };

beforeAll(async () => {
  deployment = await startMcpDeployment([HOST]);
  backend = await startMcpServer();
  await deployment.protect(HOST, backend.url);
  proxy = await startConnectProxy(".example.test", deployment.gateway.httpsPort);
  home = tempDir("mcp-remote-home");
  openedFile = join(home, "opened-urls.txt");
  browserScript = join(home, "browser.sh");
  writeFileSync(browserScript, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${openedFile}'\n`);
  chmodSync(browserScript, 0o755);
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await deployment?.stop();
  await backend?.stop();
});

describe("mcp-remote 0.15.1 through the gateway", () => {
  test("first run: it registers, opens the browser at /authorize; once alice signs in and approves, initialize, tools/list and tools/call answer on its stdout", async () => {
    const remote = new McpRemote(["--enable-proxy", "--transport", "http-only"]);
    try {
      remote.send(INITIALIZE);
      // Its browser: the URL xdg-open was asked to open.
      await within(20_000, "mcp-remote opening the browser", async () => existsSync(openedFile)).catch((err: Error) => {
        throw new Error(`${err.message}\n${remote.stderr.slice(-3000)}`);
      });
      const authorizationUrl = new URL(readFileSync(openedFile, "utf8").trim().split("\n")[0]!);
      expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(`${ISSUER}/authorize`);
      expect(authorizationUrl.searchParams.get("resource")).toBe(MCP_URL);
      expect(authorizationUrl.searchParams.get("code_challenge_method")).toBe("S256");
      const redirectUri = new URL(authorizationUrl.searchParams.get("redirect_uri")!);
      expect(redirectUri.hostname).toBe("localhost");

      const browser = new TestBrowser(gatewayFetch(deployment.route));
      const landed = await browser.open(authorizationUrl);
      expect(browser.consentPages).toHaveLength(1);
      expect(browser.visited.at(-1)!.startsWith(`${redirectUri.origin}${redirectUri.pathname}?code=`)).toBe(true);
      expect(landed.status).toBe(200);

      const initialized = await remote.answer(1);
      expect(initialized.result.serverInfo.name).toBe("portcullis-test-mcp");
      remote.send({ method: "notifications/initialized" });
      remote.send({ id: 2, method: "tools/list" });
      expect((await remote.answer(2)).result.tools.map((t: { name: string }) => t.name).sort()).toEqual(["add", "whoami"]);
      remote.send({ id: 3, method: "tools/call", params: { name: "whoami", arguments: {} } });
      expect((await remote.answer(3)).result.content[0].text).toBe("alice");

      // It went through the proxy to the gateway's names only, and registered dynamically.
      expect(new Set(proxy.tunnels)).toEqual(new Set([`${HOST}:443`, `${new URL(ISSUER).host}:443`]));
      const clients = await deployment.api("GET", "/api/v1/oauth/clients");
      expect(clients.status).toBe(200);
      const registered = (clients.json as Array<Record<string, any>>).find((c) => c.client_id === authorizationUrl.searchParams.get("client_id"));
      expect(registered?.redirect_uris).toEqual([`${redirectUri.origin}${redirectUri.pathname}`]);
    } finally {
      await remote.stop();
    }
  }, 60_000);

  test("second run: the tokens it stored are used; no browser opens, and the tool answers", async () => {
    const opened = readFileSync(openedFile, "utf8");
    const remote = new McpRemote(["--enable-proxy", "--transport", "http-only"]);
    try {
      remote.send(INITIALIZE);
      await remote.answer(1);
      remote.send({ method: "notifications/initialized" });
      remote.send({ id: 2, method: "tools/call", params: { name: "add", arguments: { a: 2, b: 40 } } });
      expect((await remote.answer(2)).result.content[0].text).toBe("42");
      expect(readFileSync(openedFile, "utf8")).toBe(opened);
    } finally {
      await remote.stop();
    }
  }, 60_000);

  test("step-up: once `add` needs calc:write, its 403 makes mcp-remote open the browser again asking for the scope, with the same registration; after the user approves, the call it held answers", async () => {
    const policy = await deployment.api("POST", `/api/v1/proxy/targets/${HOST}/mcp-policy`, { mcp_tool_scopes: { add: ["calc:write"] } });
    expect(policy.status).toBe(200);
    const clientId = new URL(openedUrls()[0]!).searchParams.get("client_id");
    const remote = new McpRemote(["--enable-proxy", "--transport", "http-only"]);
    try {
      remote.send(INITIALIZE);
      await remote.answer(1);
      remote.send({ method: "notifications/initialized" });
      remote.send({ id: 2, method: "tools/call", params: { name: "add", arguments: { a: 2, b: 40 } } });
      await within(20_000, "the browser opened for the step-up", async () => openedUrls().length === 2);
      const stepUp = new URL(openedUrls()[1]!);
      expect(stepUp.searchParams.get("client_id")).toBe(clientId);
      expect(stepUp.searchParams.get("scope")!.split(" ").sort()).toEqual(["calc:write", "mcp:read", "mcp:write"]);
      const browser = new TestBrowser(gatewayFetch(deployment.route));
      await browser.open(stepUp);
      expect(browser.consentPages).toHaveLength(1);
      expect(browser.consentHtml[0]).toContain("calc:write");
      expect((await remote.answer(2)).result.content[0].text).toBe("42");
    } finally {
      await remote.stop();
    }
  }, 60_000);

  test("a client metadata document instead of registering (--client-metadata-url, with the callback port it lists)", async () => {
    const callbackPort = preChosenPort();
    const document = await startClientMetadataServer(deployment.clientSideCa, {
      client_name: "mcp-remote with a metadata document",
      redirect_uris: [`http://localhost:${callbackPort}/oauth/callback`],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    });
    const otherHome = tempDir("mcp-remote-cimd-home");
    const remote = new McpRemote([String(callbackPort), "--client-metadata-url", document.clientId, "--enable-proxy", "--transport", "http-only"], otherHome);
    try {
      remote.send(INITIALIZE);
      await within(20_000, "the browser opened", async () => openedUrls().length === 3);
      const authorizationUrl = new URL(openedUrls()[2]!);
      expect(authorizationUrl.searchParams.get("client_id")).toBe(document.clientId);
      const browser = new TestBrowser(gatewayFetch(deployment.route));
      await browser.open(authorizationUrl);
      expect(browser.consentHtml[0]).toContain("mcp-remote with a metadata document");
      expect(browser.consentHtml[0]).toContain(`published at <strong>${new URL(document.clientId).host}</strong>`);
      await remote.answer(1);
      remote.send({ method: "notifications/initialized" });
      remote.send({ id: 2, method: "tools/call", params: { name: "whoami", arguments: {} } });
      expect((await remote.answer(2)).result.content[0].text).toBe("alice");
      expect(document.fetches()).toBeGreaterThanOrEqual(1);
      expect(backend.requests.at(-1)!.headers["x-auth-client-id"]).toBe(document.clientId);
    } finally {
      await remote.stop();
      document.stop();
    }
  }, 60_000);
});
