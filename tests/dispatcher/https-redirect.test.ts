/**
 * Plain HTTP is redirected to https once a publicly trusted certificate serves
 * the host (Caddy's default), over real sockets against an in-process gateway:
 * not before, not for a staging or self-signed certificate, not for ACME's
 * HTTP-01 challenges, not with https_redirect false, and not for a proxy
 * without HTTPS. Certificates are stored as an ACME issuance stores them.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { isPubliclyTrusted } from "../../src/certificates/public-trust";
import { createStores, type Stores } from "../../src/storage/stores";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { rawExchange } from "../helpers/proxy-protocol-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { certificateRecord, createTestCa, type TestCa } from "../helpers/test-ca";

const PRODUCTION = "https://acme.example.test/directory";
const STAGING = "https://acme-staging.example.test/directory";

describe("isPubliclyTrusted", () => {
  const settings = { stagingUrl: STAGING };
  test("an ACME certificate from any directory but staging", () => {
    expect(isPubliclyTrusted({ acme_directory_url: PRODUCTION }, settings)).toBe(true);
    expect(isPubliclyTrusted({ acme_directory_url: STAGING }, settings)).toBe(false);
    expect(isPubliclyTrusted({ acme_directory_url: null }, settings)).toBe(false);
  });
});

let redis: TestRedis;
let gw: TestGateway;
let stores: Stores;
let ca: TestCa;
/** Paths of every request that reached the backend. */
const reached: string[] = [];
const backend = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    reached.push(new URL(request.url).pathname);
    return new Response("from the backend");
  },
});

beforeAll(async () => {
  redis = await startTestRedis();
  ca = await createTestCa();
  gw = await startTestGateway(redis, { ACME_DIRECTORY_URL: PRODUCTION, ACME_STAGING_URL: STAGING });
  stores = createStores(redis.client);
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});
beforeEach(async () => {
  for (const c of await stores.certificates.list()) await stores.certificates.delete(c.cert_name);
  for (const p of await stores.proxies.list()) await stores.proxies.delete(p.hostname);
});

async function createProxy(hostname: string, extra: Record<string, unknown> = {}) {
  const res = await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: `http://127.0.0.1:${backend.port}`, ...extra });
  expect(res.status).toBe(201);
  while ((await gw.get(hostname, "/", { redirect: "manual" })).status === 404) await Bun.sleep(2);
}

async function addCertificate(domains: string[], directory: string | null) {
  const issued = await ca.issue(domains[0]!, domains);
  await stores.certificates.create(certificateRecord(`cert-${domains[0]!.replace(/[^a-z0-9]/g, "-")}`, domains, issued, { acme_directory_url: directory }));
}

/** The status of a plain-HTTP GET, once it has settled on `expected` (certificate changes reach the edge by event). */
async function settlesOn(host: string, path: string, expected: number): Promise<Response> {
  let res = await gw.get(host, path, { redirect: "manual" });
  for (let i = 0; i < 200 && res.status !== expected; i++) {
    await Bun.sleep(10);
    res = await gw.get(host, path, { redirect: "manual" });
  }
  return res;
}

describe("plain HTTP to a proxy with HTTPS", () => {
  test("is served until a publicly trusted certificate serves the host, then redirected with 308 keeping path and query", async () => {
    await createProxy("app.example.test");
    expect((await gw.get("app.example.test", "/x?y=1", { redirect: "manual" })).status).toBe(200);
    await addCertificate(["app.example.test"], PRODUCTION);
    const res = await settlesOn("app.example.test", "/x?y=1", 308);
    expect(res.status).toBe(308);
    expect(res.headers.get("location")).toBe("https://app.example.test/x?y=1");
  });

  test("a wildcard certificate one label up counts; a POST is redirected too (308 keeps the method) and the backend never sees it", async () => {
    await createProxy("api.example.test");
    await addCertificate(["*.example.test"], PRODUCTION);
    expect((await settlesOn("api.example.test", "/", 308)).status).toBe(308);
    const { received } = await rawExchange(gw.gateway.httpPort, ["POST /submit HTTP/1.1\r\nHost: api.example.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"]);
    expect(received).toStartWith("HTTP/1.1 308");
    expect(received.toLowerCase()).toContain("location: https://api.example.test/submit");
    expect(reached).not.toContain("/submit");
  });

  test("a staging certificate, or none (the self-signed fallback), keeps HTTP served", async () => {
    await createProxy("staged.example.test");
    await addCertificate(["staged.example.test"], STAGING);
    await Bun.sleep(200);
    expect((await gw.get("staged.example.test", "/", { redirect: "manual" })).status).toBe(200);
  });

  test("https_redirect false keeps HTTP served; turning it on redirects", async () => {
    await createProxy("plain.example.test", { https_redirect: false });
    await addCertificate(["plain.example.test"], PRODUCTION);
    await Bun.sleep(200);
    expect((await gw.get("plain.example.test", "/", { redirect: "manual" })).status).toBe(200);
    expect((await gw.api("PUT", "/api/v1/proxy/targets/plain.example.test", { https_redirect: true })).status).toBe(200);
    expect((await settlesOn("plain.example.test", "/", 308)).status).toBe(308);
  });

  test("a proxy with enable_https false is never redirected", async () => {
    await createProxy("http-only.example.test", { enable_https: false });
    await addCertificate(["http-only.example.test"], PRODUCTION);
    await Bun.sleep(200);
    expect((await gw.get("http-only.example.test", "/", { redirect: "manual" })).status).toBe(200);
  });

  test("ACME's HTTP-01 challenges stay on plain HTTP", async () => {
    await createProxy("renew.example.test");
    await addCertificate(["renew.example.test"], PRODUCTION);
    expect((await settlesOn("renew.example.test", "/", 308)).status).toBe(308);
    const challenge = await gw.get("renew.example.test", "/.well-known/acme-challenge/some-token", { redirect: "manual" });
    expect(challenge.status).toBe(404);
  });

  test("the field reads true for a new proxy and in the API's answers", async () => {
    await createProxy("shown.example.test");
    const shown = await gw.api("GET", "/api/v1/proxy/targets/shown.example.test");
    expect(shown.json.https_redirect).toBe(true);
  });
});
