/**
 * The HTTP edge of a running gateway, over real sockets to real backends:
 * dispatch by host, error pages, routes, and configuration changes that take
 * effect without a restart and without disturbing open streams.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { closedPort } from "../helpers/ports";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { streamBackend } from "../helpers/stream-backend";
import { queueEvent } from "../../src/orchestration/events";
import { keys } from "../../src/storage/keys";

let redis: TestRedis;
let gw: TestGateway;
const alpha = namedBackend("alpha");
const beta = namedBackend("beta");
const url = (server: { port: number | undefined }, path = "") => `http://127.0.0.1:${server.port}${path}`;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { PROXY_REQUEST_TIMEOUT: "0.5", CLIENT_IDLE_TIMEOUT: "1", API_HOSTNAME: "localhost" });
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  alpha.stop(true);
  beta.stop(true);
});
beforeEach(async () => {
  for (const p of (await gw.api("GET", "/api/v1/proxy/targets/")).json) await gw.api("DELETE", `/api/v1/proxy/targets/${p.hostname}`);
  for (const r of (await gw.api("GET", "/api/v1/routes/")).json) await gw.api("DELETE", `/api/v1/routes/${r.route_id}`);
});

/** Polls the edge until `check` passes; returns how long it took. */
async function until(check: () => Promise<boolean>, timeoutMs = 2_000): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (await check()) return performance.now() - start;
    await Bun.sleep(1);
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

const backendOf = async (host: string, path = "/") => {
  const res = await gw.get(host, path);
  return res.status === 200 ? ((await res.json()) as any).backend : res.status;
};

async function createProxy(hostname: string, target: string, extra: Record<string, unknown> = {}) {
  const res = await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: target, ...extra });
  expect(res.status).toBe(201);
  // A wildcard is asked for through a name it covers: "*" in a Host header is refused (400), which would end the wait at once.
  const probe = hostname.startsWith("*.") ? `probe${hostname.slice(1)}` : hostname;
  await until(async () => (await gw.get(probe)).status !== 404);
}

describe("dispatch", () => {
  test("exact host, then the wildcard; unknown hosts get a page naming them", async () => {
    await createProxy("app.example.test", url(alpha));
    await createProxy("*.example.test", url(beta));
    expect(await backendOf("app.example.test")).toBe("alpha");
    expect(await backendOf("other.example.test")).toBe("beta");
    const unknown = await gw.get("nothing.example.org");
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain("nothing.example.org");
  });

  test("a disabled proxy answers 503", async () => {
    await createProxy("off.example.test", url(alpha), { enabled: false });
    expect((await gw.get("off.example.test")).status).toBe(503);
  });

  test("an HTTPS-only proxy sends HTTP clients to https with a 308, except ACME challenges", async () => {
    await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "tls-only.example.test", target_url: url(alpha), enable_http: false });
    await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "nowhere.example.test", target_url: url(alpha), enable_http: false, enable_https: false });
    await until(async () => (await gw.get("tls-only.example.test", "/", { redirect: "manual" })).status === 308);
    const redirect = await gw.get("tls-only.example.test", "/a/b?c=d", { method: "POST", body: "x", redirect: "manual" });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get("location")).toBe("https://tls-only.example.test/a/b?c=d");
    expect((await gw.get("tls-only.example.test", "/.well-known/acme-challenge/tok", { redirect: "manual" })).status).toBe(404);
    expect((await gw.get("nowhere.example.test", "/", { redirect: "manual" })).status).toBe(404);
  });

  test("502 when the backend refuses, 504 when it does not answer in time; no internal address shown", async () => {
    await createProxy("refused.example.test", `http://127.0.0.1:${closedPort()}`);
    const refused = await gw.get("refused.example.test", "/", { headers: { accept: "application/json" } });
    expect(refused.status).toBe(502);
    const body = await refused.text();
    expect(body).not.toContain(String(closedPort));
    expect(body).not.toContain("127.0.0.1");

    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      await createProxy("slow.example.test", `http://127.0.0.1:${silent.port}`);
      const started = performance.now();
      const slow = await gw.get("slow.example.test");
      expect(slow.status).toBe(504);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(await slow.text()).not.toContain(String(silent.port));
    } finally {
      silent.stop(true);
    }
  });

  test("routes send matching paths elsewhere, with the target's base path", async () => {
    await createProxy("routed.example.test", url(alpha));
    const created = await gw.api("POST", "/api/v1/routes/", {
      route_id: "to-beta",
      path_pattern: "/api/",
      target_type: "url",
      target_value: url(beta, "/v2"),
      methods: ["GET"],
      scope: "proxy",
      proxy_hostnames: ["routed.example.test"],
    });
    expect(created.status).toBe(201);
    await until(async () => (await backendOf("routed.example.test", "/api/x")) === "beta");
    const res = (await (await gw.get("routed.example.test", "/api/items?page=2")).json()) as any;
    expect(res).toMatchObject({ backend: "beta", path: "/v2/api/items?page=2" });
    expect(await backendOf("routed.example.test", "/web")).toBe("alpha");
    const post = (await (await gw.get("routed.example.test", "/api/x", { method: "POST" })).json()) as any;
    expect(post.backend).toBe("alpha");
  });

  test("malformed bytes close that connection only; the edge keeps serving", async () => {
    await createProxy("sturdy.example.test", url(alpha));
    for (const garbage of ["\x16\x03\x01\x00\xff\x01", "GET / HTTP/1.1\r\nHost: sturdy.example.test\r\nContent-Length: -5\r\n\r\n", "NOT HTTP AT ALL\r\n\r\n"]) {
      const reply = await new Promise<string>((resolve) => {
        let received = "";
        Bun.connect({
          hostname: "127.0.0.1",
          port: gw.gateway.httpPort,
          socket: {
            open: (socket) => void socket.write(garbage),
            data: (_socket, chunk) => void (received += chunk.toString()),
            close: () => resolve(received),
            error: () => resolve(received),
          },
        });
      });
      expect(reply === "" || reply.startsWith("HTTP/1.1 400")).toBe(true);
    }
    expect(await backendOf("sturdy.example.test")).toBe("alpha");
  });

  test("client X-Forwarded-* and X-Auth-* headers do not reach the backend", async () => {
    await createProxy("headers.example.test", url(alpha));
    const res = await gw.get("headers.example.test", "/", {
      headers: { "x-forwarded-for": "6.6.6.6", "x-real-ip": "6.6.6.6", "x-auth-user": "root", "x-forwarded-host": "evil" },
    });
    const seen = ((await res.json()) as any).headers;
    expect(seen["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen["x-real-ip"]).toBe("127.0.0.1");
    expect(seen["x-forwarded-host"]).toBe("headers.example.test");
    expect(seen["x-auth-user"]).toBeUndefined();
  });
});

