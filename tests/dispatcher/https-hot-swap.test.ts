/**
 * Zero-downtime certificate changes under load: 50 keep-alive HTTPS
 * connections sending requests back to back while certificates change 20
 * times. No request may fail and no connection may be reset or closed under
 * its client (a server about to retire may say `Connection: close` first,
 * and the client reconnects), and WebSocket and SSE streams opened before the
 * changes keep flowing after them. Which TLS listener the edge runs depends on
 * net.ipv4.tcp_migrate_req (scripts/test sets it to 1 when it can). It runs
 * against one gateway process and against two worker processes sharing the port.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createStores, type Stores } from "../../src/storage/stores";
import { GATEWAY_WORKER_COUNTS, servedEverywhere, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { certificateRecord, createTestCa, type TestCa } from "../helpers/test-ca";
import { startTlsLoad } from "../../bench/tls-load";
import { streamBackend } from "../helpers/stream-backend";

const HOST = "load.example.test";
const CONNECTIONS = 50;
const CHANGES = 20;

/** The backend: small responses, an SSE stream ticking every 20 ms, and a WebSocket echo. */
const backend = streamBackend({ eventsOnlyOn: "/events" });
afterAll(() => backend.stop(true));

describe.each(GATEWAY_WORKER_COUNTS)("PORTCULLIS_WORKERS=%i", (workers) => {
  let redis: TestRedis;
  let gw: TestGateway;
  let stores: Stores;
  let ca: TestCa;

  beforeAll(async () => {
    redis = await startTestRedis();
    gw = await startTestGateway(redis, {}, { workers });
    stores = createStores(redis.client);
    ca = await createTestCa();
    const first = await ca.issue(HOST, [HOST, "*.example.test"]);
    await stores.certificates.create(certificateRecord("load", [HOST, "*.example.test"], first));
    const created = await gw.api("POST", "/api/v1/proxy/targets/", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.status).toBe(201);
    await servedEverywhere([gw], HOST, first.fingerprint256);
    while ((await gw.get(HOST)).status !== 200) await Bun.sleep(5);
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
    await redis?.stop();
  });

  function openWebSocket(): Promise<WebSocket> {
    const ws = new WebSocket(`wss://127.0.0.1:${gw.gateway.httpsPort}/ws`, {
      headers: { host: HOST },
      tls: { ca: ca.pem, serverName: HOST },
    } as Bun.WebSocketOptions);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error("WebSocket through the HTTPS edge did not open"));
    });
  }

  test(
    "50 busy keep-alive connections see no failure while certificates change 20 times; WS and SSE keep flowing",
    async () => {
      const port = gw.gateway.httpsPort;
      const ws = await openWebSocket();
      const echoes: string[] = [];
      ws.onmessage = (event) => echoes.push(String(event.data));
      let wsClosed = false;
      ws.onclose = () => (wsClosed = true);
      const sseResponse = await fetch(`https://127.0.0.1:${port}/events`, { tls: { ca: ca.pem, serverName: HOST }, headers: { host: HOST } });
      expect(sseResponse.headers.get("content-type")).toBe("text/event-stream");
      const sse = sseResponse.body!.getReader();
      let sseEvents = 0;
      let sseEnded = false;
      const sseDone = (async () => {
        for (;;) {
          const { done, value } = await sse.read();
          if (done) return void (sseEnded = true);
          sseEvents += new TextDecoder().decode(value).split("data:").length - 1;
        }
      })().catch(() => (sseEnded = true));

      const load = startTlsLoad({ port, host: HOST, ca: ca.pem, connections: CONNECTIONS });
      await Bun.sleep(300);
      const before = { ok: load.counts.ok, sse: sseEvents, echoes: echoes.length };
      let wsSent = 0;
      const wsTicker = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(`m${wsSent++}`), 20);

      let last = "";
      for (let change = 1; change <= CHANGES; change++) {
        const issued = await ca.issue(HOST, [HOST, "*.example.test"]);
        await stores.certificates.replace(certificateRecord("load", [HOST, "*.example.test"], issued));
        last = issued.fingerprint256;
        // Another certificate comes and goes too, so adds and deletes are in the mix.
        if (change % 2 === 0) await stores.certificates.create(certificateRecord(`extra${change}`, [`extra${change}.test`], await ca.issue(`extra${change}.test`, [`extra${change}.test`])));
        else if (change > 1) await stores.certificates.delete(`extra${change - 1}`);
        await Bun.sleep(100);
      }
      // New connections get the last certificate...
      expect(await servedEverywhere([gw], HOST, last)).toBeLessThan(1_000);
      await Bun.sleep(300);
      const during = { ok: load.counts.ok - before.ok, sse: sseEvents - before.sse, echoes: echoes.length - before.echoes };
      clearInterval(wsTicker);
      const counts = await load.stop();

      // ...while the busy ones were told to reconnect and never lost a request.
      const problems = { ...counts, ok: undefined, opened: undefined, politeCloses: undefined };
      expect(problems).toEqual({
        ok: undefined,
        opened: undefined,
        politeCloses: undefined,
        badStatus: 0,
        failedRequests: 0,
        resets: 0,
        serverCloses: 0,
        connectErrors: 0,
        errors: [],
      });
      expect(counts.opened).toBe(CONNECTIONS + counts.politeCloses);
      expect(during.ok).toBeGreaterThan(1_000);
      console.log(
        `hot swap: ${counts.ok} requests on ${counts.opened} connections (${counts.politeCloses} closed with Connection: close), ${CHANGES} certificate changes, ` +
          `0 failures; SSE events during: ${during.sse}, WebSocket echoes during: ${during.echoes}`,
      );

      // The streams opened before the changes are still open and still flowing.
      expect(wsClosed).toBe(false);
      expect(sseEnded).toBe(false);
      expect(during.sse).toBeGreaterThan(CHANGES * 2);
      expect(during.echoes).toBeGreaterThan(CHANGES * 2);
      // Echoes of the ticker's last messages may still be on their way: wait for this one's, in order after them.
      ws.send("after the changes");
      for (const deadline = Date.now() + 5_000; !echoes.includes("after the changes") && Date.now() < deadline; ) await Bun.sleep(10);
      expect(echoes.at(-1)).toBe("after the changes");
      const sseNow = sseEvents;
      await Bun.sleep(100);
      expect(sseEvents).toBeGreaterThan(sseNow);

      ws.close();
      await sse.cancel();
      await sseDone;
    },
    30_000,
  );
});
