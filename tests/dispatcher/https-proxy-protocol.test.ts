/** HTTPS_PROXY_PROTOCOL=true: HTTPS_PORT requires a PROXY header, then TLS; the backend sees the header's client. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GATEWAY_WORKER_COUNTS, namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { proxyHeader, startHeaderSender } from "../helpers/proxy-protocol-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const backend = namedBackend("tls-backend");
const insecure = { tls: { rejectUnauthorized: false } } as RequestInit;
afterAll(() => backend.stop(true));

// One gateway process, and two worker processes sharing the port.
describe.each(GATEWAY_WORKER_COUNTS)("PORTCULLIS_WORKERS=%i", (workers) => {
  let redis: TestRedis;
  let gw: TestGateway;

  beforeAll(async () => {
    redis = await startTestRedis();
    gw = await startTestGateway(redis, { HTTPS_PROXY_PROTOCOL: "true" }, { workers });
    const created = await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "secure.example.test", target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
    await redis?.stop();
  });

  test("a load balancer's PROXY header names the client of an HTTPS request", async () => {
    const sender = startHeaderSender(gw.gateway.httpsPort, () => proxyHeader(2, { address: "203.0.113.9", port: 40000 }));
    try {
      let seen: any;
      for (let i = 0; i < 50 && !seen?.backend; i++) {
        const res = await fetch(`https://127.0.0.1:${sender.port}/x`, { ...insecure, headers: { host: "secure.example.test", "x-real-ip": "6.6.6.6" } });
        seen = await res.json();
        if (!seen?.backend) await Bun.sleep(20);
      }
      expect(seen.backend).toBe("tls-backend");
      expect(seen.headers["x-real-ip"]).toBe("203.0.113.9");
      expect(seen.headers["x-forwarded-for"]).toBe("203.0.113.9");
      expect(seen.headers["x-forwarded-proto"]).toBe("https");
    } finally {
      sender.stop();
    }
  });

  test("a TLS client without the header is refused", async () => {
    await expect(fetch(`https://127.0.0.1:${gw.gateway.httpsPort}/`, { ...insecure, headers: { host: "secure.example.test" } })).rejects.toThrow();
  });
});
