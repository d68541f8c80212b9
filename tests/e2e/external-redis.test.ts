/**
 * An external Redis (REDIS_URL): over TLS with a database index; missing at
 * start, or gone while the gateway runs — the gateway retries with backoff and
 * says so, never crashes, answers 503 meanwhile, and recovers by itself.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { ensureBinary, startGatewayProcess, tempDataDir } from "../helpers/gateway-process";
import { preChosenPort } from "../helpers/ports";

const PASSWORD = "outage-test-password";
const ADMIN = "acm_outage_admin_token_0123456789";

function startRedisOn(port: number) {
  return Bun.spawn(
    ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", PASSWORD, "--dir", tempDataDir()],
    { stdout: "ignore", stderr: "ignore" },
  );
}

beforeAll(() => ensureBinary(), 120_000);

/** A throwaway CA and a server certificate for 127.0.0.1, made with openssl. */
async function makeTlsFiles(dir: string) {
  const run = async (...args: string[]) => {
    const child = Bun.spawn(["openssl", ...args], { cwd: dir, stdout: "ignore", stderr: "pipe" });
    if ((await child.exited) !== 0) throw new Error(await new Response(child.stderr).text());
  };
  await run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.pem");
  await run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr");
  await Bun.write(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  await run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "server.pem");
  return { ca: join(dir, "ca.pem"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
}

describe("external redis", () => {
  test("rediss:// with a password and a database index", async () => {
    const dir = tempDataDir();
    const tls = await makeTlsFiles(dir);
    // redis-server cannot pick its own port (0 turns TCP off).
    const port = preChosenPort();
    const redis = Bun.spawn(
      ["redis-server", "--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--tls-cert-file", tls.cert, "--tls-key-file", tls.key,
        "--tls-ca-cert-file", tls.ca, "--tls-auth-clients", "no", "--requirepass", PASSWORD, "--save", "", "--dir", dir],
      { stdout: "ignore", stderr: "ignore" },
    );
    const gateway = await startGatewayProcess({
      dataDir: tempDataDir(),
      env: { REDIS_URL: `rediss://:${PASSWORD}@127.0.0.1:${port}/3`, ADMIN_TOKEN: ADMIN, NODE_EXTRA_CA_CERTS: tls.ca },
    });
    const probe = new Redis({ host: "127.0.0.1", port, password: PASSWORD, db: 3, tls: { ca: readFileSync(tls.ca) }, lazyConnect: true });
    try {
      await gateway.waitForHealthy();
      await probe.connect();
      expect(JSON.parse((await probe.get("token:admin"))!).role).toBe("admin");
      await probe.select(0);
      expect(await probe.exists("token:admin")).toBe(0);
    } finally {
      probe.disconnect();
      await gateway.stop();
      redis.kill("SIGKILL");
    }
  });


  test("unreachable at start: retries with logged backoff, then serves once it appears", async () => {
    // Nothing listens there until redis-server is started on it later in the test.
    const port = preChosenPort();
    const gateway = await startGatewayProcess({
      dataDir: tempDataDir(),
      env: { REDIS_URL: `redis://127.0.0.1:${port}/0`, REDIS_PASSWORD: PASSWORD, ADMIN_TOKEN: ADMIN },
    });
    let redis: ReturnType<typeof startRedisOn> | undefined;
    try {
      await gateway.waitForOutput(/"attempt":3,[^\n]*redis unreachable, retrying/);
      expect(gateway.child.exitCode).toBeNull();
      expect(gateway.output()).not.toContain(PASSWORD);
      expect(gateway.output()).toContain(`redis://127.0.0.1:${port}/0`);

      redis = startRedisOn(port);
      await gateway.waitForHealthy(20_000);
      const info = await fetch(`${gateway.apiUrl}/api/v1/tokens/info`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(((await info.json()) as any).name).toBe("admin");
    } finally {
      await gateway.stop();
      redis?.kill("SIGKILL");
    }
  });

  test("lost while running: 503 with a JSON error, then recovery without a restart", async () => {
    // redis-server comes back on the same port.
    const port = preChosenPort();
    let redis = startRedisOn(port);
    const gateway = await startGatewayProcess({
      dataDir: tempDataDir(),
      env: { REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${port}/0`, ADMIN_TOKEN: ADMIN },
    });
    try {
      await gateway.waitForHealthy();
      redis.kill("SIGKILL");
      await redis.exited;

      const health = await fetch(`${gateway.apiUrl}/health`);
      expect(health.status).toBe(503);
      expect((await health.json()) as any).toMatchObject({ status: "degraded", redis: "unreachable" });
      const tokens = await fetch(`${gateway.apiUrl}/api/v1/tokens/`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(tokens.status).toBe(503);
      expect((await tokens.json()) as any).toEqual({ error: "unavailable", detail: "storage is unreachable; retry shortly" });
      expect(gateway.child.exitCode).toBeNull();

      redis = startRedisOn(port);
      await gateway.waitForHealthy(20_000);
      // The data was in a non-persistent redis; the admin token is re-created on the next start only,
      // so an unknown bearer is 401 here, which proves the API talks to Redis again.
      const after = await fetch(`${gateway.apiUrl}/api/v1/tokens/`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(after.status).toBe(401);
    } finally {
      await gateway.stop();
      redis.kill("SIGKILL");
    }
  });

  test("redis-server missing for the embedded default: the error says how to install it", async () => {
    const gateway = await startGatewayProcess({ dataDir: tempDataDir(), env: { REDIS_SERVER_BIN: "/nonexistent/redis-server" } });
    expect(await gateway.child.exited).toBe(1);
    expect(gateway.output()).toContain("apt-get install redis-server");
    expect(gateway.output()).toContain("REDIS_URL");
  });
});
