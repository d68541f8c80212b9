/**
 * Header rules: anti-spoofing of X-Forwarded-* (untrusted and trusted peer),
 * X-Auth-* stripping, hop-by-hop removal, Host, custom headers. First as the
 * pure function, then end to end through real sockets.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { forwardTarget, rewriteResponseHeaders, upstreamRequestHeaders, type ForwardContext } from "../../src/proxies";
import { visitUpstreamRequestHeaders } from "../../src/proxies/headers";
import { rawExchange, startEchoBackend, startGateway, type Echo } from "./harness";

const untrusted: ForwardContext = { clientIp: "203.0.113.7", proto: "https", trustedPeer: false };
const trusted: ForwardContext = { clientIp: "::ffff:10.0.0.2", proto: "http", trustedPeer: true };

const spoofed = () =>
  new Headers({
    host: "app.example.com",
    "x-forwarded-for": "1.1.1.1, 2.2.2.2",
    "x-forwarded-proto": "gopher",
    "x-forwarded-host": "evil.example",
    "x-real-ip": "9.9.9.9",
    forwarded: "for=1.1.1.1;proto=https",
    "x-auth-user-id": "admin",
    "X-Auth-Scopes": "admin:all",
    "x-authorization-note": "kept: not an x-auth- prefix",
    authorization: "Bearer abc",
    connection: "keep-alive, X-Secret-Hop",
    "keep-alive": "timeout=5",
    "proxy-connection": "keep-alive",
    "proxy-authorization": "Basic Zm9vOmJhcg==",
    te: "trailers",
    trailer: "x-checksum",
    upgrade: "h2c",
    "x-secret-hop": "drop me",
    accept: "text/plain",
  });

describe("upstreamRequestHeaders (pure)", () => {
  const target = forwardTarget("http://10.1.2.3:8080/base/");

  test("untrusted peer: forwarding headers replaced, spoofed values gone", () => {
    const h = upstreamRequestHeaders(spoofed(), target, untrusted);
    expect(h.get("x-forwarded-for")).toBe("203.0.113.7");
    expect(h.get("x-forwarded-proto")).toBe("https");
    expect(h.get("x-forwarded-host")).toBe("app.example.com");
    expect(h.get("x-real-ip")).toBe("203.0.113.7");
    expect(h.has("forwarded")).toBe(false);
    expect(h.get("host")).toBe("10.1.2.3:8080");
  });

  test("trusted peer: X-Forwarded-For extended, client's proto/host/real-ip kept", () => {
    const h = upstreamRequestHeaders(spoofed(), target, trusted);
    expect(h.get("x-forwarded-for")).toBe("1.1.1.1, 2.2.2.2, 10.0.0.2");
    expect(h.get("x-forwarded-proto")).toBe("gopher");
    expect(h.get("x-forwarded-host")).toBe("evil.example");
    expect(h.get("x-real-ip")).toBe("9.9.9.9");
    expect(h.get("forwarded")).toBe("for=1.1.1.1;proto=https");
  });

  test("trusted peer without forwarding headers: filled in like an untrusted one", () => {
    const h = upstreamRequestHeaders(new Headers({ host: "a.example" }), target, trusted);
    expect(h.get("x-forwarded-for")).toBe("10.0.0.2");
    expect(h.get("x-forwarded-proto")).toBe("http");
    expect(h.get("x-forwarded-host")).toBe("a.example");
    expect(h.get("x-real-ip")).toBe("10.0.0.2");
  });

  test("trusted peer with X-Forwarded-For but no X-Real-IP: the first hop is the real IP", () => {
    const h = upstreamRequestHeaders(new Headers({ host: "a", "x-forwarded-for": " 5.6.7.8 , 10.0.0.9" }), target, trusted);
    expect(h.get("x-real-ip")).toBe("5.6.7.8");
  });

  test("X-Auth-* always stripped, trusted or not; other headers pass", () => {
    for (const context of [untrusted, trusted]) {
      const h = upstreamRequestHeaders(spoofed(), target, context);
      expect([...h.keys()].filter((k) => k.startsWith("x-auth-"))).toEqual([]);
      expect(h.get("x-authorization-note")).toBe("kept: not an x-auth- prefix");
      expect(h.get("authorization")).toBe("Bearer abc");
      expect(h.get("accept")).toBe("text/plain");
    }
  });

  test("hop-by-hop headers and those named in Connection removed", () => {
    const h = upstreamRequestHeaders(spoofed(), target, untrusted);
    for (const name of ["connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "upgrade", "x-secret-hop", "transfer-encoding"]) {
      expect(h.has(name)).toBe(false);
    }
  });

  test("preserve host on: the client's Host", () => {
    const h = upstreamRequestHeaders(spoofed(), forwardTarget("http://10.1.2.3:8080", { preserveHost: true }), untrusted);
    expect(h.get("host")).toBe("app.example.com");
  });

  test("default port is not written into Host", () => {
    expect(upstreamRequestHeaders(new Headers(), forwardTarget("https://api.internal/"), untrusted).get("host")).toBe("api.internal");
  });

  test("custom headers applied after stripping: they win, even X-Auth-* and X-Forwarded-Proto", () => {
    const t = forwardTarget("http://b:1", { requestHeaders: { "X-Auth-Service": "gateway", "X-Forwarded-Proto": "https", Accept: "application/json" } });
    const h = upstreamRequestHeaders(spoofed(), t, untrusted);
    expect(h.get("x-auth-service")).toBe("gateway");
    expect(h.get("x-auth-user-id")).toBeNull();
    expect(h.get("x-forwarded-proto")).toBe("https");
    expect(h.get("accept")).toBe("application/json");
  });

  test("the trace's X-Request-Id and traceparent: sent once, last, in place of the client's; custom headers naming them win", () => {
    const trace = { requestId: "gw-1", traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-00`, traceId: "1".repeat(32), continued: false };
    const client = new Headers({ host: "app.example.com", "x-request-id": "client-id", traceparent: `00-${"3".repeat(32)}-${"4".repeat(16)}-01`, accept: "*/*" });
    const plain = upstreamRequestHeaders(client, forwardTarget("http://b:1"), { ...untrusted, trace });
    expect(plain.get("x-request-id")).toBe("gw-1");
    expect(plain.get("traceparent")).toBe(trace.traceparent);
    // Headers iterates sorted, so the order is read from the sink instead.
    const order: string[] = [];
    visitUpstreamRequestHeaders(client, forwardTarget("http://b:1"), { ...untrusted, trace }, (name) => order.push(name));
    expect(order.slice(-2)).toEqual(["x-request-id", "traceparent"]);
    expect(order.filter((name) => name === "x-request-id" || name === "traceparent")).toHaveLength(2);
    const custom = forwardTarget("http://b:1", { requestHeaders: { "X-Request-Id": "fixed", traceparent: `00-${"5".repeat(32)}-${"6".repeat(16)}-00` } });
    const sent: [string, string][] = [];
    visitUpstreamRequestHeaders(client, custom, { ...untrusted, trace }, (name, value) => sent.push([name, value]));
    // Custom headers keep the operator's spelling.
    expect(sent.filter(([name]) => /^(x-request-id|traceparent)$/i.test(name))).toEqual([
      ["X-Request-Id", "fixed"],
      ["traceparent", `00-${"5".repeat(32)}-${"6".repeat(16)}-00`],
    ]);
  });

  test("custom header values with CR/LF are refused", () => {
    const t = forwardTarget("http://b:1", { requestHeaders: { "x-a": "1\r\nx-injected: 1", "bad name": "v", "x-ok": "yes" } });
    const h = upstreamRequestHeaders(new Headers(), t, untrusted);
    expect(h.has("x-a")).toBe(false);
    expect(h.has("x-injected")).toBe(false);
    expect(h.get("x-ok")).toBe("yes");
  });

  test("response: hop-by-hop removed, custom response headers set", () => {
    const t = forwardTarget("http://b:1", { responseHeaders: { "Strict-Transport-Security": "max-age=60", "x-served-by": "portcullis" } });
    const h = rewriteResponseHeaders(
      new Headers({ connection: "close, x-hop", "x-hop": "1", "keep-alive": "timeout=5", "x-served-by": "backend", "content-encoding": "gzip" }),
      t,
    );
    expect([...h.keys()].sort()).toEqual(["content-encoding", "strict-transport-security", "x-served-by"]);
    expect(h.get("x-served-by")).toBe("portcullis");
  });
});

