/**
 * PROXY protocol through a running gateway, over real sockets and a real
 * Redis: the client named in the header is the client backends and the API
 * see; refused connections forward nothing and leave others alone; WebSockets
 * pass; HTTP_PORT itself can require the header.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GATEWAY_WORKER_COUNTS, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { httpRequest, jsonBody, proxyHeader, rawExchange, startHeaderSender } from "../helpers/proxy-protocol-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let requestsSeen = 0;
const backend = Bun.serve<{ realIp: string | null }>({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, server) {
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return server.upgrade(req, { data: { realIp: req.headers.get("x-real-ip") } }) ? undefined : new Response("no", { status: 400 });
    }
    requestsSeen++;
    return Response.json({ headers: Object.fromEntries(req.headers) });
  },
  websocket: {
    open(ws) {
      ws.send(`x-real-ip ${ws.data.realIp}`);
    },
    message(ws, message) {
      ws.send(message);
    },
  },
});
const HOST = "pp.example.test";


async function until(check: () => Promise<boolean> | boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await Bun.sleep(5);
  }
}

/** One request on a fresh connection to `port`, after `header`; the backend's view of its headers. */
async function seenThrough(port: number, header: Uint8Array, extra: Record<string, string> = {}, host = HOST): Promise<Record<string, string>> {
  const reply = await rawExchange(port, [header, httpRequest(host, "/", extra)]);
  return jsonBody(reply.received).headers;
}

afterAll(() => backend.stop(true));

