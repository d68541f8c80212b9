/**
 * The HTTPS edge of two gateway nodes sharing one Redis, over real sockets:
 * certificates from Redis chosen by SNI (wildcards included), the shared
 * self-signed fallback, certificate changes reaching every node within a
 * second, forwarding as on HTTP, and per-proxy HSTS.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { keys } from "../../src/storage/keys";
import { createStores, type Stores } from "../../src/storage/stores";
import { namedBackend, servedEverywhere, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { certificateRecord, createTestCa, peerCertificate, type IssuedCertificate, type TestCa } from "../helpers/test-ca";

const FALLBACK_CN = "fallback.portcullis.test";
let redis: TestRedis;
let nodes: TestGateway[];
let stores: Stores;
let ca: TestCa;
const backend = namedBackend("alpha");

beforeAll(async () => {
  redis = await startTestRedis();
  ca = await createTestCa();
  const env = { SELF_SIGNED_CN: FALLBACK_CN, SELF_SIGNED_DAYS: "30" };
  nodes = await Promise.all([startTestGateway(redis, env), startTestGateway(redis, env)]);
  stores = createStores(redis.client);
});
afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.stop()));
  await redis?.stop();
  backend.stop(true);
});
beforeEach(async () => {
  for (const c of await stores.certificates.list()) await stores.certificates.delete(c.cert_name);
  for (const p of await stores.proxies.list()) await stores.proxies.delete(p.hostname);
});

const httpsPort = (node = nodes[0]!) => node.gateway.httpsPort;


async function addCertificate(name: string, domains: string[]): Promise<IssuedCertificate> {
  const issued = await ca.issue(domains[0]!, domains);
  await stores.certificates.create(certificateRecord(name, domains, issued));
  await servedEverywhere(nodes, domains[0]!.replace(/^\*\./, "probe."), issued.fingerprint256);
  return issued;
}

function httpsGet(host: string, path = "/", node = nodes[0]!, init: RequestInit = {}): Promise<Response> {
  return fetch(`https://127.0.0.1:${httpsPort(node)}${path}`, { ...init, tls: { ca: ca.pem, serverName: host }, headers: { host } });
}

async function createProxy(hostname: string, extra: Record<string, unknown> = {}) {
  const res = await nodes[0]!.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: `http://127.0.0.1:${backend.port}`, ...extra });
  expect(res.status).toBe(201);
  for (const node of nodes) {
    while ((await node.get(hostname, "/", { redirect: "manual" })).status === 404) await Bun.sleep(2);
  }
}

describe("certificate selection", () => {
  test("SNI picks the exact certificate, then the wildcard one label up; other names get the fallback", async () => {
    const exact = await addCertificate("exact", ["a.example.test"]);
    const wildcard = await addCertificate("wildcard", ["*.example.test"]);
    const multi = await addCertificate("multi", ["one.other.test", "two.other.test"]);
    for (const node of nodes) {
      const served = async (name?: string) => peerCertificate(httpsPort(node), name);
      expect((await served("a.example.test")).fingerprint256).toBe(exact.fingerprint256);
      expect(await served("b.example.test")).toMatchObject({ fingerprint256: wildcard.fingerprint256, subjectAltName: "DNS:*.example.test" });
      expect(await served("two.other.test")).toMatchObject({ fingerprint256: multi.fingerprint256, subjectAltName: "DNS:one.other.test, DNS:two.other.test" });
      expect((await served("A.EXAMPLE.TEST")).fingerprint256).toBe(exact.fingerprint256);
      // A wildcard covers one label only.
      expect((await served("x.b.example.test")).subjectCn).toBe(FALLBACK_CN);
      expect((await served("example.test")).subjectCn).toBe(FALLBACK_CN);
      expect((await served(undefined)).subjectCn).toBe(FALLBACK_CN);
    }
  });

  test("a certificate whose key does not match is not served; the others are", async () => {
    const good = await ca.issue("good.example.test", ["good.example.test"]);
    const other = await ca.issue("bad.example.test", ["bad.example.test"]);
    await stores.certificates.create(certificateRecord("bad", ["bad.example.test"], { ...other, private_key_pem: good.private_key_pem }));
    await stores.certificates.create(certificateRecord("good", ["good.example.test"], good));
    await servedEverywhere(nodes, "good.example.test", good.fingerprint256);
    expect((await peerCertificate(httpsPort(), "bad.example.test")).subjectCn).toBe(FALLBACK_CN);
  });
});

describe("the self-signed fallback", () => {
  test("is SELF_SIGNED_CN, valid SELF_SIGNED_DAYS, stored in Redis and the same on every node", async () => {
    const [first, second] = await Promise.all(nodes.map((n) => peerCertificate(httpsPort(n), "unknown.example.org")));
    expect(first!.fingerprint256).toBe(second!.fingerprint256);
    expect(first).toMatchObject({ subjectCn: FALLBACK_CN, subjectAltName: `DNS:${FALLBACK_CN}` });
    const stored = JSON.parse((await redis.client.get(keys.selfSignedCertificate(FALLBACK_CN)))!);
    const cert = new X509Certificate(stored.fullchain_pem);
    expect(cert.fingerprint256).toBe(first!.fingerprint256);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
  });

  test("is re-created when it expires, once, and every node switches to the new one", async () => {
    const key = keys.selfSignedCertificate(FALLBACK_CN);
    const current = JSON.parse((await redis.client.get(key))!);
    const expired = await ca.issue(FALLBACK_CN, [FALLBACK_CN], { notBefore: new Date(Date.now() - 3 * 86_400_000), days: 1 });
    await redis.client.set(key, JSON.stringify({ ...current, ...expired }));
    // Announced the way any writer announces it; each node finds it expired and one replaces it.
    const announced = (await redis.client.xadd(keys.workflowStream, "*", "event_type", "self_signed_certificate_ready", "hostname", "", "data", "{}", "timestamp", new Date().toISOString()))!;
    let renewed: X509Certificate | undefined;
    for (let i = 0; i < 500 && !renewed; i++) {
      const stored = JSON.parse((await redis.client.get(key))!);
      if (stored.fullchain_pem !== expired.fullchain_pem) renewed = new X509Certificate(stored.fullchain_pem);
      else await Bun.sleep(4);
    }
    expect(renewed).toBeDefined();
    expect(Date.parse(renewed!.validTo)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    await servedEverywhere(nodes, "unknown.example.org", renewed!.fingerprint256);
    // One renewal, whichever node won.
    const renewals = (await redis.client.xrange(keys.workflowStream, "(" + announced, "+")).filter(([, f]) => f[1] === "self_signed_certificate_ready");
    expect(renewals.length).toBe(1);
  });
});

describe("certificate changes", () => {
  test("adding, replacing and deleting a certificate is served by every node within a second", async () => {
    const first = await ca.issue("live.example.test", ["live.example.test"]);
    await stores.certificates.create(certificateRecord("live", ["live.example.test"], first));
    expect(await servedEverywhere(nodes, "live.example.test", first.fingerprint256)).toBeLessThan(1_000);

    const second = await ca.issue("live.example.test", ["live.example.test"]);
    await stores.certificates.replace(certificateRecord("live", ["live.example.test"], second));
    expect(await servedEverywhere(nodes, "live.example.test", second.fingerprint256)).toBeLessThan(1_000);

    await stores.certificates.delete("live");
    const fallback = await peerCertificate(httpsPort(), "unknown.example.org");
    expect(await servedEverywhere(nodes, "live.example.test", fallback.fingerprint256)).toBeLessThan(1_000);
  });

  test("a burst of changes ends with the last one served", async () => {
    let last: IssuedCertificate | undefined;
    for (let i = 0; i < 10; i++) {
      last = await ca.issue("burst.example.test", ["burst.example.test"]);
      const record = certificateRecord("burst", ["burst.example.test"], last);
      if (i === 0) await stores.certificates.create(record);
      else await stores.certificates.replace(record);
    }
    expect(await servedEverywhere(nodes, "burst.example.test", last!.fingerprint256)).toBeLessThan(1_000);
  });
});

describe("forwarding over HTTPS", () => {
  test("dispatches like HTTP and tells the backend the client came over https", async () => {
    await addCertificate("app", ["app.example.test"]);
    await createProxy("app.example.test");
    for (const node of nodes) {
      const res = await httpsGet("app.example.test", "/x?y=1", node);
      expect(res.status).toBe(200);
      const seen = (await res.json()) as any;
      expect(seen).toMatchObject({ backend: "alpha", path: "/x?y=1" });
      expect(seen.headers["x-forwarded-host"]).toBe("app.example.test");
      expect(seen.headers["x-forwarded-proto"]).toBe("https");
      expect(seen.headers["x-forwarded-for"]).toBe("127.0.0.1");
      expect(res.headers.get("strict-transport-security")).toBeNull();
    }
    const unknown = await fetch(`https://127.0.0.1:${httpsPort()}/`, { tls: { rejectUnauthorized: false }, headers: { host: "nothing.example.org" } });
    expect(unknown.status).toBe(404);
  });

  test("an HTTPS-only proxy is served on HTTPS while HTTP clients are redirected", async () => {
    await addCertificate("secure", ["secure.example.test"]);
    await createProxy("secure.example.test", { enable_http: false });
    expect((await nodes[0]!.get("secure.example.test", "/p", { redirect: "manual" })).status).toBe(308);
    expect((await httpsGet("secure.example.test", "/p")).status).toBe(200);
  });

  test("a proxy with enable_https false is not served on HTTPS", async () => {
    await addCertificate("plain", ["plain.example.test"]);
    await createProxy("plain.example.test", { enable_https: false });
    expect((await httpsGet("plain.example.test")).status).toBe(404);
  });

  test("hsts_max_age adds Strict-Transport-Security to HTTPS responses only", async () => {
    await addCertificate("hsts", ["hsts.example.test"]);
    await createProxy("hsts.example.test", { hsts_max_age: 31_536_000 });
    const secure = await httpsGet("hsts.example.test");
    expect(secure.status).toBe(200);
    expect(secure.headers.get("strict-transport-security")).toBe("max-age=31536000");
    const plain = await nodes[0]!.get("hsts.example.test");
    expect(plain.status).toBe(200);
    expect(plain.headers.get("strict-transport-security")).toBeNull();

    const shown = await nodes[0]!.api("GET", "/api/v1/proxy/targets/hsts.example.test");
    expect(shown.json.hsts_max_age).toBe(31_536_000);
    const cleared = await nodes[0]!.api("PUT", "/api/v1/proxy/targets/hsts.example.test", { hsts_max_age: null });
    expect(cleared.json.hsts_max_age).toBeNull();
    for (let i = 0; i < 500 && (await httpsGet("hsts.example.test")).headers.has("strict-transport-security"); i++) await Bun.sleep(2);
    expect((await httpsGet("hsts.example.test")).headers.get("strict-transport-security")).toBeNull();
  });

  test("hsts_max_age defaults to null and must be whole seconds", async () => {
    await createProxy("default-hsts.example.test");
    expect((await nodes[0]!.api("GET", "/api/v1/proxy/targets/default-hsts.example.test")).json.hsts_max_age).toBeNull();
    for (const bad of [-1, 1.5, "soon", 400_000_000]) {
      const res = await nodes[0]!.api("POST", "/api/v1/proxy/targets/", { hostname: "bad-hsts.example.test", target_url: "http://127.0.0.1:1", hsts_max_age: bad });
      expect({ bad, status: res.status }).toEqual({ bad, status: 422 });
    }
  });

  test("plain HTTP or garbage sent to the HTTPS port closes that connection only", async () => {
    await addCertificate("app", ["app.example.test"]);
    await createProxy("app.example.test");
    const send = (bytes: string) =>
      new Promise<string>((resolve) => {
        let received = "";
        Bun.connect({
          hostname: "127.0.0.1",
          port: httpsPort(),
          socket: {
            open: (socket) => void socket.write(bytes),
            data: (_socket, chunk) => void (received += chunk.toString()),
            close: () => resolve(received),
            error: () => resolve(received),
          },
        });
      });
    // Never the backend: a TLS alert, nothing, or (behind the relay front) a 400 saying HTTPS is expected.
    expect(await send("GET / HTTP/1.1\r\nHost: app.example.test\r\n\r\n")).not.toMatch(/^HTTP\/1\.1 [23]/);
    expect(await send("\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00")).not.toContain("HTTP/1.1");
    expect((await httpsGet("app.example.test")).status).toBe(200);
  });
});

test("a busy HTTPS_PORT stops start-up with a message naming the setting", async () => {
  const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    const failure = await startTestGateway(redis, { HTTPS_PORT: String(busy.port) }).then(
      () => "started",
      (err: Error) => err.message,
    );
    expect(failure).toBe("HTTPS_PORT: the port is already in use by another process; stop it or choose another HTTPS_PORT");
  } finally {
    busy.stop(true);
  }
});
