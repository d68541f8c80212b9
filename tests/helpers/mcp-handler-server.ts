/**
 * An MCP server made with the 2.x SDK's `createMcpHandler` on Bun.serve: it
 * serves the 2026-07-28 revision (per-request envelope, Mcp-Method/Mcp-Name
 * headers, JSON answers) and, for 2025-era clients, the stateless legacy
 * fallback (answers as event streams). It trusts whoever reaches it and
 * records every request — method, path, headers and the body's exact bytes —
 * so tests can see what the gateway let through, byte for byte.
 *
 * Tools:
 * - `add` {a, b}: the sum, as text;
 * - `whoami`: the X-Auth-User-Name the gateway sent, or "anonymous".
 */
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";

export interface RecordedMcpRequest {
  readonly method: string;
  readonly path: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface McpHandlerServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: RecordedMcpRequest[];
  stop(): void;
}

/**
 * `endpoint`: mount the handler there only, as an application routes it, so
 * that other paths (the metadata URLs) get 404; by default it answers every path.
 */
export function startMcpHandlerServer(options: { endpoint?: string } = {}): McpHandlerServer {
  const requests: RecordedMcpRequest[] = [];
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: "portcullis-test-mcp-2x", version: "1.0.0" });
    server.registerTool("add", { description: "Adds two numbers", inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => ({
      content: [{ type: "text", text: String(a + b) }],
    }));
    server.registerTool("whoami", { description: "The user the gateway says is calling" }, async (context) => {
      const name = context.http?.req?.headers.get("x-auth-user-name");
      return { content: [{ type: "text", text: name || "anonymous" }] };
    });
    return server;
  });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const body = new Uint8Array(await request.arrayBuffer());
      const url = new URL(request.url);
      requests.push({ method: request.method, path: url.pathname, headers: Object.fromEntries(request.headers), body });
      if (options.endpoint !== undefined && url.pathname !== options.endpoint) return Response.json({ error: "not_found" }, { status: 404 });
      // The handler reads the body itself: hand it the bytes again.
      return handler.fetch(new Request(request.url, { method: request.method, headers: request.headers, body: request.method === "GET" || request.method === "HEAD" ? undefined : body }));
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, requests, stop: () => void server.stop(true) };
}