describe("bodies", () => {
  test("an upload larger than Bun's default 128 MiB cap streams through", async () => {
    const counter = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      async fetch(req) {
        let bytes = 0;
        for await (const chunk of req.body ?? []) bytes += chunk.byteLength;
        return new Response(String(bytes));
      },
    });
    try {
      await createProxy("upload.example.test", url(counter));
      const chunk = new Uint8Array(1024 * 1024);
      const total = 200;
      const body = new ReadableStream({
        pull(controller) {
          sent < total ? (controller.enqueue(chunk), sent++) : controller.close();
        },
      });
      let sent = 0;
      const res = await gw.get("upload.example.test", "/upload", { method: "POST", body, duplex: "half" } as RequestInit);
      expect(await res.text()).toBe(String(total * chunk.byteLength));
    } finally {
      counter.stop(true);
    }
  }, 30_000);

  test("the API refuses large or unsized bodies before reading them", async () => {
    const big = "x".repeat(2 * 1024 * 1024);
    for (const base of [`http://127.0.0.1:${gw.gateway.apiPort}`, gw.edge]) {
      const tooLarge = await fetch(`${base}/api/v1/tokens/`, { method: "POST", headers: { host: "localhost", "content-type": "application/json" }, body: big });
      expect(tooLarge.status).toBe(413); // on API_PORT, Bun.serve's own limit answers first
      const chunked = await fetch(`${base}/api/v1/tokens/`, {
        method: "POST",
        headers: { host: "localhost", "content-type": "application/json" },
        body: new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("{}")), c.close()) }),
        duplex: "half",
      } as RequestInit);
      expect(chunked.status).toBe(411);
    }
  });
});

describe("streams", () => {
  test("an event stream quieter than the idle timeout stays open", async () => {
    const quiet = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch() {
        let n = 0;
        return new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode(": open\n\n")); // sends the head at once
            },
            async pull(controller) {
              await Bun.sleep(3_000); // past CLIENT_IDLE_TIMEOUT=1 and the timer's ~4 s granularity
              controller.enqueue(new TextEncoder().encode(`data: ${n++}\n\n`));
              if (n === 2) controller.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        );
      },
    });
    try {
      expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "quiet.example.test", target_url: url(quiet) })).status).toBe(201);
      await Bun.sleep(50);
      const res = await gw.get("quiet.example.test", "/events");
      expect(await res.text()).toBe(": open\n\ndata: 0\n\ndata: 1\n\n");
    } finally {
      quiet.stop(true);
    }
  }, 15_000);
});