// The same cases against one gateway process and against two worker processes sharing the ports.
describe.each(GATEWAY_WORKER_COUNTS)("PORTCULLIS_WORKERS=%i", (workers) => {
  let redis: TestRedis;
  let gw: TestGateway;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    // The API on the edge (API_HOSTNAME) for the clients these PROXY headers name.
    gw = await startTestGateway(
      redis,
      {
        PROXY_PROTOCOL_TIMEOUT: "0.3",
        TRUSTED_PROXY_CIDRS: "198.51.100.0/24",
        API_HOSTNAME: "localhost",
        API_ALLOWED_CIDRS: "127.0.0.0/8,198.51.100.0/24,203.0.113.0/24",
      },
      { workers },
    );
    const created = await gw.api("POST", "/api/v1/proxy/targets/", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.status).toBe(201);
    await until(async () => (await gw.get(HOST)).status === 200);
  }, 120_000);
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await gw?.stop();
    await redis?.stop();
  });

  describe("PROXY_PROTOCOL_PORT", () => {
    test("v1 and v2, IPv4 and IPv6: the backend sees the header's client in X-Real-IP and X-Forwarded-For", async () => {
      const cases = [
        { version: 1, address: "203.0.113.7" },
        { version: 2, address: "203.0.113.8" },
        { version: 1, address: "2001:db8::17" },
        { version: 2, address: "2001:db8::18" },
      ] as const;
      for (const { version, address } of cases) {
        const seen = await seenThrough(gw.gateway.proxyProtocolPort, proxyHeader(version, { address, port: 50_000 }), {
          "x-forwarded-for": "6.6.6.6",
          "x-real-ip": "6.6.6.6",
        });
        expect(seen["x-real-ip"]).toBe(address);
        expect(seen["x-forwarded-for"]).toBe(address);
        expect(seen["x-forwarded-proto"]).toBe("http");
      }
    });

    test("TRUSTED_PROXY_CIDRS is judged on the header's client, not on the load balancer", async () => {
      const trusted = await seenThrough(gw.gateway.proxyProtocolPort, proxyHeader(2, { address: "198.51.100.9", port: 1 }), { "x-forwarded-for": "192.0.2.200" });
      expect(trusted["x-forwarded-for"]).toBe("192.0.2.200, 198.51.100.9");
      expect(trusted["x-real-ip"]).toBe("192.0.2.200");
      const untrusted = await seenThrough(gw.gateway.proxyProtocolPort, proxyHeader(2, { address: "203.0.113.9", port: 1 }), { "x-forwarded-for": "192.0.2.200" });
      expect(untrusted["x-forwarded-for"]).toBe("203.0.113.9");
    });

    test("API hostnames reach the API", async () => {
      const header = () => proxyHeader(1, { address: "203.0.113.40", port: 4_000 });
      const health = await rawExchange(gw.gateway.proxyProtocolPort, [header(), httpRequest("localhost", "/health")]);
      expect(health.received).toStartWith("HTTP/1.1 200");
      const tokens = await rawExchange(gw.gateway.proxyProtocolPort, [header(), httpRequest("localhost", "/api/v1/tokens/", { authorization: "Bearer acm_in_process_admin_token_000000" })]);
      expect(tokens.received).toStartWith("HTTP/1.1 200");
    });

    test("the Redis side channel proxy:client:{server_port}:{client_port}, 60 s TTL", async () => {
      await seenThrough(gw.gateway.proxyProtocolPort, proxyHeader(1, { address: "192.0.2.77", port: 4_242 }));
      let found: { key: string; value: any } | undefined;
      await until(async () => {
        for (const key of await redis.client.keys("proxy:client:*")) {
          const value = JSON.parse((await redis.client.get(key)) ?? "null");
          if (value?.client_ip === "192.0.2.77") found = { key, value };
        }
        return found !== undefined;
      });
      expect(found!.key).toMatch(/^proxy:client:\d+:\d+$/);
      expect(found!.value).toMatchObject({ client_ip: "192.0.2.77", client_port: 4_242, proxy_ip: "127.0.0.1" });
      expect(found!.value.proxy_port).toBeGreaterThan(0);
      expect(Math.abs(found!.value.timestamp - Date.now() / 1000)).toBeLessThan(10);
      const ttl = await redis.client.ttl(found!.key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);
      const [serverPort, clientPort] = found!.key.split(":").slice(2).map(Number);
      if (process.env.TEST_HTTP_ENGINE === "serve") {
        // A relay reads the header: the internal listener's port and the relay's end of its connection there.
        expect(serverPort).not.toBe(gw.gateway.proxyProtocolPort);
        expect(clientPort).toBeGreaterThan(0);
      } else {
        // The raw edge reads it itself: the listener's port and the load balancer's end of that connection.
        expect(serverPort).toBe(gw.gateway.proxyProtocolPort);
        expect(clientPort).toBe(found!.value.proxy_port);
      }
    });

    test("a malformed or missing header closes the connection; nothing reaches the backend", async () => {
      const before = requestsSeen;
      for (const bytes of [httpRequest(HOST), "PROXY TCP4 203.0.113.1 192.0.2.1 99999 80\r\n" + httpRequest(HOST), "PROXY TCP9 x\r\n"]) {
        const reply = await rawExchange(gw.gateway.proxyProtocolPort, [bytes]);
        expect(reply).toMatchObject({ received: "", closed: true });
      }
      await Bun.sleep(50);
      expect(requestsSeen).toBe(before);
    });

    test("a header slower than PROXY_PROTOCOL_TIMEOUT is cut off; a busy connection beside it is untouched", async () => {
      const sender = startHeaderSender(gw.gateway.proxyProtocolPort, () => proxyHeader(1, { address: "203.0.113.60", port: 60 }));
      cleanups.push(() => sender.stop());
      let stop = false;
      let good = 0;
      const busy = (async () => {
        while (!stop) {
          const res = await fetch(`http://127.0.0.1:${sender.port}/`, { headers: { host: HOST } });
          expect(res.status).toBe(200);
          expect(((await res.json()) as any).headers["x-real-ip"]).toBe("203.0.113.60");
          good++;
        }
      })();
      const before = requestsSeen;
      const slow = await Promise.all([
        // Complete only after 400 ms.
        rawExchange(gw.gateway.proxyProtocolPort, ["PROXY TCP4 203.0.113.61 ", "192.0.2.1 ", "61 80\r\n" + httpRequest(HOST)], { gapMs: 200 }),
        rawExchange(gw.gateway.proxyProtocolPort, ["\r\n\r\n\x00\r\nQUIT\n"], { timeoutMs: 2_000 }),
        rawExchange(gw.gateway.proxyProtocolPort, [], { timeoutMs: 2_000 }),
      ]);
      const goodDuringSlow = good;
      stop = true;
      await busy;
      for (const reply of slow) {
        expect(reply).toMatchObject({ received: "", closed: true });
        expect(reply.elapsedMs).toBeGreaterThanOrEqual(280);
        expect(reply.elapsedMs).toBeLessThan(1_500);
      }
      expect(goodDuringSlow).toBeGreaterThan(5);
      expect(requestsSeen - before).toBe(good);
    });

    test("a WebSocket through the relay: the backend sees the client, frames pass both ways", async () => {
      const sender = startHeaderSender(gw.gateway.proxyProtocolPort, () => proxyHeader(2, { address: "2001:db8::99", port: 9_999 }));
      cleanups.push(() => sender.stop());
      const ws = new WebSocket(`ws://127.0.0.1:${sender.port}/ws`, { headers: { host: HOST } } as Bun.WebSocketOptions);
      const messages: string[] = [];
      ws.onmessage = (event) => messages.push(String(event.data));
      await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
      await until(() => messages.length === 1);
      expect(messages[0]).toBe("x-real-ip 2001:db8::99");
      for (let i = 0; i < 50; i++) ws.send(`m${i}`);
      await until(() => messages.length === 51);
      expect(messages.slice(1)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
      ws.close();
    });
  });

  describe("PROXY_PROTOCOL_TRUSTED_CIDRS", () => {
    test("a source outside the trusted ranges is closed, header or not, and nothing is forwarded", async () => {
      const strict = await startTestGateway(redis, { PROXY_PROTOCOL_TRUSTED_CIDRS: "10.0.0.0/8" }, { workers });
      try {
        const before = requestsSeen;
        for (const parts of [[proxyHeader(1, { address: "203.0.113.70", port: 70 }), httpRequest(HOST)], [httpRequest(HOST)]]) {
          const reply = await rawExchange(strict.gateway.proxyProtocolPort, parts);
          expect(reply).toMatchObject({ received: "", closed: true });
        }
        // The same gateway's plain HTTP edge is unaffected.
        expect((await strict.get(HOST)).status).toBe(200);
        expect(requestsSeen).toBe(before + 1);
      } finally {
        await strict.stop();
      }
    });
  });

  describe("HTTP_PROXY_PROTOCOL", () => {
    test("HTTP_PORT requires the header and takes the client from it; PROXY_PROTOCOL_PORT=0 turns that listener off", async () => {
      const behindLb = await startTestGateway(
        redis,
        { HTTP_PROXY_PROTOCOL: "true", PROXY_PROTOCOL_PORT: "0", API_HOSTNAME: "localhost", API_ALLOWED_CIDRS: "203.0.113.0/24" },
        { workers },
      );
      try {
        expect(behindLb.gateway.proxyProtocolPort).toBe(0);
        const port = behindLb.gateway.httpPort;
        const seen = await seenThrough(port, proxyHeader(1, { address: "203.0.113.80", port: 80 }));
        expect(seen["x-real-ip"]).toBe("203.0.113.80");
        const health = await rawExchange(port, [proxyHeader(2, { address: "203.0.113.81", port: 81 }), httpRequest("localhost", "/health")]);
        expect(health.received).toStartWith("HTTP/1.1 200");
        expect(await rawExchange(port, [httpRequest(HOST)])).toMatchObject({ received: "", closed: true });
        await expect(fetch(`http://127.0.0.1:${port}/`, { headers: { host: HOST } })).rejects.toThrow();
      } finally {
        await behindLb.stop();
      }
    });
  });
});
