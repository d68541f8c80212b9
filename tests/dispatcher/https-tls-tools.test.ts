/**
 * The HTTPS edge as standard tools see it: `openssl s_client` (protocol
 * versions, cipher suites, SNI, ALPN) and `curl` against a running gateway.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createStores } from "../../src/storage/stores";
import { namedBackend, servedEverywhere, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { certificateRecord, createTestCa, type IssuedCertificate } from "../helpers/test-ca";

let redis: TestRedis;
let gw: TestGateway;
let caFile: string;
let site: IssuedCertificate;
let wildcard: IssuedCertificate;
const backend = namedBackend("tools");

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { SELF_SIGNED_CN: "fallback.portcullis.test" });
  const ca = await createTestCa();
  caFile = join(tempDir("tls-tools"), "ca.pem");
  await Bun.write(caFile, ca.pem);
  const stores = createStores(redis.client);
  site = await ca.issue("site.example.test", ["site.example.test"]);
  wildcard = await ca.issue("*.apps.example.test", ["*.apps.example.test"]);
  await stores.certificates.create(certificateRecord("site", ["site.example.test"], site));
  await stores.certificates.create(certificateRecord("apps", ["*.apps.example.test"], wildcard));
  await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "site.example.test", target_url: `http://127.0.0.1:${backend.port}` });
  await servedEverywhere([gw], "x.apps.example.test", wildcard.fingerprint256);
  await servedEverywhere([gw], "site.example.test", site.fingerprint256);
  while ((await gw.get("site.example.test")).status !== 200) await Bun.sleep(5);
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});

/** Runs a command without blocking the event loop (the gateway runs in this process). */
async function run(cmd: string[], stdin?: string): Promise<{ code: number; out: string }> {
  const child = Bun.spawn(cmd, { stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, out: out + err };
}

const sClient = (serverName: string, ...flags: string[]) =>
  run(["openssl", "s_client", "-connect", `127.0.0.1:${gw.gateway.httpsPort}`, "-servername", serverName, "-CAfile", caFile, ...flags], "");

describe("openssl s_client", () => {
  test("TLS 1.0 and 1.1 are refused by the server, 1.2 and 1.3 are accepted and verify", async () => {
    // SECLEVEL=0 lets the client offer the old versions, so the refusal is the server's.
    for (const old of ["-tls1", "-tls1_1"]) {
      const refused = await sClient("site.example.test", old, "-cipher", "DEFAULT@SECLEVEL=0");
      expect({ old, code: refused.code }).toEqual({ old, code: 1 });
      expect(refused.out).toContain("alert protocol version");
    }
    const tls12 = await sClient("site.example.test", "-tls1_2");
    expect(tls12.code).toBe(0);
    expect(tls12.out).toMatch(/Protocol\s*: TLSv1\.2/);
    expect(tls12.out).toMatch(/Cipher is ECDHE-ECDSA-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)/);
    expect(tls12.out).toContain("Verify return code: 0 (ok)");
    const tls13 = await sClient("site.example.test", "-tls1_3");
    expect(tls13.code).toBe(0);
    expect(tls13.out).toMatch(/New, TLSv1\.3, Cipher is TLS_(AES_256_GCM_SHA384|AES_128_GCM_SHA256|CHACHA20_POLY1305_SHA256)/);
    expect(tls13.out).toContain("Verify return code: 0 (ok)");
  });

  test("TLS 1.2 suites without forward secrecy or AEAD are refused", async () => {
    for (const cipher of ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "AES128-GCM-SHA256"]) {
      const weak = await sClient("site.example.test", "-tls1_2", "-cipher", cipher);
      expect({ cipher, code: weak.code }).toEqual({ cipher, code: 1 });
      expect(weak.out).toContain("Cipher is (NONE)");
    }
  });

  test("SNI picks the certificate: subject and SAN of the served certificate", async () => {
    const served = async (serverName: string) => {
      const hello = await sClient(serverName);
      const parsed = await run(["openssl", "x509", "-noout", "-subject", "-ext", "subjectAltName"], hello.out);
      return parsed.out;
    };
    const direct = await served("site.example.test");
    expect(direct).toContain("subject=CN = site.example.test");
    expect(direct).toContain("DNS:site.example.test");
    const wild = await served("one.apps.example.test");
    expect(wild).toContain("subject=CN = *.apps.example.test");
    expect(wild).toContain("DNS:*.apps.example.test");
    const other = await served("elsewhere.example.org");
    expect(other).toContain("subject=CN = fallback.portcullis.test");
    expect(other).toContain("DNS:fallback.portcullis.test");
  });

  test("ALPN: Bun.serve (HTTP/1.1 only) selects no protocol, so clients fall back to HTTP/1.1", async () => {
    const offered = await sClient("site.example.test", "-alpn", "h2,http/1.1");
    expect(offered.code).toBe(0);
    expect(offered.out).toContain("No ALPN negotiated");
  });
});

describe("curl", () => {
  const curl = (...args: string[]) =>
    run(["curl", "-sS", "--cacert", caFile, "--resolve", `site.example.test:${gw.gateway.httpsPort}:127.0.0.1`, "-w", "\n%{http_code} %{http_version}", ...args]);
  const url = () => `https://site.example.test:${gw.gateway.httpsPort}/hello?x=1`;

  test("verifies the certificate and gets the backend's answer over HTTP/1.1, also when offering h2", async () => {
    for (const flags of [[], ["--http2"], ["--tlsv1.3"], ["--tlsv1.2", "--tls-max", "1.2"]]) {
      const res = await curl(...flags, url());
      expect({ flags, code: res.code }).toEqual({ flags, code: 0 });
      const [body, status] = res.out.split("\n");
      expect(status).toBe("200 1.1");
      expect(JSON.parse(body!)).toMatchObject({ backend: "tools", path: "/hello?x=1" });
      expect(JSON.parse(body!).headers["x-forwarded-host"]).toBe(`site.example.test:${gw.gateway.httpsPort}`);
      expect(JSON.parse(body!).headers["x-forwarded-proto"]).toBe("https");
    }
  });

  test("refuses TLS 1.1 and an untrusted fallback certificate", async () => {
    const old = await curl("--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0", url());
    expect(old.code).not.toBe(0);
    const fallback = await run(["curl", "-sS", "--cacert", caFile, "--resolve", `unknown.example.org:${gw.gateway.httpsPort}:127.0.0.1`, `https://unknown.example.org:${gw.gateway.httpsPort}/`]);
    expect(fallback.code).toBe(60); // peer certificate cannot be authenticated
    const insecure = await run(["curl", "-sSk", "-o", "/dev/null", "-w", "%{http_code}", "--resolve", `unknown.example.org:${gw.gateway.httpsPort}:127.0.0.1`, `https://unknown.example.org:${gw.gateway.httpsPort}/`]);
    expect(insecure.out).toBe("404");
  });
});