describe("changes apply without a restart", () => {
  test("100 target changes each visible on the edge; p99 under 100 ms", async () => {
    await createProxy("live.example.test", url(alpha));
    const delays: number[] = [];
    for (let i = 0; i < 100; i++) {
      const [next, name] = i % 2 === 0 ? [beta, "beta"] : [alpha, "alpha"];
      const res = await gw.api("PUT", "/api/v1/proxy/targets/live.example.test", { target_url: url(next) });
      expect(res.status).toBe(200);
      delays.push(await until(async () => (await backendOf("live.example.test")) === name));
    }
    delays.sort((a, b) => a - b);
    const p99 = delays[Math.ceil(delays.length * 0.99) - 1]!;
    console.log(`config change → edge: p50 ${delays[49]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
    expect(p99).toBeLessThan(100);
  });

  test("a service route follows its service URL when it changes", async () => {
    await createProxy("svc.example.test", url(alpha));
    const setServiceUrl = async (target: string) => {
      const tx = redis.client.multi();
      tx.set(keys.serviceUrl("billing"), target);
      queueEvent(tx, { event_type: "service_url_changed", data: { name: "billing" } });
      await tx.exec();
    };
    await gw.api("POST", "/api/v1/routes/", { route_id: "svc-route", path_pattern: "/bill", target_type: "service", target_value: "billing" });
    // No URL for the service yet: 502, and the proxy's own paths still work.
    await until(async () => (await gw.get("svc.example.test", "/bill")).status === 502);
    expect(await backendOf("svc.example.test", "/other")).toBe("alpha");
    await setServiceUrl(url(beta));
    await until(async () => (await backendOf("svc.example.test", "/bill")) === "beta");
    await setServiceUrl(url(alpha));
    await until(async () => (await backendOf("svc.example.test", "/bill")) === "alpha");
  });

  test("route create and delete take effect live", async () => {
    await createProxy("r.example.test", url(alpha));
    await gw.api("POST", "/api/v1/routes/", { route_id: "live-route", path_pattern: "/b", target_type: "url", target_value: url(beta) });
    await until(async () => (await backendOf("r.example.test", "/b")) === "beta");
    await gw.api("DELETE", "/api/v1/routes/live-route");
    await until(async () => (await backendOf("r.example.test", "/b")) === "alpha");
  });

  test("a deleted proxy's in-flight request finishes; new requests get 404", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (req) => (req.url.endsWith("/slow") && (await gate), new Response("finished")),
    });
    try {
      await createProxy("doomed.example.test", url(slow));
      const inFlight = gw.get("doomed.example.test", "/slow");
      await Bun.sleep(50);
      expect((await gw.api("DELETE", "/api/v1/proxy/targets/doomed.example.test")).status).toBe(200);
      await until(async () => (await gw.get("doomed.example.test")).status === 404);
      release();
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("finished");
    } finally {
      slow.stop(true);
    }
  });

  test("open WebSocket and SSE streams survive changes to any proxy or route", async () => {
    const streams = streamBackend();
    try {
      await createProxy("streams.example.test", url(streams));
      const ws = new WebSocket(`ws://127.0.0.1:${gw.gateway.httpPort}/`, { headers: { host: "streams.example.test" } } as any);
      await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
      const echo = (text: string) =>
        new Promise<string>((resolve) => {
          ws.onmessage = (e) => resolve(String(e.data));
          ws.send(text);
        });
      const sse = (await gw.get("streams.example.test", "/events")).body!.getReader();
      const nextEvent = async () => new TextDecoder().decode((await sse.read()).value);

      expect(await echo("before")).toBe("before");
      expect(await nextEvent()).toContain("data:");
      for (let i = 0; i < 10; i++) {
        await gw.api("PUT", "/api/v1/proxy/targets/streams.example.test", { custom_response_headers: { "X-Change": String(i) } });
        await gw.api("POST", "/api/v1/proxy/targets/", { hostname: `other${i}.example.test`, target_url: url(alpha) });
        await gw.api("POST", "/api/v1/routes/", { route_id: `churn${i}`, path_pattern: `/churn${i}`, target_type: "url", target_value: url(beta) });
      }
      await Bun.sleep(100);
      expect(ws.readyState).toBe(WebSocket.OPEN);
      expect(await echo("after")).toBe("after");
      expect(await nextEvent()).toContain("data:");
      ws.close();
      await sse.cancel();
    } finally {
      streams.stop(true);
    }
  });
});

describe("shutdown", () => {
  test("a stopping gateway lets requests in flight finish", async () => {
    const own = await startTestGateway(redis);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (req) => (req.url.endsWith("/slow") && (await gate), new Response("drained")),
    });
    try {
      await own.api("POST", "/api/v1/proxy/targets/", { hostname: "drain.example.test", target_url: url(slow) });
      await until(async () => (await own.get("drain.example.test")).status === 200);
      const inFlight = own.get("drain.example.test", "/slow");
      await Bun.sleep(50);
      const stopped = own.stop();
      await Bun.sleep(100);
      release();
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("drained");
      await stopped;
    } finally {
      slow.stop(true);
    }
  });
});
