/** A backend that echoes WebSocket messages and streams an SSE event every 20 ms on /events (or every path). */
export function streamBackend(options: { eventsOnlyOn?: string } = {}) {
  return Bun.serve<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, server) {
      if (server.upgrade(req)) return undefined;
      if (options.eventsOnlyOn && !req.url.endsWith(options.eventsOnlyOn)) return new Response("ok");
      let n = 0;
      let timer: Timer;
      return new Response(
        new ReadableStream({
          start(controller) {
            timer = setInterval(() => controller.enqueue(new TextEncoder().encode(`data: ${n++}\n\n`)), 20);
          },
          cancel() {
            clearInterval(timer);
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    },
    websocket: {
      message(ws, message) {
        ws.send(message);
      },
    },
  });
}
