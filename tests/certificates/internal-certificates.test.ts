/**
 * Internal names through a real gateway: a proxy for `mcp.test` gets a
 * certificate from the local CA at once, served over HTTPS, and a client that
 * trusts only the exported root (Bun's fetch, and `openssl s_client
 * -verify_return_error`) verifies it, hostname included. Also: the root's
 * export (API and CLI), explicit certificate requests for internal names,
 * renewal of short-lived leaves, and who sees what.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { CertificateManager } from "../../src/certificates/certificate-manager";
import { parseConfig } from "../../src/core/config";
import { CertificateRepository } from "../../src/storage/certificate-repository";
import { keys } from "../../src/storage/keys";
import { ProxyRepository } from "../../src/storage/proxy-repository";
import { cliSession } from "../helpers/cli-program";
import { namedBackend, servedEverywhere, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { closedPort } from "../helpers/ports";
import { createTestCa } from "../helpers/test-ca";

let redis: TestRedis;
let gw: TestGateway;
const backend = namedBackend("internal");
const home = tempDir("internal-certs-home");
let alice: string;
let bob: string;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, {
    AUTO_CERTIFICATES: "true",
    LOCAL_CA_CERT_DAYS: "7",
    // Public names go to ACME: here a CA nothing answers for, so their issuance fails and waits to be retried.
    ACME_DIRECTORY_URL: `https://127.0.0.1:${closedPort()}/dir`,
    CERT_RETRY_BASE_SECONDS: "600",
  });
  alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token;
}, 30_000);
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});

const rootPem = async () => (await gw.api("GET", "/api/v1/certificates/root")).json.pem as string;

/** GET https://<host>/ on the gateway's HTTPS port, trusting only `ca`. */
function httpsGet(host: string, ca: string): Promise<Response> {
  return fetch(`https://127.0.0.1:${gw.gateway.httpsPort}/`, { headers: { host }, tls: { ca, serverName: host } });
}

