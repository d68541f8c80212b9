/**
 * https backends: the certificate is verified (an untrusted one is a 502), a
 * handshake that never completes is a connect timeout, and a backend trusted
 * through NODE_EXTRA_CA_CERTS works (checked in a child process, since Bun
 * reads that variable at start-up).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../helpers/temp";
import { startGateway } from "./harness";

const dir = tempDir("proxies-tls");
const certPath = join(dir, "cert.pem");
const keyPath = join(dir, "key.pem");

async function makeCertificate(): Promise<void> {
  const child = Bun.spawn(
    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    { stdout: "ignore", stderr: "pipe" },
  );
  if ((await child.exited) !== 0) throw new Error(`openssl failed: ${await new Response(child.stderr).text()}`);
}

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function tlsBackend() {
  await makeCertificate();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: Bun.file(certPath), key: Bun.file(keyPath) },
    fetch: (request) => Response.json({ path: new URL(request.url).pathname, host: request.headers.get("host") }),
  });
  cleanups.push(() => server.stop(true));
  return server;
}

describe("https backends", () => {
  test("an untrusted certificate: 502, nothing forwarded", async () => {
    const backend = await tlsBackend();
    const gateway = startGateway(`https://127.0.0.1:${backend.port}`);
    cleanups.push(() => gateway.stop());
    const response = await fetch(gateway.url + "/secret");
    expect(response.status).toBe(502);
    expect(await response.text()).not.toContain(String(backend.port));
  });

  test("a TLS handshake that never completes: 504 after the connect timeout", async () => {
    // Accepts TCP and reads the ClientHello, never answers it.
    const mute = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    cleanups.push(() => mute.stop(true));
    const gateway = startGateway(`https://127.0.0.1:${mute.port}`, { options: { connectTimeoutMs: 300, requestTimeoutMs: 5_000 } });
    cleanups.push(() => gateway.stop());
    const started = Date.now();
    const response = await fetch(gateway.url + "/");
    expect(response.status).toBe(504);
    expect(((await response.json()) as { detail: string }).detail).toBe("the upstream service did not accept the connection in time");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test("a certificate trusted through NODE_EXTRA_CA_CERTS: forwarded, SNI and Host from the target", async () => {
    const backend = await tlsBackend();
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/gateway-child.ts")], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath, TARGET: `https://localhost:${backend.port}/base` },
      stdout: "pipe",
      stderr: "inherit",
    });
    cleanups.push(async () => {
      child.kill("SIGTERM");
      await child.exited;
    });
    const reader = child.stdout.getReader();
    let output = "";
    for (let i = 0; i < 50 && !/listening (\d+)/.test(output); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      output += new TextDecoder().decode(value);
    }
    const port = /listening (\d+)/.exec(output)?.[1];
    expect(port).toBeDefined();
    const response = await fetch(`http://127.0.0.1:${port}/hello`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ path: "/base/hello", host: `localhost:${backend.port}` });
  }, 15_000);
});
