/**
 * HTTP-01 answers at the edge: `GET /.well-known/acme-challenge/{token}` on
 * plain HTTP is answered from Redis (`acme:challenge:{token}`) for any Host,
 * before routing, so whichever node the CA reaches can answer. The HTTPS edge
 * and other methods dispatch as usual. A whole gateway in this process, real
 * sockets, a Redis MONITOR to see which lookups happen.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Redis } from "ioredis";
import { keys } from "../../src/storage/keys";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { proxyHeader, startHeaderSender, type HeaderSender } from "../helpers/proxy-protocol-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
const PATH = `/.well-known/acme-challenge/${TOKEN}`;

let redis: TestRedis;
let gw: TestGateway;
let sender: HeaderSender;
const backend = namedBackend("backend");

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis);
  const proxies: [string, Record<string, unknown>][] = [
    ["app.example.test", {}],
    ["tls-only.example.test", { enable_http: false }],
    ["off.example.test", { enabled: false }],
    ["*.wild.example.test", {}],
  ];
  for (const [hostname, extra] of proxies) {
    const res = await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: `http://127.0.0.1:${backend.port}`, ...extra });
    expect(res.status).toBe(201);
  }
  const deadline = Date.now() + 5_000;
  for (const host of ["app.example.test", "tls-only.example.test", "off.example.test", "x.wild.example.test"]) {
    while ((await gw.get(host, "/", { redirect: "manual" })).status === 404) {
      if (Date.now() > deadline) throw new Error(`${host} never served`);
      await Bun.sleep(5);
    }
  }
  await redis.client.set(keys.acmeChallenge(TOKEN), KEY_AUTHORIZATION);
  sender = startHeaderSender(gw.gateway.proxyProtocolPort, () => proxyHeader(1, { address: "203.0.113.7", port: 40000 }));
});
afterAll(async () => {
  sender?.stop();
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});

const httpsGet = (host: string, path: string, init: RequestInit = {}) =>
  fetch(`https://127.0.0.1:${gw.gateway.httpsPort}${path}`, { ...init, headers: { host }, tls: { rejectUnauthorized: false, serverName: host } });

/** The keys of every command the gateway sends Redis while `work` runs. */
async function redisKeysTouched(work: () => Promise<void>): Promise<string[]> {
  const monitor: Redis = await redis.client.duplicate().monitor();
  const seen: string[] = [];
  monitor.on("monitor", (_time: string, args: string[]) => seen.push(args.slice(1).join(" ")));
  try {
    // MONITOR starts with the next command; this one marks that it is on.
    await redis.client.get("monitor:ready");
    while (!seen.some((s) => s.includes("monitor:ready"))) await Bun.sleep(1);
    await work();
    await redis.client.get("monitor:done");
    while (!seen.some((s) => s.includes("monitor:done"))) await Bun.sleep(1);
  } finally {
    monitor.disconnect();
  }
  return seen;
}