/** `openssl s_client` with the root as its only trust anchor, checking the hostname too. */
async function opensslVerify(host: string, caFile: string): Promise<{ code: number; output: string }> {
  const child = Bun.spawn(
    ["openssl", "s_client", "-connect", `127.0.0.1:${gw.gateway.httpsPort}`, "-servername", host, "-verify_hostname", host, "-CAfile", caFile, "-verify_return_error", "-brief"],
    { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  child.stdin.end();
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, output: out + err };
}

/** Until every new connection for `host` gets this chain (no TLS server from before the change still accepts). */
const served = (host: string, fullchain: string) => servedEverywhere([gw], host, new X509Certificate(fullchain).fingerprint256, 5_000);

describe("a proxy for an internal name", () => {
  test("mcp.test: a local-CA certificate at once, named by the proxy, served over HTTPS and verified by a client trusting only the root", async () => {
    const created = await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: "mcp.test", target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ hostname: "mcp.test", cert_name: "proxy-mcp-test", certificate: "proxy-mcp-test" });

    // The certificate the proxy names exists (cert list knows it), owned by the proxy's owner, from the local CA.
    const listed = (await gw.apiAs(alice, "GET", "/api/v1/certificates/")).json;
    expect(listed.map((c: any) => c.cert_name)).toContain("proxy-mcp-test");
    const cert = (await gw.apiAs(alice, "GET", "/api/v1/certificates/proxy-mcp-test")).json;
    expect(cert).toMatchObject({ cert_name: "proxy-mcp-test", domains: ["mcp.test"], issuer: "local-ca", status: "active", acme_directory_url: null });
    const leaf = new X509Certificate(cert.fullchain_pem);
    expect(leaf.subjectAltName).toBe("DNS:mcp.test");
    const lifetimeDays = (Date.parse(leaf.validTo) - Date.now()) / 86_400_000;
    expect(lifetimeDays).toBeGreaterThan(6.9);
    expect(lifetimeDays).toBeLessThanOrEqual(7);
    // Its status reads ready (nothing was queued for ACME).
    expect((await gw.apiAs(alice, "GET", "/api/v1/certificates/proxy-mcp-test/status")).json).toMatchObject({ status: "ready" });
    expect((await gw.api("GET", "/api/v1/proxy/targets/mcp.test")).json.certificate).toBe("proxy-mcp-test");

    const root = await rootPem();
    expect(leaf.verify(new X509Certificate(root).publicKey)).toBe(true);
    await served("mcp.test", cert.fullchain_pem);

    const res = await httpsGet("mcp.test", root);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { backend: string }).backend).toBe("internal");

    const caFile = join(tempDir("internal-root"), "root.pem");
    writeFileSync(caFile, root);
    const verified = await opensslVerify("mcp.test", caFile);
    expect(verified.output).toContain("Verification: OK");
    expect(verified.code).toBe(0);
    // The hostname counts: the same chain for another name fails verification.
    const wrongName = await opensslVerify("other.test", caFile);
    expect(wrongName.code).not.toBe(0);
  }, 30_000);

  test("a client trusting another CA refuses the certificate (it is not publicly trusted)", async () => {
    const otherCa = await createTestCa("Some other CA");
    let failure = "";
    try {
      await httpsGet("mcp.test", otherCa.pem);
    } catch (err) {
      failure = (err as Error).message;
    }
    expect(failure).not.toBe("");
  });

  test("a public name still goes to ACME, not to the local CA; the proxy's certificate column follows its issuance", async () => {
    const created = await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "public.example.com", target_url: `http://127.0.0.1:${backend.port}` });
    expect(created.status).toBe(201);
    expect(created.json.cert_name).toBe("proxy-public-example-com");
    // Queued (or already failed once, the CA being unreachable): never a certificate that does not exist.
    expect(created.json.certificate).toMatch(/^(pending|failed: )/);
    expect((await gw.api("GET", "/api/v1/certificates/proxy-public-example-com")).status).toBe(404);
    const deadline = Date.now() + 15_000;
    let shown = "";
    while (!shown.startsWith("failed: ") && Date.now() < deadline) {
      shown = (await gw.api("GET", "/api/v1/proxy/targets/public.example.com")).json.certificate;
      await Bun.sleep(50);
    }
    expect(shown).toMatch(/^failed: the ACME server cannot be reached at https:\/\/127\.0\.0\.1:\d+\/dir .* \(retrying at \d{4}-.*Z\)$/);
    const status = (await gw.api("GET", "/api/v1/certificates/proxy-public-example-com/status")).json;
    expect(status).toMatchObject({ status: "failed", operation: "issue", attempts: 1 });
    expect(status.retry_at).not.toBeNull();
    const listed = (await gw.api("GET", "/api/v1/proxy/targets/")).json.find((p: any) => p.hostname === "public.example.com");
    expect(listed.certificate).toBe(shown);
  }, 20_000);

  test("IPv4 and single-label hostnames are internal too: IP and DNS subject names", async () => {
    for (const [hostname, san] of [["127.0.0.9", "IP Address:127.0.0.9"], ["intranet", "DNS:intranet"]] as const) {
      const created = await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: `http://127.0.0.1:${backend.port}` });
      expect(created.status).toBe(201);
      const cert = (await gw.api("GET", `/api/v1/certificates/${created.json.cert_name}`)).json;
      expect(cert.issuer).toBe("local-ca");
      expect(new X509Certificate(cert.fullchain_pem).subjectAltName).toBe(san);
    }
  });
});

