/**
 * HTTPS to an IP address: clients send no SNI for IP literals (RFC 6066 §3),
 * so Bun.serve answers with its default context. The default names the IP
 * addresses HTTPS proxies serve, signed by the local CA, and a client that
 * trusts only the exported root verifies it: `openssl s_client` without a
 * server name, curl to https://127.0.0.1:PORT/, Bun's fetch. Who can put an
 * address there (only the proxy's owner), and `*.localhost` refused with the
 * way out (`*.app.localhost`), which clients do accept.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AddressCertificate, ADDRESS_CERTIFICATE_NAME, MAX_ADDRESSES, proxyAddresses } from "../../src/certificates/address-certificate";
import { LiveCertificates, SELF_SIGNED_NAME } from "../../src/certificates/live-certificates";
import { LocalCa } from "../../src/certificates/local-ca";
import { CertificateRepository } from "../../src/storage/certificate-repository";
import pino from "pino";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

let redis: TestRedis;
let gw: TestGateway;
const backend = namedBackend("by-address");
let alice: string;
let bob: string;
let caFile: string;
let root: X509Certificate;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { AUTO_CERTIFICATES: "true", LOCAL_CA_CERT_DAYS: "7", SELF_SIGNED_CN: "fallback.portcullis.invalid" });
  alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token;
  const pem = (await gw.api("GET", "/api/v1/certificates/root")).json.pem as string;
  root = new X509Certificate(pem);
  caFile = join(tempDir("address-root"), "root.pem");
  writeFileSync(caFile, pem);
}, 30_000);
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});

async function run(argv: string[], stdin = ""): Promise<{ code: number; output: string }> {
  const child = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  child.stdin.write(stdin);
  child.stdin.end();
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, output: out + err };
}

/** The chain the gateway gives a client that sends no server name, as openssl sees it (`-noservername`). */
async function noSniCertificate(): Promise<X509Certificate> {
  const { output } = await run(["openssl", "s_client", "-connect", `127.0.0.1:${gw.gateway.httpsPort}`, "-noservername", "-showcerts"]);
  const pem = output.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
  if (!pem) throw new Error(`no certificate from openssl: ${output}`);
  return new X509Certificate(pem[0]);
}

/** Until a no-SNI client gets a certificate `accept`s (the swap is asynchronous and drains the previous server). */
async function untilNoSni(accept: (cert: X509Certificate) => boolean, timeoutMs = 10_000): Promise<X509Certificate> {
  const deadline = Date.now() + timeoutMs;
  let last = await noSniCertificate();
  while (!(accept(last) && !gw.gateway.httpsDraining)) {
    if (Date.now() > deadline) throw new Error(`not served within ${timeoutMs} ms; last: ${last.subjectAltName ?? last.subject}`);
    await Bun.sleep(20);
    last = await noSniCertificate();
  }
  return last;
}

const sans = (cert: X509Certificate) => cert.subjectAltName ?? "";

/** curl https://<address>:PORT/ trusting only the root, connecting to 127.0.0.1 (the gateway's SERVER_HOST). */
const curl = (address: string) =>
  run(["curl", "-sS", "--max-time", "10", "--cacert", caFile, "--connect-to", `${address}:${gw.gateway.httpsPort}:127.0.0.1:${gw.gateway.httpsPort}`, `https://${address}:${gw.gateway.httpsPort}/`]);

