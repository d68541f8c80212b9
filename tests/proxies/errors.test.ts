/**
 * Backend failures become small 502/504 responses that name no internal
 * address. Connect timeouts use a loopback listener whose accept queue is full
 * (see stalled-listener.ts); nothing leaves 127.0.0.1.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { prefersJson } from "../../src/proxies";
import { classifyError } from "../../src/proxies/errors";
import { closedPort } from "../helpers/ports";
import { startGateway } from "./harness";
import { startStalledListener } from "./stalled-listener";

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const gatewayFor = (url: string, options = {}) => {
  const g = startGateway(url, { options });
  cleanups.push(() => g.stop());
  return g;
};

/** The response must not reveal where the backend is. */
async function expectNoAddress(response: Response, port: number): Promise<string> {
  const body = await response.text();
  const everything = body + JSON.stringify([...response.headers]);
  expect(everything).not.toContain("127.0.0.1");
  expect(everything).not.toContain(String(port));
  expect(everything.toLowerCase()).not.toContain("localhost");
  return body;
}

describe("connection refused", () => {
  test("502 with the JSON error body for API clients", async () => {
    const port = closedPort();
    const g = gatewayFor(`http://127.0.0.1:${port}`);
    for (const accept of [undefined, "*/*", "application/json", "application/json, text/html;q=0.9"]) {
      const response = await fetch(g.url + "/x", { headers: accept ? { accept } : {} });
      expect(response.status).toBe(502);
      expect(response.headers.get("content-type")).toStartWith("application/json");
      const body = await expectNoAddress(response, port);
      expect(JSON.parse(body)).toEqual({ error: "bad_gateway", detail: "the upstream service refused the connection" });
    }
  });

  test("a short HTML page for browsers", async () => {
    const port = closedPort();
    const g = gatewayFor(`http://127.0.0.1:${port}/base`);
    const response = await fetch(g.url + "/x", { headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" } });
    expect(response.status).toBe(502);
    expect(response.headers.get("content-type")).toStartWith("text/html");
    const body = await expectNoAddress(response, port);
    expect(body).toContain("refused the connection");
    // One page with its own small stylesheet and no external resources.
    expect(body.length).toBeLessThan(4096);
    expect(body).not.toMatch(/<(script|link|img)\b/);
  });
});

describe("timeouts", () => {
  test("connect timeout: 504 after connectTimeoutMs", async () => {
    const stalled = await startStalledListener();
    cleanups.push(() => stalled.close());
    const g = gatewayFor(`http://127.0.0.1:${stalled.port}`, { connectTimeoutMs: 300, requestTimeoutMs: 5_000 });
    const started = Date.now();
    const response = await fetch(g.url + "/slow-connect");
    const elapsed = Date.now() - started;
    expect(response.status).toBe(504);
    const body = await expectNoAddress(response, stalled.port);
    expect(JSON.parse(body)).toEqual({ error: "gateway_timeout", detail: "the upstream service did not accept the connection in time" });
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
  });

  test("request timeout: 504 when the response head never comes", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    cleanups.push(() => silent.stop(true));
    const g = gatewayFor(`http://127.0.0.1:${silent.port}`, { connectTimeoutMs: 5_000, requestTimeoutMs: 400 });
    const started = Date.now();
    const response = await fetch(g.url + "/never", { headers: { accept: "text/html" } });
    const elapsed = Date.now() - started;
    expect(response.status).toBe(504);
    const body = await expectNoAddress(response, silent.port);
    expect(body).toContain("did not respond in time");
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(3_000);
  });

  test("a slow but answering backend within the limit is fine", async () => {
    const slow = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async () => (await Bun.sleep(200), new Response("late")) });
    cleanups.push(() => slow.stop(true));
    const g = gatewayFor(`http://127.0.0.1:${slow.port}`, { connectTimeoutMs: 100, requestTimeoutMs: 2_000 });
    const response = await fetch(g.url + "/");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("late");
  });
});

describe("broken backends", () => {
  const rawBackend = (reply: (socket: { write(s: string): number; end(): void }) => void) => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (socket) => reply(socket) } });
    cleanups.push(() => listener.stop(true));
    return listener.port;
  };

  test("closes without answering: 502", async () => {
    const port = rawBackend((s) => s.end());
    const response = await fetch(gatewayFor(`http://127.0.0.1:${port}`).url + "/");
    expect(response.status).toBe(502);
    await expectNoAddress(response, port);
  });

  test("answers with garbage: 502", async () => {
    const port = rawBackend((s) => {
      s.write("SSH-2.0-OpenSSH_9.2\r\n\r\n");
      s.end();
    });
    const response = await fetch(gatewayFor(`http://127.0.0.1:${port}`).url + "/");
    expect(response.status).toBe(502);
    await expectNoAddress(response, port);
  });
});

describe("classification and negotiation", () => {
  test("error codes", () => {
    expect(classifyError({ code: "ECONNREFUSED" })).toBe("refused");
    expect(classifyError({ code: "ENOTFOUND" })).toBe("unreachable");
    expect(classifyError(new Error("anything"))).toBe("unreachable");
    expect(classifyError(undefined)).toBe("unreachable");
  });

  test("Accept: JSON unless HTML ranks strictly higher", () => {
    expect(prefersJson(null)).toBe(true);
    expect(prefersJson("")).toBe(true);
    expect(prefersJson("*/*")).toBe(true);
    expect(prefersJson("application/json")).toBe(true);
    expect(prefersJson("text/html")).toBe(false);
    expect(prefersJson("text/*")).toBe(false);
    expect(prefersJson("text/html;q=0.5, application/json")).toBe(true);
    expect(prefersJson("application/json;q=0.4, text/html;q=0.5")).toBe(false);
    expect(prefersJson("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")).toBe(false);
    expect(prefersJson("text/plain")).toBe(true);
    expect(prefersJson("garbage;;;q=x,,,")).toBe(true);
  });
});
