/**
 * X-Request-Id on the answer comes from this request's trace only: the engine
 * caches a backend's response headers between identical heads, and the id set
 * on them for one request must never reach another.
 */
import { afterAll, expect, test } from "bun:test";
import { createForwardingEngine, forwardTarget, type ForwardContext } from "../../src/proxies";
import type { WebSocketProxyData } from "../../src/proxies/websocket";

const backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("same answer", { headers: { "x-backend": "1" } }) });
const engine = createForwardingEngine({ connectTimeoutMs: 5_000, requestTimeoutMs: 5_000 });
const target = forwardTarget(`http://127.0.0.1:${backend.port}`);
// The request's X-Test-Id, when present, stands for the trace the dispatcher would give it.
const edge = Bun.serve<WebSocketProxyData>({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request, server) {
    const id = request.headers.get("x-test-id");
    const context: ForwardContext = {
      clientIp: server.requestIP(request)?.address ?? "",
      proto: "http",
      trustedPeer: false,
      ...(id ? { trace: { requestId: id, traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-00`, traceId: "1".repeat(32), continued: false } } : {}),
    };
    return engine.forward(request, target, context);
  },
  websocket: engine.websocket,
});
afterAll(async () => {
  engine.close();
  await edge.stop(true);
  backend.stop(true);
});

const get = (headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${edge.port}/`, { headers });

test("each answer carries its own request's id, and an answer without one carries none", async () => {
  for (const id of ["first-1", "second-2"]) {
    const response = await get({ "x-test-id": id });
    expect(await response.text()).toBe("same answer");
    expect(response.headers.get("x-request-id")).toBe(id);
    expect(response.headers.get("x-backend")).toBe("1");
  }
  const without = await get();
  await without.text();
  expect(without.headers.get("x-request-id")).toBeNull();
  const again = await get({ "x-test-id": "third-3" });
  await again.text();
  expect(again.headers.get("x-request-id")).toBe("third-3");
});