describe("HTTPS without SNI (a client connecting to an IP address)", () => {
  test("no IP-address proxy: the self-signed fallback, as before", async () => {
    const cert = await noSniCertificate();
    expect(cert.subject).toContain("fallback.portcullis.invalid");
    expect(cert.checkIssued(root)).toBe(false);
  });

  test("a proxy for 127.0.0.1: its local-CA certificate is the default; curl, openssl and fetch verify it against the root alone", async () => {
    const created = await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: "127.0.0.1", target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.status).toBe(201);
    const own = (await gw.apiAs(alice, "GET", `/api/v1/certificates/${created.json.cert_name}`)).json;
    // One address, served by one certificate: that certificate itself, with or without SNI.
    const served = await untilNoSni((c) => c.fingerprint256 === new X509Certificate(own.fullchain_pem).fingerprint256);
    expect(sans(served)).toBe("IP Address:127.0.0.1");

    const viaCurl = await curl("127.0.0.1");
    expect(viaCurl.code).toBe(0);
    expect(JSON.parse(viaCurl.output).backend).toBe("by-address");

    const viaOpenssl = await run(["openssl", "s_client", "-connect", `127.0.0.1:${gw.gateway.httpsPort}`, "-noservername", "-verify_ip", "127.0.0.1", "-CAfile", caFile, "-verify_return_error", "-brief"]);
    expect(viaOpenssl.output).toContain("Verification: OK");
    expect(viaOpenssl.code).toBe(0);

    const viaFetch = await fetch(`https://127.0.0.1:${gw.gateway.httpsPort}/`, { tls: { ca: root.toString() } });
    expect(viaFetch.status).toBe(200);
    expect(((await viaFetch.json()) as { backend: string }).backend).toBe("by-address");

    // The address counts: the same chain for another address fails verification.
    const wrongAddress = await run(["openssl", "s_client", "-connect", `127.0.0.1:${gw.gateway.httpsPort}`, "-noservername", "-verify_ip", "127.0.0.3", "-CAfile", caFile, "-verify_return_error", "-brief"]);
    expect(wrongAddress.code).not.toBe(0);
  }, 30_000);

  test("a second owner's proxy for 127.0.0.2: one local-CA leaf names both addresses and verifies for each", async () => {
    const created = await gw.apiAs(bob, "POST", "/api/v1/proxy/targets/", { hostname: "127.0.0.2", target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.status).toBe(201);
    const served = await untilNoSni((c) => sans(c) === "IP Address:127.0.0.1, IP Address:127.0.0.2");
    expect(served.checkIssued(root)).toBe(true);
    expect(served.verify(root.publicKey)).toBe(true);
    expect(served.subject).toContain("127.0.0.1");
    for (const address of ["127.0.0.1", "127.0.0.2"]) {
      const answer = await curl(address);
      expect(answer.code).toBe(0);
      const echoed = JSON.parse(answer.output);
      expect(echoed.backend).toBe("by-address");
      // The proxy for that address answered (a loopback backend gets its own Host; the client's is forwarded).
      expect(echoed.headers["x-forwarded-host"]).toBe(`${address}:${gw.gateway.httpsPort}`);
    }
    // The leaf is this node's, reported with the others' expiries (/metrics): it is renewed before it runs out.
    const metrics = await (await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`)).text();
    expect(metrics).toContain(`certificate="${ADDRESS_CERTIFICATE_NAME}"`);
  }, 30_000);

  test("an HTTPS-off proxy's address is not named; deleting proxies takes their addresses out, then back to the self-signed fallback", async () => {
    expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "127.0.0.4", target_url: `http://127.0.0.1:${backend.port}`, enable_https: false })).status).toBe(201);
    // A change the default follows (a proxy event) happens meanwhile; 127.0.0.4 never appears.
    expect(sans(await untilNoSni((c) => sans(c).includes("127.0.0.2")))).not.toContain("127.0.0.4");

    expect((await gw.apiAs(bob, "DELETE", "/api/v1/proxy/targets/127.0.0.2")).status).toBeLessThan(300);
    expect(sans(await untilNoSni((c) => sans(c) === "IP Address:127.0.0.1"))).toBe("IP Address:127.0.0.1");
    expect((await gw.apiAs(alice, "DELETE", "/api/v1/proxy/targets/127.0.0.1")).status).toBeLessThan(300);
    const back = await untilNoSni((c) => c.subject.includes("fallback.portcullis.invalid"));
    expect(back.checkIssued(root)).toBe(false);
    expect((await gw.api("DELETE", "/api/v1/proxy/targets/127.0.0.4")).status).toBeLessThan(300);
  }, 30_000);
});

describe("who can put an address into the default certificate", () => {
  test("only the proxy's owner: another token can neither take the address's proxy, its certificate, nor add it by a certificate request", async () => {
    expect((await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: "127.0.0.5", target_url: `http://127.0.0.1:${backend.port}` })).status).toBe(201);
    await untilNoSni((c) => sans(c) === "IP Address:127.0.0.5");

    // A "wildcard" over addresses (a name ending in a number that is no address): refused for everyone.
    const overAddresses = await gw.apiAs(bob, "POST", "/api/v1/proxy/targets/", { hostname: "*.0.0.5", target_url: `http://127.0.0.1:${backend.port}` });
    expect(overAddresses.status).toBe(422);
    expect(overAddresses.json.detail).toContain("not an IPv4 address");
    // The same proxy again: taken.
    expect((await gw.apiAs(bob, "POST", "/api/v1/proxy/targets/", { hostname: "127.0.0.5", target_url: `http://127.0.0.1:${backend.port}` })).status).toBe(409);
    // A certificate for alice's address: refused, nothing stored.
    const stolen = await gw.apiAs(bob, "POST", "/api/v1/certificates/", { cert_name: "mine", domain: "127.0.0.5" });
    expect(stolen.status).toBe(403);
    expect((await gw.api("GET", "/api/v1/certificates/mine")).status).toBe(404);
    // Switching alice's proxy's HTTPS off (which would drop her address): not bob's to change.
    expect([403, 404]).toContain((await gw.apiAs(bob, "PUT", "/api/v1/proxy/targets/127.0.0.5", { enable_https: false })).status);
    // A certificate for an address no proxy serves is bob's own; it never becomes the default.
    const own = await gw.apiAs(bob, "POST", "/api/v1/certificates/", { cert_name: "bobs-address", domain: "127.0.0.6" });
    expect(own.status).toBe(201);
    await Bun.sleep(300);
    const served = await untilNoSni((c) => sans(c) === "IP Address:127.0.0.5");
    expect(sans(served)).not.toContain("127.0.0.6");
    expect(served.fingerprint256).toBe(new X509Certificate((await gw.apiAs(alice, "GET", "/api/v1/certificates/proxy-127-0-0-5")).json.fullchain_pem).fingerprint256);
  }, 30_000);
});

