/**
 * A Streamable-HTTP MCP server made with the MCP TypeScript SDK, the way MCP
 * servers are commonly deployed: `McpServer` behind the SDK's
 * `StreamableHTTPServerTransport` on a node:http server, one session (server
 * + transport) per `Mcp-Session-Id`, plain HTTP on a loopback port. It knows
 * nothing about OAuth: it trusts whoever reaches it, which is why it sits
 * behind the gateway. It records every request's method, path and headers so
 * tests can see what the gateway let through.
 *
 * Tools:
 * - `add` {a, b}: the sum, as text;
 * - `whoami`: the X-Auth-User-Name header of the request that called it (the
 *   identity the gateway vouches for), or "anonymous".
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

export interface McpBackendRequest {
  readonly method: string;
  readonly path: string;
  /** Lower-case names, as node:http gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface TestMcpServer {
  /** `http://127.0.0.1:<port>`: the backend a proxy points at. */
  readonly url: string;
  /** Where the MCP endpoint lives. */
  readonly endpoint: string;
  /** Every request that reached this server, in order. */
  readonly requests: McpBackendRequest[];
  /** Sessions opened by an initialize request and not closed since. */
  readonly sessions: ReadonlyMap<string, StreamableHTTPServerTransport>;
  stop(): Promise<void>;
}

function newMcpServer(): McpServer {
  const server = new McpServer({ name: "portcullis-test-mcp", version: "1.0.0" });
  server.registerTool(
    "add",
    { title: "Add", description: "Adds two numbers", inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => ({ content: [{ type: "text", text: String(a + b) }] }),
  );
  server.registerTool("whoami", { title: "Who am I", description: "The user the gateway says is calling" }, async (extra) => {
    const name = extra.requestInfo?.headers["x-auth-user-name"];
    return { content: [{ type: "text", text: typeof name === "string" && name !== "" ? name : "anonymous" }] };
  });
  return server;
}

export async function startMcpServer(options: { endpoint?: string } = {}): Promise<TestMcpServer> {
  const endpoint = options.endpoint ?? "/mcp";
  const requests: McpBackendRequest[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const jsonRpcError = (res: ServerResponse, status: number, message: string) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
  };

  const readJson = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    return text === "" ? undefined : JSON.parse(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0]!;
    requests.push({ method: req.method ?? "", path, headers: { ...req.headers } });
    if (path !== endpoint) {
      // No metadata of its own: the gateway's protected resource document is served for it.
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "not_found" }));
      return;
    }
    const sessionId = req.headers["mcp-session-id"];
    const existing = typeof sessionId === "string" ? sessions.get(sessionId) : undefined;
    if (existing) {
      const body = req.method === "POST" ? await readJson(req) : undefined;
      await existing.handleRequest(req, res, body);
      return;
    }
    if (req.method !== "POST") return jsonRpcError(res, 400, "no valid session id");
    const body = await readJson(req);
    if (sessionId !== undefined || !isInitializeRequest(body)) return jsonRpcError(res, sessionId === undefined ? 400 : 404, "no valid session id");
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
      onsessionclosed: (id) => void sessions.delete(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await newMcpServer().connect(transport);
    await transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) jsonRpcError(res, 500, err instanceof Error ? err.message : String(err));
      else res.end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    endpoint,
    requests,
    sessions,
    async stop() {
      for (const transport of sessions.values()) await transport.close().catch(() => {});
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