describe("headers end to end", () => {
  const backend = startEchoBackend();
  const gateways: ReturnType<typeof startGateway>[] = [];
  const gateway = (options: Parameters<typeof forwardTarget>[1] = {}, trustedPeer = false) => {
    const g = startGateway(forwardTarget(backend.url, options), { trustedPeer });
    gateways.push(g);
    return g;
  };
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await backend.stop();
  });

  const send = async (g: ReturnType<typeof startGateway>, headers: Record<string, string>) => {
    const response = await fetch(g.url + "/h", { headers });
    return { response, echo: (await response.json()) as Echo };
  };

  test("untrusted client: spoofed forwarding and identity headers never reach the backend", async () => {
    const { echo } = await send(gateway(), Object.fromEntries(spoofed()));
    expect(echo.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(echo.headers["x-real-ip"]).toBe("127.0.0.1");
    expect(echo.headers["x-forwarded-proto"]).toBe("http");
    expect(echo.headers["x-forwarded-host"]).toBe("app.example.com");
    expect(echo.headers.forwarded).toBeUndefined();
    expect(Object.keys(echo.headers).filter((k) => k.startsWith("x-auth-"))).toEqual([]);
    expect(echo.headers["x-secret-hop"]).toBeUndefined();
    expect(echo.headers["proxy-authorization"]).toBeUndefined();
    expect(echo.headers.authorization).toBe("Bearer abc");
  });

  test("trusted peer: X-Forwarded-For appended, client's values kept", async () => {
    const { echo } = await send(gateway({}, true), Object.fromEntries(spoofed()));
    expect(echo.headers["x-forwarded-for"]).toBe("1.1.1.1, 2.2.2.2, 127.0.0.1");
    expect(echo.headers["x-forwarded-proto"]).toBe("gopher");
    expect(echo.headers["x-real-ip"]).toBe("9.9.9.9");
    expect(Object.keys(echo.headers).filter((k) => k.startsWith("x-auth-"))).toEqual([]);
  });

  test("repeated spoofed X-Forwarded-For lines are all dropped", async () => {
    const g = gateway();
    const raw = await rawExchange(
      g.port,
      "GET /h HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 7.7.7.7\r\nX-Auth-User: x\r\nx-auth-user: y\r\nConnection: close\r\n\r\n",
    );
    const echo = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as Echo;
    expect(echo.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(echo.headers["x-auth-user"]).toBeUndefined();
  });

  test("preserve_host_header off: backend's host:port; on: the client's Host", async () => {
    const off = await send(gateway(), { host: "client.example" });
    expect(off.echo.headers.host).toBe(new URL(backend.url).host);
    const on = await send(gateway({ preserveHost: true }), { host: "client.example:8443" });
    expect(on.echo.headers.host).toBe("client.example:8443");
  });

  test("custom request and response headers", async () => {
    const g = gateway({ requestHeaders: { "X-Tenant": "blue", "X-Auth-Gateway": "yes" }, responseHeaders: { "X-Frame-Options": "DENY", "x-backend": "hidden" } });
    const { response, echo } = await send(g, { "x-tenant": "red", "x-auth-gateway": "spoofed" });
    expect(echo.headers["x-tenant"]).toBe("blue");
    expect(echo.headers["x-auth-gateway"]).toBe("yes");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("x-backend")).toBe("hidden");
  });
});
