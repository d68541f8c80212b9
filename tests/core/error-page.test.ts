/**
 * The gateway's own error answers: the pure page and JSON, then the real
 * pages (404 unknown host, 503 disabled proxy, 502 and 504 from a backend)
 * opened in headless Chromium through an in-process gateway, with a
 * screenshot of each (ERROR_PAGE_SCREENSHOTS=dir keeps them for a look).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { gatewayErrorResponse, renderErrorPage } from "../../src/core/error-page";
import { withChromiumPage } from "../helpers/chromium-page";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { closedPort } from "../helpers/ports";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const sample = { status: 404, title: "Unknown host", code: "unknown_host", detail: "no proxy is configured for <b>x</b>.example on this gateway", requestId: "abc-1" };

describe("gatewayErrorResponse", () => {
  test("JSON {error, detail, request_id} for API clients, curl and no Accept; the id also in X-Request-Id", async () => {
    for (const accept of [null, "application/json", "*/*"]) {
      const res = gatewayErrorResponse(sample, accept);
      expect(res.status).toBe(404);
      expect(res.headers.get("x-request-id")).toBe("abc-1");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual({ error: "unknown_host", detail: sample.detail, request_id: "abc-1" });
    }
  });

  test("an HTML page for browsers, with the status, title, sentence, request id and time, the detail escaped", async () => {
    const now = new Date("2026-12-07T08:09:10.123Z");
    const res = gatewayErrorResponse(sample, "text/html,application/xhtml+xml,*/*;q=0.8", now);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await res.text();
    expect(html).toBe(renderErrorPage(sample, now));
    expect(html).toContain("<title>404 Unknown host</title>");
    expect(html).toContain("No proxy is configured for &lt;b&gt;x&lt;/b&gt;.example on this gateway.");
    expect(html).toContain("<code>abc-1</code>");
    expect(html).toContain('<time datetime="2026-12-07T08:09:10.123Z">2026-12-07 08:09:10 UTC</time>');
    expect(html).not.toMatch(/<(script|link|img)\b/);
  });

  test("without a request id the page and JSON leave it out", async () => {
    const { requestId: _, ...anonymous } = sample;
    expect(await gatewayErrorResponse(anonymous, null).json()).toEqual({ error: "unknown_host", detail: sample.detail });
    expect(renderErrorPage(anonymous, new Date())).not.toContain("Request id");
  });
});

let redis: TestRedis;
let gw: TestGateway;
const slow = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async () => (await Bun.sleep(3_000), new Response("late")) });

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { PROXY_REQUEST_TIMEOUT: "1" });
  const create = (hostname: string, target_url: string, extra: object = {}) => gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url, ...extra });
  expect((await create("down.example.test", `http://127.0.0.1:${closedPort()}`)).status).toBe(201);
  expect((await create("off.example.test", `http://127.0.0.1:${slow.port}`, { enabled: false })).status).toBe(201);
  expect((await create("slow.example.test", `http://127.0.0.1:${slow.port}`)).status).toBe(201);
  while ((await gw.get("down.example.test", "/")).status === 404) await Bun.sleep(5);
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  slow.stop(true);
});

describe("the pages in a browser", () => {
  test("404, 503, 502 and 504 look alike: one card with the status, a sentence, the request id and the time", async () => {
    const keep = process.env.ERROR_PAGE_SCREENSHOTS;
    const dir = keep ?? tempDir("error-pages");
    const port = gw.gateway.httpPort;
    const cases = [
      { host: "nowhere.example.test", status: 404, title: "Unknown host" },
      { host: "off.example.test", status: 503, title: "Service disabled" },
      { host: "down.example.test", status: 502, title: "Bad Gateway" },
      { host: "slow.example.test", status: 504, title: "Gateway Timeout" },
    ];
    await withChromiumPage([`MAP *.example.test 127.0.0.1:${port}`], async (page) => {
      for (const { host, status, title } of cases) {
        const response = await page.goto(`http://${host}/some/path`);
        expect({ host, status: response!.status() }).toEqual({ host, status });
        const requestId = response!.headers()["x-request-id"];
        expect(requestId).toBeTruthy();
        expect(await page.locator("h1").innerText()).toBe(title);
        expect(await page.locator(".status").innerText()).toBe(`ERROR ${status}`);
        expect(await page.locator("dd code").innerText()).toBe(requestId!);
        expect(await page.locator("time").getAttribute("datetime")).toMatch(/^\d{4}-\d\d-\d\dT/);
        // Styled, not the browser's default page: the card has its border and rounded corners.
        const card = await page.locator("main").evaluate((el) => ({
          radius: (globalThis as unknown as { getComputedStyle(e: unknown): { borderRadius: string } }).getComputedStyle(el).borderRadius,
          width: el.getBoundingClientRect().width,
        }));
        expect(card.radius).toBe("12px");
        expect(card.width).toBeGreaterThan(300);
        const shot = await page.screenshot({ path: join(dir, `${status}.png`) });
        expect(shot.length).toBeGreaterThan(5_000);
      }
    });
  }, 90_000);
});