describe("AddressCertificate (one node's choice, with a real local CA)", () => {
  test("proxyAddresses: HTTPS proxies' IP hostnames only, sorted, once each", () => {
    const proxies = [
      { hostname: "10.0.0.2", enable_https: true },
      { hostname: "api.example.com", enable_https: true },
      { hostname: "10.0.0.1", enable_https: true },
      { hostname: "10.0.0.3", enable_https: false },
      { hostname: "10.0.0.1", enable_https: true },
      { hostname: "intranet", enable_https: true },
    ];
    expect(proxyAddresses(proxies)).toEqual({ addresses: ["10.0.0.1", "10.0.0.2"], dropped: 0 });
  });

  test(`proxyAddresses: at most ${MAX_ADDRESSES}, the oldest proxies' (newer ones never push an address out)`, () => {
    const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
    // Created in order 10.0.1.0, 10.0.1.1, ...; the newest five have addresses that sort first.
    const proxies = Array.from({ length: MAX_ADDRESSES }, (_, i) => ({ hostname: `10.0.1.${i}`, enable_https: true, created_at: at(i) }));
    for (let i = 0; i < 5; i++) proxies.push({ hostname: `10.0.0.${i}`, enable_https: true, created_at: at(MAX_ADDRESSES + i) });
    const { addresses, dropped } = proxyAddresses(proxies);
    expect(dropped).toBe(5);
    expect(addresses).toHaveLength(MAX_ADDRESSES);
    expect(addresses).toContain("10.0.1.0");
    expect(addresses).toContain(`10.0.1.${MAX_ADDRESSES - 1}`);
    expect(addresses.some((a) => a.startsWith("10.0.0."))).toBe(false);
  });

  test("reuses the one certificate serving every address; else signs one leaf, kept until the addresses change or a third of its life is left", async () => {
    const ca = new LocalCa(redis.client);
    let signed = 0;
    const picker = new AddressCertificate((addresses) => {
      signed++;
      return ca.sign(addresses, 3);
    });
    expect(await picker.pick([], new Map())).toBeNull();
    const single = { cert_name: "proxy-10-0-0-1", cert: "C", key: "K" };
    expect(await picker.pick(["10.0.0.1"], new Map([["10.0.0.1", single]]))).toEqual({ served: single });
    expect(signed).toBe(0);

    const now = Date.now();
    const both = (await picker.pick(["10.0.0.1", "10.0.0.2"], new Map([["10.0.0.1", single]]), now))!;
    expect(signed).toBe(1);
    expect(both.served.cert_name).toBe(ADDRESS_CERTIFICATE_NAME);
    expect(new X509Certificate(both.served.cert).subjectAltName).toBe("IP Address:10.0.0.1, IP Address:10.0.0.2");
    expect(new X509Certificate(both.served.cert).checkIssued(new X509Certificate((await ca.root()).pem))).toBe(true);
    expect(both.renewAtMs! - now).toBeGreaterThan(1.9 * 86_400_000);
    expect(both.renewAtMs! - now).toBeLessThan(2.1 * 86_400_000);

    expect((await picker.pick(["10.0.0.1", "10.0.0.2"], new Map(), now + 60_000))!.served.cert).toBe(both.served.cert);
    expect(signed).toBe(1);
    const later = (await picker.pick(["10.0.0.1", "10.0.0.2"], new Map(), both.renewAtMs!))!;
    expect(later.served.cert).not.toBe(both.served.cert);
    expect(signed).toBe(2);
    const changed = (await picker.pick(["10.0.0.1", "10.0.0.3"], new Map(), both.renewAtMs!))!;
    expect(new X509Certificate(changed.served.cert).subjectAltName).toBe("IP Address:10.0.0.1, IP Address:10.0.0.3");
    expect(signed).toBe(3);
  });
});

