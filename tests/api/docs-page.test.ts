/** The OpenAPI document and the /docs page, the latter opened in a real browser. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { apiHarness, stopApiHarnesses } from "../helpers/api-app";
import { join } from "node:path";
import { withChromiumPage } from "../helpers/chromium-page";
import { tempDir } from "../helpers/temp";
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
  await stopApiHarnesses();
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

test("/docs also lists the endpoints in the page itself, for browsers without JavaScript", async () => {
  const html = await fetch(`http://127.0.0.1:${server.port}/docs`).then((r) => r.text());
  const fallback = html.slice(html.indexOf("<noscript>"), html.indexOf("</noscript>"));
  expect(fallback).toContain("<h1>Portcullis API</h1>");
  expect(fallback).toContain("<h2>tokens</h2>");
  expect(fallback).toContain("/api/v1/tokens/{name}/reveal");
  expect(fallback).toContain('href="/api/v1/openapi.json"');
});

test("every operation has responses, and every request body its JSON schema (the API parses JSON itself, which the generator does not see)", async () => {
  const doc = await fetch(`http://127.0.0.1:${server.port}/api/v1/openapi.json`).then((r) => r.json() as Promise<any>);
  const methods = ["get", "put", "post", "delete", "patch"];
  const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => methods.includes(method))
      .map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, op })),
  );
  expect(operations.filter(({ op }) => !op.responses).map(({ at }) => at)).toEqual([]);
  const emptyBodies = operations.filter(({ op }) => op.requestBody && Object.keys(op.requestBody.content ?? {}).length === 0).map(({ at }) => at);
  expect(emptyBodies).toEqual([]);
  const create = doc.paths["/api/v1/tokens/"].post.requestBody.content["application/json"].schema;
  expect(create).toMatchObject({ type: "object", required: ["name"], properties: { name: { type: "string" } } });
});

test("/docs is Swagger UI from the binary: schemas of requests and responses, and Try it out runs a call; nothing is fetched from elsewhere", async () => {
  const origin = `http://127.0.0.1:${server.port}`;
  const elsewhere: string[] = [];
  await withChromiumPage([], async (page) => {
    await page.route("**/*", (route) => {
      if (route.request().url().startsWith(origin)) return route.continue();
      elsewhere.push(route.request().url());
      return route.abort();
    });
    await page.goto(`${origin}/docs`);
    await page.locator(".opblock").first().waitFor();
    // Each endpoint is listed with its method and path.
    expect(await page.locator('.opblock-summary-path[data-path="/api/v1/tokens/{name}/reveal"]').count()).toBeGreaterThan(0);
    // A request body's schema: creating a token names its fields.
    const create = page.locator("#operations-tokens-postApiV1Tokens");
    await create.locator(".opblock-summary").click();
    await create.locator(".opblock-section-request-body").waitFor();
    await create.locator(".model-example").first().waitFor();
    await create.locator("button", { hasText: "Schema" }).first().click();
    await create.locator(".model-box").first().waitFor();
    const schema = await create.locator(".opblock-section-request-body").innerText();
    await create.screenshot({ path: join(process.env.DOCS_SCREENSHOTS ?? tempDir("docs"), "docs-schema.png") });
    expect(schema).toContain("name");
    // Try it out on GET /health: the call runs against this API and its answer is shown.
    const health = page.locator(".opblock-get").filter({ has: page.locator('.opblock-summary-path[data-path="/health"]') });
    await health.locator(".opblock-summary").click();
    await health.locator("button.try-out__btn").click();
    await health.locator("button.execute").click();
    await health.locator(".live-responses-table tbody .response-col_status").first().waitFor();
    expect((await health.locator(".live-responses-table tbody .response-col_status").first().innerText()).trim()).toBe("200");
    await health.screenshot({ path: join(process.env.DOCS_SCREENSHOTS ?? tempDir("docs"), "docs-try-it.png") });
  });
  expect(elsewhere).toEqual([]);
}, 90_000);

test("/docs/ serves only its embedded files", async () => {
  const origin = `http://127.0.0.1:${server.port}`;
  const bundle = await fetch(`${origin}/docs/swagger-ui-bundle.js`);
  expect(bundle.status).toBe(200);
  expect(bundle.headers.get("content-type")).toStartWith("text/javascript");
  expect((await bundle.text()).length).toBeGreaterThan(100_000);
  for (const name of ["..%2Fpackage.json", "package.json", "swagger-ui-bundle.js.map", "%2Fetc%2Fpasswd"]) {
    const res = await fetch(`${origin}/docs/${name}`);
    expect({ name, status: res.status }).toEqual({ name, status: 404 });
  }
});
