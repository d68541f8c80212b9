/**
 * gateway.stop() drains before it stops: the listeners keep accepting for a
 * moment and answer with Connection: close, so busy keep-alive clients (also
 * behind a load balancer's PROXY protocol relay) get every answer; then the
 * ports close. tests/e2e/shutdown.test.ts does the same with SIGTERM.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { keepAliveClient, type KeepAliveClient } from "../helpers/keep-alive-clients";
import { httpRequest, proxyHeader, rawExchange, startHeaderSender } from "../helpers/proxy-protocol-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let release!: () => void;
const gate = new Promise<void>((resolve) => (release = resolve));
const backend = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: async (request) => (new URL(request.url).pathname === "/slow" && (await gate), new Response("from the backend")),
});

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
  backend.stop(true);
});

/** A gateway with a proxy for `host` (each test its own: they share the Redis). */
async function gatewayWithProxy(host: string, env: Record<string, string> = {}): Promise<TestGateway> {
  const gw = await startTestGateway(redis, env);
  expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname: host, target_url: backend.url.href })).status).toBe(201);
  return gw;
}

async function busy(clients: KeepAliveClient[]): Promise<void> {
  for (const deadline = Date.now() + 10_000; clients.some((c) => c.responses < 20); await Bun.sleep(5)) {
    if (Date.now() > deadline) throw new Error(`clients never got going: ${clients.map((c) => c.responses)}`);
  }
}

test("behind load balancers (HTTP_PROXY_PROTOCOL, HTTPS_PROXY_PROTOCOL) busy keep-alive clients lose no request", async () => {
  const HOST = "balanced.example.test";
  const gw = await gatewayWithProxy(HOST, { HTTP_PROXY_PROTOCOL: "true", HTTPS_PROXY_PROTOCOL: "true" });
  const balancer = startHeaderSender(gw.gateway.httpsPort, () => proxyHeader(2, { address: "203.0.113.20", port: 2020 }));
  try {
    const header = proxyHeader(1, { address: "203.0.113.10", port: 1010 });
    for (let i = 0; i < 200 && !(await rawExchange(gw.gateway.httpPort, [header, httpRequest(HOST)])).received.startsWith("HTTP/1.1 200"); i++) await Bun.sleep(10);
    const clients = [
      ...Array.from({ length: 5 }, () => keepAliveClient({ port: gw.gateway.httpPort, host: HOST, prefix: header })),
      ...Array.from({ length: 5 }, () => keepAliveClient({ port: balancer.port, host: HOST, tls: true })),
    ];
    await busy(clients);
    await gw.stop();
    const results = await Promise.all(clients.map((c) => c.done));
    expect(results.filter((r) => r.failedRequest || !r.closedPolitely || r.problem)).toEqual([]);
  } finally {
    balancer.stop();
  }
});

test("while it drains it still accepts, and answers with Connection: close; then the port is closed", async () => {
  const HOST = "drain.example.test";
  const gw = await gatewayWithProxy(HOST);
  for (let i = 0; i < 200 && (await gw.get(HOST)).status !== 200; i++) await Bun.sleep(10);
  const port = gw.gateway.httpPort;
  // A request in flight keeps the drain going (up to its limit) rather than ending it as quiet.
  const slow = gw.get(HOST, "/slow");
  await Bun.sleep(50);
  const stopped = gw.stop();
  await Bun.sleep(20);

  const during = keepAliveClient({ port, host: HOST });
  expect(await during.done).toMatchObject({ responses: 1, closedPolitely: true, failedRequest: false });

  release();
  expect(await (await slow).text()).toBe("from the backend");
  await stopped;
  const after = await keepAliveClient({ port, host: HOST }).done;
  expect(after.problem).toContain("ECONNREFUSED");
});
