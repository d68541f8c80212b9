/**
 * Portcullis as an operator deploys it for MCP, for tests with real clients:
 * the compiled `portcullis` binary in its own process (so it can be told, as
 * in production, which extra CA to trust with NODE_EXTRA_CA_CERTS: the one
 * of a client's metadata document server), a private Redis, the local
 * GitHub stand-in for sign-in (GITHUB_OAUTH_BASE_URL / GITHUB_API_BASE_URL,
 * user alice), and one certificate for the MCP hosts and the issuer's host
 * made through the API. `protect` then applies docs/mcp.md's steps to one
 * MCP server: proxy, resource metadata, auth on in forward mode.
 *
 * Node-based client processes trust the gateway with NODE_EXTRA_CA_CERTS
 * pointing at `gatewayCaFile`; in-process SDK clients use `route` with
 * tests/helpers/mcp-client.ts's gatewayFetch.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { ensureBinary, runCli, startGatewayProcess, tempDataDir, type RunningGateway } from "./gateway-process";
import { startGitHubServer, type GitHubTestServer } from "./github-server";
import type { GatewayRoute } from "./mcp-client";
import { startTestRedis, type TestRedis } from "./redis-server";
import { createTestCa, peerCertificate, type TestCa } from "./test-ca";
import { tempDir } from "./temp";

export const DOMAIN = "example.test";
export const AUTH_HOST = `auth.${DOMAIN}`;
export const ISSUER = `https://${AUTH_HOST}`;
const ADMIN_TOKEN = `acm_${"mc".repeat(20)}`;
const CERT_NAME = "mcp-clients";

export interface McpDeployment {
  readonly redis: TestRedis;
  readonly github: GitHubTestServer;
  readonly gateway: RunningGateway;
  /** The CA the gateway trusts besides the system's (NODE_EXTRA_CA_CERTS): issue client-side servers' certificates from it. */
  readonly clientSideCa: TestCa;
  /** The gateway's certificate for every host below (PEM), and a file holding it for Node's NODE_EXTRA_CA_CERTS. */
  readonly gatewayCa: string;
  readonly gatewayCaFile: string;
  readonly route: GatewayRoute;
  /** The admin's API call: JSON in and out. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** Runs `portcullis <args>` (the compiled CLI) against this gateway's API as the admin. */
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** docs/mcp.md's steps for one MCP server at `https://<hostname>/mcp`; resolves once the edge answers 401. */
  protect(hostname: string, backendUrl: string, options?: { scopes?: string[]; proxy?: Record<string, unknown> }): Promise<void>;
  stop(): Promise<void>;
}

/** `hostnames`: every MCP server name the tests will protect (the certificate must cover them up front). */
export async function startMcpDeployment(hostnames: readonly string[], env: Record<string, string> = {}): Promise<McpDeployment> {
  await ensureBinary();
  const redis = await startTestRedis();
  const github = startGitHubServer();
  github.addApp("portcullis-github-app", "github-app-secret");
  github.setUser({ id: 4242, login: "alice", name: "Alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
  const clientSideCa = await createTestCa("Client metadata documents CA");
  const dir = tempDir("mcp-deployment");
  const clientSideCaFile = join(dir, "client-side-ca.pem");
  writeFileSync(clientSideCaFile, clientSideCa.pem);

  const gateway = await startGatewayProcess({
    dataDir: tempDataDir(),
    env: {
      REDIS_URL: redis.url,
      ADMIN_TOKEN,
      BASE_DOMAIN: DOMAIN,
      GITHUB_CLIENT_ID: "portcullis-github-app",
      GITHUB_CLIENT_SECRET: "github-app-secret",
      GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
      GITHUB_API_BASE_URL: github.apiBaseUrl,
      OAUTH_ALLOWED_GITHUB_USERS: "alice",
      // Metadata documents are served from loopback here, by a server whose CA only this variable makes trusted.
      OAUTH_CLIENT_METADATA_ALLOW_PRIVATE: "true",
      NODE_EXTRA_CA_CERTS: clientSideCaFile,
      LOG_LEVEL: "INFO",
      ...env,
    },
  });
  await gateway.waitForHealthy(30_000);

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(gateway.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };

  // One certificate for every name, made through the API (a self-signed one: the clients are told to trust it).
  const names = [...hostnames, AUTH_HOST];
  const created = await api("POST", "/api/v1/certificates/multi-domain", { cert_name: CERT_NAME, domains: names, acme: false });
  if (created.status !== 201) throw new Error(`certificate: ${created.status} ${JSON.stringify(created.json)}`);
  const gatewayCa = (await api("GET", `/api/v1/certificates/${CERT_NAME}`)).json.fullchain_pem as string;
  const gatewayCaFile = join(dir, "gateway-ca.pem");
  writeFileSync(gatewayCaFile, gatewayCa);
  const route: GatewayRoute = { domainSuffix: `.${DOMAIN}`, httpsPort: gateway.httpsPort, ca: gatewayCa };
  const fingerprint = new X509Certificate(gatewayCa).fingerprint256;
  // The TLS listener is swapped with a short drain, during which the old one still takes some connections (reusePort):
  // the change is in place once many new connections in a row get the new certificate.
  let inARow = 0;
  await within(15_000, `the certificate served for ${AUTH_HOST}`, async () => {
    inARow = (await peerCertificate(gateway.httpsPort, AUTH_HOST)).fingerprint256 === fingerprint ? inARow + 1 : 0;
    return inARow >= 40;
  });

  const protect: McpDeployment["protect"] = async (hostname, backendUrl, options = {}) => {
    const steps: Array<[string, unknown]> = [
      ["/api/v1/proxy/targets", { hostname, target_url: backendUrl, enable_https: true, cert_name: CERT_NAME, ...options.proxy }],
      [`/api/v1/proxy/targets/${hostname}/resource`, { resource_endpoint: "/mcp", resource_scopes: options.scopes ?? ["mcp:read", "mcp:write"] }],
      [`/api/v1/proxy/targets/${hostname}/auth`, { auth_enabled: true, auth_mode: "forward" }],
    ];
    for (const [path, body] of steps) {
      const res = await api("POST", path, body);
      if (res.status !== 200 && res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.json)}`);
    }
    await within(10_000, `auth on at ${hostname}`, async () => {
      const res = await fetch(`https://127.0.0.1:${gateway.httpsPort}/mcp`, { method: "POST", headers: { host: hostname }, tls: { ca: gatewayCa, serverName: hostname } } as RequestInit);
      await res.body?.cancel();
      return res.status === 401;
    });
  };

  return {
    redis,
    github,
    gateway,
    clientSideCa,
    gatewayCa,
    gatewayCaFile,
    route,
    api,
    cli: (args) => runCli(args, { API_URL: gateway.apiUrl, TOKEN: ADMIN_TOKEN, HOME: dir }),
    protect,
    async stop() {
      await gateway.stop();
      await github.stop();
      await redis.stop();
    },
  };
}

/** Polls `check` until it is true; throws naming `what` after `timeoutMs`. */
export async function within(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${String(last)})` : ""}`);
    await Bun.sleep(25);
  }
}
