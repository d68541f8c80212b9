/** The OpenAPI document and the /docs page, the latter opened in a real browser. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { apiHarness } from "../helpers/api-app";
import { renderedDom } from "../helpers/chromium";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let server: Server<undefined>;

beforeAll(async () => {
  redis = await startTestRedis();
  const { app } = await apiHarness(redis);
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
});
afterAll(async () => {
  await server?.stop(true);
  await redis?.stop();
});

test("the OpenAPI document lists every token endpoint", async () => {
  const doc = await fetch(`http://127.0.0.1:${server.port}/api/v1/openapi.json`).then((r) => r.json() as Promise<any>);
  expect(doc.openapi).toMatch(/^3\./);
  expect(doc.info.title).toBe("Portcullis");
  const operations = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
  );
  for (const expected of [
    "GET /api/v1/tokens/",
    "POST /api/v1/tokens/",
    "POST /api/v1/tokens/generate",
    "PUT /api/v1/tokens/email",
    "GET /api/v1/tokens/info",
    "GET /api/v1/tokens/{name}",
    "DELETE /api/v1/tokens/{name}",
    "GET /api/v1/tokens/{name}/reveal",
    "GET /health",
  ]) {
    expect(operations).toContain(expected);
  }
});

test("/docs renders the endpoints in a browser, without any network beyond the gateway", async () => {
  const dom = await renderedDom(`http://127.0.0.1:${server.port}/docs`);
  expect(dom).toContain("<h1>Portcullis API</h1>");
  expect(dom).toContain("<h2>tokens</h2>");
  expect(dom).toContain("/api/v1/tokens/{name}/reveal");
  expect(dom).toContain('href="/api/v1/openapi.json"');
}, 90_000);
