/**
 * Plain HTTP forwarding: paths, methods, redirects, encodings and connection reuse.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { forwardTarget } from "../../src/proxies";
import { rawExchange, startEchoBackend, startGateway, type Echo } from "./harness";

const echo = startEchoBackend();
const special = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request, server) {
    const path = new URL(request.url).pathname;
    const peerPort = String(server.requestIP(request)?.port);
    if (path === "/redirect") return new Response(null, { status: 302, headers: { location: "http://10.9.9.9:8080/inside?x=1" } });
    if (path === "/relative-redirect") return new Response(null, { status: 307, headers: { location: "../elsewhere" } });
    if (path === "/gzip") {
      return new Response(Bun.gzipSync(new TextEncoder().encode("compressed payload ".repeat(100))), {
        headers: { "content-encoding": "gzip", "content-type": "text/plain" },
      });
    }
    if (path === "/cookies") {
      const headers = new Headers();
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; Path=/; HttpOnly");
      return new Response("ok", { headers });
    }
    if (path === "/empty") return new Response(null, { status: 204, headers: { "x-peer": peerPort } });
    if (path === "/teapot") return new Response("short and stout", { status: 418, statusText: "I'm a teapot" });
    return new Response(peerPort, { headers: { "x-peer": peerPort } });
  },
});
const specialUrl = `http://127.0.0.1:${special.port}`;

const gateways: ReturnType<typeof startGateway>[] = [];
const gateway = (url: string, options: Parameters<typeof forwardTarget>[1] = {}) => {
  const g = startGateway(forwardTarget(url, options));
  gateways.push(g);
  return g;
};
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await echo.stop();
  await special.stop(true);
});

describe("paths", () => {
  test("base path + path + query, percent-encoding and repeated slashes untouched", async () => {
    const g = gateway(echo.url + "/api/v2/");
    const raw = await rawExchange(g.port, "GET /users/a%2Fb//c%20d/%C3%A9?q=%41%2B&x=1&x=2&empty= HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    const body = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as Echo;
    expect(body.path).toBe("/api/v2/users/a%2Fb//c%20d/%C3%A9?q=%41%2B&x=1&x=2&empty=");
  });

  test("root and bare query", async () => {
    const g = gateway(echo.url);
    expect(((await (await fetch(g.url + "/")).json()) as Echo).path).toBe("/");
    expect(((await (await fetch(g.url + "/?a=b")).json()) as Echo).path).toBe("/?a=b");
  });

  test("dot segments never climb out of the base path", async () => {
    const g = gateway(echo.url + "/jail");
    const raw = await rawExchange(g.port, "GET /../../etc/%2e%2e/passwd HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    const body = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as Echo;
    expect(body.path.startsWith("/jail/")).toBe(true);
    expect(body.path).not.toContain("..");
  });
});

describe("methods and bodies", () => {
  test("methods, request bodies and statuses pass through", async () => {
    const g = gateway(echo.url);
    for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const response = await fetch(g.url + "/m", { method, body: method === "OPTIONS" ? undefined : `body of ${method}` });
      const body = (await response.json()) as Echo;
      expect(body.method).toBe(method);
      if (method !== "OPTIONS") expect(body.body).toBe(`body of ${method}`);
    }
    const teapot = await fetch(gateway(specialUrl).url + "/teapot");
    expect(teapot.status).toBe(418);
    expect(await teapot.text()).toBe("short and stout");
  });

  test("HEAD and 204 have no body", async () => {
    const g = gateway(specialUrl);
    const head = await rawExchange(g.port, "HEAD /anything HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    expect(head).toStartWith("HTTP/1.1 200");
    expect(head.slice(head.indexOf("\r\n\r\n") + 4)).toBe("");
    const empty = await fetch(g.url + "/empty");
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe("");
  });

  test("Content-Encoding and compressed bytes pass through untouched", async () => {
    const g = gateway(specialUrl);
    const raw = await rawExchange(g.port, "GET /gzip HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n");
    expect(raw.toLowerCase()).toContain("content-encoding: gzip");
    const direct = await fetch(specialUrl + "/gzip", { decompress: false });
    const viaGateway = await fetch(g.url + "/gzip", { decompress: false });
    expect(viaGateway.headers.get("content-encoding")).toBe("gzip");
    expect(new Uint8Array(await viaGateway.arrayBuffer())).toEqual(new Uint8Array(await direct.arrayBuffer()));
  });

  test("several Set-Cookie headers stay separate", async () => {
    const response = await fetch(gateway(specialUrl).url + "/cookies");
    expect(response.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/; HttpOnly"]);
  });
});

describe("redirects", () => {
  test("passed through, never followed, Location unchanged", async () => {
    const g = gateway(specialUrl);
    const absolute = await fetch(g.url + "/redirect", { redirect: "manual" });
    expect(absolute.status).toBe(302);
    expect(absolute.headers.get("location")).toBe("http://10.9.9.9:8080/inside?x=1");
    const relative = await fetch(g.url + "/relative-redirect", { redirect: "manual" });
    expect(relative.status).toBe(307);
    expect(relative.headers.get("location")).toBe("../elsewhere");
  });
});

describe("keep-alive", () => {
  test("20 sequential requests reuse backend connections", async () => {
    const g = gateway(specialUrl);
    const peers = new Set<string>();
    for (let i = 0; i < 20; i++) peers.add(await (await fetch(g.url + "/peer")).text());
    expect(peers.size).toBeLessThanOrEqual(2);
  });

  test("a 204 leaves the connection reusable", async () => {
    const g = gateway(specialUrl);
    const peers = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const response = await fetch(g.url + (i % 2 ? "/empty" : "/peer"));
      peers.add(response.headers.get("x-peer") ?? "");
      await response.arrayBuffer();
    }
    expect(peers.size).toBeLessThanOrEqual(2);
  });
});