describe("the HTTP edge answers challenges for any Host, before routing", () => {
  for (const [what, host] of [
    ["an unknown host", "nobody.example.org"],
    ["a proxy's host", "app.example.test"],
    ["a proxy's host with a port", "app.example.test:80"],
    ["a wildcard proxy's host", "x.wild.example.test"],
    ["an HTTPS-only proxy's host (no redirect)", "tls-only.example.test"],
    ["a disabled proxy's host", "off.example.test"],
    ["the API hostname", "localhost"],
    ["an IP address", "127.0.0.1"],
  ] as const) {
    test(what, async () => {
      const res = await gw.get(host, PATH, { redirect: "manual" });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith("text/plain");
      expect(await res.text()).toBe(KEY_AUTHORIZATION);
    });
  }

  test("the query string is not part of the token", async () => {
    const res = await gw.get("app.example.test", `${PATH}?probe=1`);
    expect(await res.text()).toBe(KEY_AUTHORIZATION);
  });

  test("the PROXY protocol listener answers them too", async () => {
    const res = await fetch(`http://127.0.0.1:${sender.port}${PATH}`, { headers: { host: "tls-only.example.test" }, redirect: "manual" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(KEY_AUTHORIZATION);
  });

  test("a challenge written now is answered at once, and one removed is gone at once", async () => {
    const token = "fresh_Token-123";
    expect((await gw.get("app.example.test", `/.well-known/acme-challenge/${token}`)).status).toBe(404);
    await redis.client.set(keys.acmeChallenge(token), `${token}.thumbprint`);
    expect(await (await gw.get("app.example.test", `/.well-known/acme-challenge/${token}`)).text()).toBe(`${token}.thumbprint`);
    await redis.client.del(keys.acmeChallenge(token));
    expect((await gw.get("app.example.test", `/.well-known/acme-challenge/${token}`)).status).toBe(404);
  });
});

describe("what is not answered", () => {
  test("an unknown token: 404 text/plain, for a proxy's host as for an unknown one, never the backend", async () => {
    for (const host of ["app.example.test", "tls-only.example.test", "nobody.example.org"]) {
      const res = await gw.get(host, "/.well-known/acme-challenge/unknownToken123", { redirect: "manual" });
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toStartWith("text/plain");
      const body = await res.text();
      expect(body).toContain("no such ACME challenge");
      expect(body).not.toContain("backend");
    }
  });

  test("a token outside base64url: 404, and Redis is not even asked", async () => {
    // Stored under those names, so an answer would show that a lookup happened.
    const odd = ["bad.token", "a+b", "semi;colon", "tok%2Fx"];
    for (const token of odd) await redis.client.set(keys.acmeChallenge(token), "must-not-be-served");
    const tooLong = "a".repeat(257);
    await redis.client.set(keys.acmeChallenge(tooLong), "must-not-be-served");
    const paths = [...odd.map((t) => `/.well-known/acme-challenge/${t}`), `/.well-known/acme-challenge/${tooLong}`, "/.well-known/acme-challenge/", "/.well-known/acme-challenge/a/b"];

    const touched = await redisKeysTouched(async () => {
      for (const path of paths) {
        const res = await gw.get("app.example.test", path);
        expect({ path, status: res.status }).toEqual({ path, status: 404 });
        const body = await res.text();
        expect(body).not.toContain("must-not-be-served");
        expect(body).not.toContain("backend");
      }
    });
    expect(touched.filter((c) => c.includes("acme:challenge:"))).toEqual([]);

    // The control: a well-formed token is looked up.
    const control = await redisKeysTouched(async () => {
      await (await gw.get("app.example.test", PATH)).text();
    });
    expect(control.filter((c) => c.includes("acme:challenge:"))).toEqual([`acme:challenge:${TOKEN}`]);
  });

  test("the HTTPS edge does not answer challenges: it dispatches as for any path", async () => {
    const proxied = await httpsGet("app.example.test", PATH);
    expect(proxied.status).toBe(200);
    expect(await proxied.json()).toMatchObject({ backend: "backend", path: PATH });

    const unknown = await httpsGet("nobody.example.org", PATH);
    expect(unknown.status).toBe(404);
    const body = await unknown.text();
    expect(body).not.toContain(KEY_AUTHORIZATION);
    expect(body).toContain("nobody.example.org");
  });

  test("a POST to the challenge path is not a challenge: it is routed like any request", async () => {
    const proxied = await gw.get("app.example.test", PATH, { method: "POST", body: "{}" });
    expect(proxied.status).toBe(200);
    expect(await proxied.json()).toMatchObject({ backend: "backend", path: PATH });

    const unknown = await gw.get("nobody.example.org", PATH, { method: "POST", body: "{}" });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).not.toContain(KEY_AUTHORIZATION);

    const head = await gw.get("app.example.test", PATH, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toContain("application/json");
  });

  // Only a GET is a challenge: other methods on that path follow the proxy's HTTPS-only rule.
  test("an HTTPS-only proxy sends a POST to the challenge path to https like any other POST", async () => {
    const redirected = await gw.get("tls-only.example.test", PATH, { method: "POST", body: "{}", redirect: "manual" });
    expect(redirected.status).toBe(308);
    expect(redirected.headers.get("location")).toBe(`https://tls-only.example.test${PATH}`);
  });

  test("other paths of an HTTPS-only proxy still redirect; a path merely starting alike is not a challenge", async () => {
    const res = await gw.get("tls-only.example.test", "/.well-known/acme-challengeX/abc", { redirect: "manual" });
    expect(res.status).toBe(308);
    const proxied = await gw.get("app.example.test", "/.well-known/acme-challenge");
    expect(await proxied.json()).toMatchObject({ backend: "backend", path: "/.well-known/acme-challenge" });
  });
});