describe("LiveCertificates with an IP-address default", () => {
  test("a failed signing keeps the previous default (never a half-changed set) and the next reload catches up", async () => {
    const ca = new LocalCa(redis.client);
    let failing = false;
    const certificate = new AddressCertificate((addresses) => (failing ? Promise.reject(new Error("local CA unreadable")) : ca.sign(addresses, 7)));
    let proxies = [
      { hostname: "10.9.0.1", enable_https: true, created_at: "2026-01-01T00:00:00Z" },
      { hostname: "10.9.0.2", enable_https: true, created_at: "2026-01-01T00:00:01Z" },
    ];
    const live = new LiveCertificates(new CertificateRepository(redis.client), { commonName: "fallback.invalid", days: 30 }, pino({ level: "silent" }), () => false, {
      proxies: async () => proxies,
      certificate,
    });
    try {
      expect(live.wants("proxy_updated")).toBe(true);
      await live.reload();
      const first = live.served.fallback;
      expect(first.cert_name).toBe(ADDRESS_CERTIFICATE_NAME);
      expect(new X509Certificate(first.cert).subjectAltName).toBe("IP Address:10.9.0.1, IP Address:10.9.0.2");

      failing = true;
      proxies = [...proxies, { hostname: "10.9.0.3", enable_https: true, created_at: "2026-01-01T00:00:02Z" }];
      await live.reload();
      expect(live.served.fallback).toEqual(first);

      failing = false;
      await live.reload();
      expect(new X509Certificate(live.served.fallback.cert).subjectAltName).toBe("IP Address:10.9.0.1, IP Address:10.9.0.2, IP Address:10.9.0.3");
      expect(live.expiries().map((e) => e.certificate)).toContain(ADDRESS_CERTIFICATE_NAME);

      proxies = [];
      await live.reload();
      expect(live.served.fallback.cert_name).toBe(SELF_SIGNED_NAME);
    } finally {
      live.stop();
    }
  });
});

describe("wildcards over *.localhost", () => {
  test("*.localhost is refused with a 422 naming the way out; *.app.localhost gets a local-CA certificate that openssl verifies for a name under it", async () => {
    const refused = await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "*.localhost", target_url: `http://127.0.0.1:${backend.port}` });
    expect(refused.status).toBe(422);
    expect(refused.json.detail).toContain('"*.app.localhost"');
    expect((await gw.api("GET", "/api/v1/proxy/targets/")).json.map((p: any) => p.hostname)).not.toContain("*.localhost");

    const created = await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "*.app.localhost", target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.status).toBe(201);
    const cert = (await gw.api("GET", `/api/v1/certificates/${created.json.cert_name}`)).json;
    expect(cert.issuer).toBe("local-ca");
    const pem = join(tempDir("wildcard-leaf"), "leaf.pem");
    writeFileSync(pem, cert.fullchain_pem);
    const verified = await run(["openssl", "verify", "-CAfile", caFile, "-verify_hostname", "web.app.localhost", pem]);
    expect(verified.output).toContain("OK");
    expect(verified.code).toBe(0);
    const deadline = Date.now() + 10_000;
    let answer = await run(["curl", "-sS", "--max-time", "10", "--cacert", caFile, "--resolve", `web.app.localhost:${gw.gateway.httpsPort}:127.0.0.1`, `https://web.app.localhost:${gw.gateway.httpsPort}/`]);
    while (answer.code !== 0 && Date.now() < deadline) {
      await Bun.sleep(50);
      answer = await run(["curl", "-sS", "--max-time", "10", "--cacert", caFile, "--resolve", `web.app.localhost:${gw.gateway.httpsPort}:127.0.0.1`, `https://web.app.localhost:${gw.gateway.httpsPort}/`]);
    }
    expect(answer.code).toBe(0);
    expect(JSON.parse(answer.output).backend).toBe("by-address");
  }, 30_000);
});
