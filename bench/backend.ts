/**
 * The fixed backend every scenario forwards to: "hello" over HTTP/1.1 and a
 * WebSocket echo. It runs in its own process so its CPU time is not mixed with
 * the harness's, and binds port 0 so it never races another process for a port.
 *
 * Usage: bun bench/backend.ts   → prints "listening <port>" on stdout, then
 * serves until SIGTERM/SIGINT.
 */

const HELLO = "hello";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  // Bun's default is 10 s; wrk's keep-alive connections sit idle during warm-up pauses.
  idleTimeout: 120,
  fetch(request, srv) {
    // Any path upgrades when asked to, so direct, nginx and Portcullis can use the same URL.
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      if (srv.upgrade(request)) return undefined;
      return new Response("upgrade failed", { status: 400 });
    }
    // Lets the harness check, once before measuring, which headers a proxy added.
    if (request.url.endsWith("/__headers")) return Response.json(Object.fromEntries(request.headers));
    // An MCP server with sessions names the session on every answer (bench/mcp-sessions.ts); asked for one, it opens one.
    const session = request.headers.get("mcp-session-id") ?? (request.headers.has("x-bench-open-session") ? `bench-${crypto.randomUUID()}` : null);
    if (session !== null) return new Response(HELLO, { headers: { "content-type": "text/plain", "mcp-session-id": session } });
    return new Response(HELLO, { headers: { "content-type": "text/plain" } });
  },
  websocket: {
    // Echo as-is (text stays text, binary stays binary).
    message(ws, message) {
      ws.send(message);
    },
    // Small frames sent in a tight ping-pong: compression would only add latency.
    perMessageDeflate: false,
  },
});

console.log(`listening ${server.port}`);

const shutdown = () => {
  server.stop(true);
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
