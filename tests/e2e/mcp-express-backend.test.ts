/**
 * An MCP server made with the SDK's `createMcpExpressApp()` (1.x,
 * `@modelcontextprotocol/sdk/server/express.js`) behind the gateway, set up
 * as docs/mcp.md says, reached by the SDK's client over TLS with a token.
 * That helper validates the Host header against localhost (DNS-rebinding
 * protection) unless told which names to allow: a proxy to a loopback
 * backend must send the backend's own host (the default for such proxies),
 * and a server bound elsewhere lists its public name in `allowedHosts`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createMcpExpressApp, type CreateMcpExpressAppOptions } from "@modelcontextprotocol/sdk/server/express.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

/** The SDK's stateless Streamable HTTP server, as its documentation writes it, with one tool that reports the caller. */
async function startExpressMcpServer(options?: CreateMcpExpressAppOptions): Promise<{ url: string; hostsSeen: string[]; stop(): Promise<void> }> {
  const hostsSeen: string[] = [];
  const app = createMcpExpressApp(options);
  app.post("/mcp", async (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => {
    hostsSeen.push(req.headers.host ?? "");
    const server = new McpServer({ name: "express-test-server", version: "1.0.0" });
    server.registerTool("whoami", { description: "The user the gateway vouches for" }, async (extra) => ({
      content: [{ type: "text", text: String(extra.requestInfo?.headers["x-auth-user"] ?? "anonymous") }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  const http: HttpServer = await new Promise((resolve) => {
    const listening: HttpServer = app.listen(0, "127.0.0.1", () => resolve(listening));
  });
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    hostsSeen,
    stop: () => new Promise<void>((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    }),
  };
}

let redis: TestRedis;
let gw: TestGateway;
const servers: Awaited<ReturnType<typeof startExpressMcpServer>>[] = [];

/** What DNS would do: *.example.test is the gateway's HTTPS port (its self-signed fallback certificate). */
const toGateway: FetchLike = (url, init) => {
  const target = new URL(url);
  const headers = new Headers(init?.headers);
  headers.set("host", target.host);
  return fetch(`https://127.0.0.1:${gw.gateway.httpsPort}${target.pathname}${target.search}`, { ...init, headers, tls: { rejectUnauthorized: false } } as RequestInit);
};

/** The docs' steps for one MCP server: proxy (with `extra`), resource metadata, forward auth. */
async function protect(hostname: string, targetUrl: string, extra: Record<string, unknown> = {}): Promise<string> {
  expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname, target_url: targetUrl, ...extra })).status).toBe(201);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${hostname}/resource`, { resource_endpoint: "/mcp", resource_scopes: ["mcp:read"] })).status).toBe(200);
  expect((await gw.api("POST", `/api/v1/proxy/targets/${hostname}/auth`, { auth_enabled: true, auth_mode: "forward" })).status).toBe(200);
  const resource = `https://${hostname}/mcp`;
  for (let i = 0; i < 100 && (await toGateway(resource, { method: "POST" })).status !== 401; i++) await Bun.sleep(20);
  const minted = await gw.api("POST", "/api/v1/oauth/test-tokens", { resource, username: "alice" });
  expect(minted.status).toBe(201);
  return minted.json.access_token;
}

/** initialize, then a tool call, with the SDK's client; the tool's answer. */
async function whoami(hostname: string, token: string): Promise<string> {
  const client = new Client({ name: "express-backend-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`https://${hostname}/mcp`), {
    fetch: toGateway,
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  try {
    await client.connect(transport);
    expect(client.getServerVersion()?.name).toBe("express-test-server");
    const result = await client.callTool({ name: "whoami" });
    return (result.content as { text: string }[])[0]!.text;
  } finally {
    await client.close().catch(() => {});
  }
}

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { BASE_DOMAIN: "example.test", OAUTH_ALLOWED_GITHUB_USERS: "alice" });
});

afterAll(async () => {
  await gw?.stop();
  for (const server of servers) await server.stop();
  await redis?.stop();
});

describe("createMcpExpressApp() behind the gateway", () => {
  test("the docs' recipe verbatim: a proxy to the loopback server needs no Host setting; initialize and a tool call go through with the user's identity", async () => {
    const server = await startExpressMcpServer();
    servers.push(server);
    const token = await protect("mcp.example.test", server.url);
    expect((await gw.api("GET", "/api/v1/proxy/targets/mcp.example.test")).json.preserve_host_header).toBe(false);
    expect(await whoami("mcp.example.test", token)).toBe("alice");
    expect(new Set(server.hostsSeen)).toEqual(new Set([new URL(server.url).host]));
  });

  test("sending the client's Host to it instead is what the SDK refuses: 403 Invalid Host, passed through to the client", async () => {
    const server = await startExpressMcpServer();
    servers.push(server);
    const token = await protect("preserving.example.test", server.url, { preserve_host_header: true });
    const res = await toGateway("https://preserving.example.test/mcp", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe("Invalid Host: preserving.example.test");
  });

  test("a server that lists its public name in allowedHosts works with the client's Host sent", async () => {
    const server = await startExpressMcpServer({ host: "0.0.0.0", allowedHosts: ["public.example.test"] });
    servers.push(server);
    const token = await protect("public.example.test", server.url, { preserve_host_header: true });
    expect(await whoami("public.example.test", token)).toBe("alice");
    expect(new Set(server.hostsSeen)).toEqual(new Set(["public.example.test"]));
  });
});
