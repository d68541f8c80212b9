/**
 * Request ids and trace context at the edge, over real sockets: what the
 * backend receives (a recording backend sees the raw head) and what the client
 * gets back, on the backend's answers and on the gateway's own.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { useRecordedProxy } from "../helpers/recorded-proxy";
import { closedPort } from "../helpers/ports";
import { parseTraceparent } from "../../src/proxies/trace-context";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = `00-${TRACE}-00f067aa0ba902b7-01`;

/** The value of one header in a recorded raw head; null when absent (several lines would fail the test). */
function headerOf(head: string, name: string): string | null {
  const lines = head.split("\r\n").filter((line) => line.toLowerCase().startsWith(`${name}:`));
  expect(lines.length).toBeLessThanOrEqual(1);
  return lines[0] ? lines[0].slice(name.length + 1).trim() : null;
}

/** A WebSocket backend that keeps the headers of each handshake it accepted. */
const handshakes: Headers[] = [];
const wsBackend = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request, server) {
    handshakes.push(request.headers);
    return server.upgrade(request) ? undefined : new Response("not a handshake", { status: 400 });
  },
  websocket: {
    message(ws, message) {
      ws.send(message);
    },
  },
});
afterAll(() => wsBackend.stop(true));

describe("from an untrusted client", () => {
  const proxy = useRecordedProxy("ids.test", {
    env: { API_HOSTNAME: "api.ids.test" },
    configure: async (gw) => {
      expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: "down.ids.test", target_url: `http://127.0.0.1:${closedPort()}` })).status).toBe(201);
    },
  });

  test("the backend and the client get the same gateway-made id; the client's X-Request-Id is replaced", async () => {
    const response = await proxy.gw.get("ids.test", "/a", { headers: { "x-request-id": "forged-by-client", x_request_id: "forged" } });
    expect(response.status).toBe(200);
    const id = response.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const head = proxy.backend.requests.at(-1)!.head;
    expect(headerOf(head, "x-request-id")).toBe(id);
    expect(headerOf(head, "x_request_id")).toBeNull();
  });

  test("a valid traceparent is continued as the gateway's span, tracestate passed along", async () => {
    await proxy.gw.get("ids.test", "/b", { headers: { traceparent: CLIENT_SPAN, tracestate: "vendor=abc" } });
    const head = proxy.backend.requests.at(-1)!.head;
    const sent = parseTraceparent(headerOf(head, "traceparent"));
    expect(sent).not.toBeNull();
    expect(sent!.traceId).toBe(TRACE);
    expect(sent!.flags).toBe("01");
    expect(sent!.parentId).not.toBe("00f067aa0ba902b7");
    expect(headerOf(head, "tracestate")).toBe("vendor=abc");
  });

  test("an invalid traceparent starts a new trace (and its tracestate is dropped); none at all starts one too", async () => {
    await proxy.gw.get("ids.test", "/c", { headers: { traceparent: CLIENT_SPAN.toUpperCase(), tracestate: "vendor=abc" } });
    const invalid = proxy.backend.requests.at(-1)!.head;
    const started = parseTraceparent(headerOf(invalid, "traceparent"));
    expect(started).not.toBeNull();
    expect(started!.traceId).not.toBe(TRACE);
    expect(headerOf(invalid, "tracestate")).toBeNull();

    await proxy.gw.get("ids.test", "/d");
    expect(parseTraceparent(headerOf(proxy.backend.requests.at(-1)!.head, "traceparent"))).not.toBeNull();
  });

  test("a 502 shows the id on the page and in the JSON, and sends it back", async () => {
    const page = await proxy.gw.get("down.ids.test", "/", { headers: { accept: "text/html" } });
    expect(page.status).toBe(502);
    const id = page.headers.get("x-request-id");
    expect(id).toBeTruthy();
    expect(await page.text()).toContain(`<dt>Request id</dt><dd><code>${id}</code></dd>`);

    const json = await proxy.gw.get("down.ids.test", "/", { headers: { "x-request-id": "forged-by-client" } });
    const body = (await json.json()) as { request_id?: string };
    expect(body.request_id).toBe(json.headers.get("x-request-id")!);
    expect(body.request_id).not.toBe("forged-by-client");
  });

  test("the gateway's own pages and the API through the edge carry an id too", async () => {
    const unknown = await proxy.gw.get("nowhere.ids.test");
    expect(unknown.status).toBe(404);
    const id = unknown.headers.get("x-request-id");
    expect(id).toBeTruthy();
    expect(await unknown.text()).toContain(id!);

    const api = await proxy.gw.get("api.ids.test", "/api/v1/proxy/targets");
    expect(api.status).toBe(401);
    expect(api.headers.get("x-request-id")).toBeTruthy();
  });
});

describe("WebSocket upgrades", () => {
  const proxy = useRecordedProxy("ws-origin.ids.test", {
    configure: async (gw) => {
      expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname: "ws.ids.test", target_url: `http://127.0.0.1:${wsBackend.port}` })).status).toBe(201);
      for (let i = 0; i < 100 && (await gw.get("ws.ids.test", "/")).status !== 400; i++) await Bun.sleep(20);
    },
  });

  test("the backend's handshake carries the gateway's id and span, not the client's", async () => {
    handshakes.length = 0;
    const socket = new WebSocket(proxy.gw.edge.replace("http", "ws") + "/socket", {
      headers: { host: "ws.ids.test", "x-request-id": "forged-by-client", traceparent: CLIENT_SPAN },
    } as unknown as string[]);
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.onopen = () => socket.send("hello");
      socket.onmessage = (event) => resolve(String(event.data));
      socket.onerror = () => reject(new Error("WebSocket through the gateway failed"));
    });
    socket.close();
    expect(echoed).toBe("hello");
    const headers = handshakes.at(-1)!;
    expect(headers.get("x-request-id")).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(parseTraceparent(headers.get("traceparent"))!.traceId).toBe(TRACE);
    expect(headers.get("traceparent")).not.toBe(CLIENT_SPAN);
  });
});

describe("from a TRUSTED_PROXY_CIDRS peer", () => {
  const proxy = useRecordedProxy("trusted-ids.test", { env: { TRUSTED_PROXY_CIDRS: "127.0.0.1/32" } });

  test("its sane X-Request-Id is kept, to the backend and back", async () => {
    const response = await proxy.gw.get("trusted-ids.test", "/", { headers: { "x-request-id": "lb-7f3a" } });
    expect(response.headers.get("x-request-id")).toBe("lb-7f3a");
    expect(headerOf(proxy.backend.requests.at(-1)!.head, "x-request-id")).toBe("lb-7f3a");
  });

  test("an id that is not a sane token is replaced even from it", async () => {
    const response = await proxy.gw.get("trusted-ids.test", "/", { headers: { "x-request-id": "a, b" } });
    const id = response.headers.get("x-request-id");
    expect(id).not.toBe("a, b");
    expect(headerOf(proxy.backend.requests.at(-1)!.head, "x-request-id")).toBe(id);
  });
});
