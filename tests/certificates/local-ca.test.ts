/**
 * The local CA against real Redis: one root per cluster however many nodes
 * claim it at once, and leaves that a client trusting only that root accepts
 * for their names (DNS, wildcard, IPv4) and for no other name.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { LocalCa } from "../../src/certificates/local-ca";
import { keys } from "../../src/storage/keys";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** Serves `cert`/`key` over TLS and connects with Bun's fetch trusting only `ca`, for `host`. */
async function verifiedBy(ca: string, issued: { fullchain_pem: string; private_key_pem: string }, host: string): Promise<string> {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert: issued.fullchain_pem, key: issued.private_key_pem }, fetch: () => new Response("ok") });
  try {
    // Connect to 127.0.0.1 but check the certificate against `host`.
    const res = await fetch(`https://127.0.0.1:${server.port}/`, { tls: { ca, serverName: host, checkServerIdentity: undefined } as any });
    return await res.text();
  } catch (err) {
    return `refused: ${(err as Error).message}`;
  } finally {
    server.stop(true);
  }
}

describe("LocalCa", () => {
  test("nodes claiming at the same time end up with one root, stored once in Redis", async () => {
    await redis.client.del(keys.localCa);
    const nodes = Array.from({ length: 4 }, () => new LocalCa(redis.client));
    const roots = await Promise.all(nodes.map((n) => n.root()));
    expect(new Set(roots.map((r) => r.fingerprint_sha256)).size).toBe(1);
    const stored = JSON.parse((await redis.client.get(keys.localCa))!);
    expect(new X509Certificate(stored.root_pem).fingerprint256).toBe(roots[0]!.fingerprint_sha256);
    const root = new X509Certificate(roots[0]!.pem);
    expect(root.ca).toBe(true);
    expect(root.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    // Long-lived: about ten years.
    expect(Date.parse(root.validTo) - Date.now()).toBeGreaterThan(9 * 365 * 86_400_000);
    // What the API shows of the root never includes its key.
    expect(JSON.stringify(roots[0])).not.toContain("PRIVATE KEY");
  });

  test("a leaf is short-lived, signed by the root, and verified for its names only by a client trusting just the root", async () => {
    const ca = new LocalCa(redis.client);
    const root = await ca.root();
    const issued = await ca.sign(["mcp.test", "*.apps.internal", "127.0.0.1"], 7);
    const leaf = new X509Certificate(issued.fullchain_pem);
    expect(leaf.verify(new X509Certificate(root.pem).publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.subjectAltName).toBe("DNS:mcp.test, DNS:*.apps.internal, IP Address:127.0.0.1");
    expect(Date.parse(issued.expires_at)).toBe(Date.parse(leaf.validTo));
    const lifetime = Date.parse(leaf.validTo) - Date.now();
    expect(lifetime).toBeGreaterThan(6.9 * 86_400_000);
    expect(lifetime).toBeLessThanOrEqual(7 * 86_400_000);

    const pem = root.pem;
    expect(await verifiedBy(pem, issued, "mcp.test")).toBe("ok");
    expect(await verifiedBy(pem, issued, "x.apps.internal")).toBe("ok");
    expect(await verifiedBy(pem, issued, "other.test")).toStartWith("refused");
    // Another CA's root does not vouch for it.
    await redis.client.del(keys.localCa);
    const otherRoot = await new LocalCa(redis.client).root();
    expect(otherRoot.fingerprint_sha256).not.toBe(root.fingerprint_sha256);
    expect(await verifiedBy(otherRoot.pem, issued, "mcp.test")).toStartWith("refused");
  });
});