describe("certificate requests for internal names", () => {
  test("POST /certificates for internal names is signed at once (201), an internal wildcard included", async () => {
    const created = await gw.apiAs(bob, "POST", "/api/v1/certificates/multi-domain", { cert_name: "lab", domains: ["lab.internal", "*.apps.internal"] });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ cert_name: "lab", issuer: "local-ca", domains: ["lab.internal", "*.apps.internal"] });
    expect(created.json.private_key_pem).toBeUndefined();
    const leaf = new X509Certificate(created.json.fullchain_pem);
    expect(leaf.subjectAltName).toBe("DNS:lab.internal, DNS:*.apps.internal");
    expect(leaf.verify(new X509Certificate(await rootPem()).publicKey)).toBe(true);
  });

  test("a mix of internal and public names is refused with 422 naming the internal ones; nothing is stored or queued", async () => {
    const res = await gw.api("POST", "/api/v1/certificates/multi-domain", { cert_name: "mixed", domains: ["a.example.com", "b.test"] });
    expect(res.status).toBe(422);
    expect(res.json.detail ?? JSON.stringify(res.json)).toContain("b.test");
    expect((await gw.api("GET", "/api/v1/certificates/mixed/status")).status).toBe(404);
  });

  test('"root" is reserved as a certificate name', async () => {
    const res = await gw.api("POST", "/api/v1/certificates/", { cert_name: "root", domain: "x.test" });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.json)).toContain("reserved");
  });

  test("renew signs a new leaf at once; the renewal sweep renews leaves with a third of their life left", async () => {
    const before = (await gw.apiAs(bob, "GET", "/api/v1/certificates/lab")).json;
    const renewed = await gw.apiAs(bob, "POST", "/api/v1/certificates/lab/renew");
    expect(renewed.status).toBe(200);
    expect(renewed.json.fullchain_pem).not.toBe(before.fullchain_pem);
    expect(renewed.json.issuer).toBe("local-ca");

    // Age one leaf to 2 days left (under a third of 7) and another to 5: the sweep re-signs only the first.
    const repo = new CertificateRepository(redis.client);
    const lab = (await repo.get("lab"))!;
    const mcp = (await repo.get("proxy-mcp-test"))!;
    const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();
    await repo.replace({ ...lab, expires_at: inDays(2) });
    await repo.replace({ ...mcp, expires_at: inDays(5) });
    // A second node's manager on the same Redis runs the sweep (any node may).
    const node = new CertificateManager({
      redis: redis.client,
      certificates: repo,
      proxies: new ProxyRepository(redis.client),
      settings: parseConfig({ LOCAL_CA_CERT_DAYS: "7" }).certificates,
      httpPort: 80,
      selfSignedDays: 30,
      adminEmail: null,
      log: pino({ level: "silent" }),
    });
    await redis.client.del(keys.renewalSweepLock);
    const swept = await node.sweepRenewals();
    expect(swept).toContain("lab");
    expect(swept).not.toContain("proxy-mcp-test");
    const after = (await repo.get("lab"))!;
    expect(after.fullchain_pem).not.toBe(lab.fullchain_pem);
    expect(Date.parse(after.expires_at!) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect((await repo.get("proxy-mcp-test"))!.fullchain_pem).toBe(mcp.fullchain_pem);
  });
});

describe("the root's export", () => {
  test("any token reads the same root; its key is never shown; without a token 401", async () => {
    const asAdmin = (await gw.api("GET", "/api/v1/certificates/root")).json;
    const asBob = await gw.apiAs(bob, "GET", "/api/v1/certificates/root");
    expect(asBob.status).toBe(200);
    expect(asBob.json).toEqual(asAdmin);
    expect(Object.keys(asAdmin).sort()).toEqual(["fingerprint_sha256", "not_after", "not_before", "pem", "subject"]);
    expect(JSON.stringify(asAdmin)).not.toContain("PRIVATE KEY");
    const root = new X509Certificate(asAdmin.pem);
    expect(root.ca).toBe(true);
    expect(root.fingerprint256).toBe(asAdmin.fingerprint_sha256);
    const anonymous = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/api/v1/certificates/root`);
    expect(anonymous.status).toBe(401);
  });

  test("portcullis cert root prints the PEM (table) or the object (--format json)", async () => {
    const session = cliSession(() => `http://127.0.0.1:${gw.gateway.apiPort}`, bob, home);
    const table = await session.cli("cert", "root");
    expect(table.code).toBe(0);
    expect(table.stdout).toBe((await rootPem()).trimEnd() + "\n");
    expect(table.stderr).toContain("SHA-256");
    const json = await session.json("cert", "root");
    expect(json.pem).toBe(await rootPem());
    expect(json.fingerprint_sha256).toBe(new X509Certificate(json.pem).fingerprint256);
    // cert list says who issued it.
    const list = await session.ok("cert", "list");
    expect(list).toMatch(/lab\s.*local CA/);
  });
});
